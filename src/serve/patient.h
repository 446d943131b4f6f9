/* patient.h - a request's patients: a FHIR Bundle (what $everything returns, or a Synthea
 * transaction Bundle), a single FHIR resource, or events JSON, made into an in-memory store.
 *
 * Events JSON (MEDS field names):
 *     {"subject_id": "p1", "events": [{"time": "2020-01-02T03:04:05Z", "code": "SNOMED/44054006",
 *       "numeric_value": 7.1, "unit": "%", "text_value": "..."}, ...]}
 * either as the body itself, as its "patient" member, or as items of its "patients" array.
 * "time" null or absent: a static fact (GENDER/FEMALE, ...).  Other members of the body
 * (tasks, samples, ...) are the route's.
 */
#ifndef MF_SERVE_PATIENT_H
#define MF_SERVE_PATIENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;
struct mf_store;
struct mf_serve_limits;

struct mf_patients {
    struct mf_store *store; /* in memory; one shard */
    size_t n;               /* patients */
    int64_t events;
    int64_t skipped; /* FHIR resources left out as bad input (unknown code systems, ...) */
    int fhir;        /* the body was FHIR */
};

/* The depth of a parsed JSON tree (1 for a scalar). */
int mf_json_depth(const struct cJSON *j, int stop);

/* root: the parsed body; text: its bytes (the FHIR reader parses them again).  MF_EPARSE (err
 * names the JSON path) for malformed input, MF_ETOOBIG over a limit, MF_EINVAL for a body with no
 * patient or no events. */
int mf_patients_parse(const struct cJSON *root, const char *text, size_t len,
                      const struct mf_serve_limits *lim, struct mf_patients *out,
                      struct mf_err *err);
void mf_patients_free(struct mf_patients *p);

#endif
