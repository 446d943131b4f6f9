/* rules.h - structured de-identification of FHIR resources by rules written as data.
 *
 * A rule set is JSON, in the spirit of Microsoft's FHIR anonymizer:
 *
 *   {"name": "safe-harbor", "version": 1,
 *    "rules": [
 *      {"path": "Patient.gender", "method": "keep"},
 *      {"type": "HumanName", "method": "redact"},
 *      {"path": "Patient.address.postalCode", "method": "generalize", "to": "zip3"},
 *      {"type": "date", "method": "dateshift"},
 *      {"path": "Observation.valueQuantity.value", "method": "perturb", "span": 0.05,
 *       "range_type": "proportional"},
 *      {"type": "string", "path": "Observation.valueString", "method": "text"}, ...]}
 *
 * Selectors: "path" (a FHIR path: ResourceType.element.element, "Resource." for any type;
 * array elements are addressed without indices) and/or "type" (a FHIR data type: HumanName,
 * Address, ContactPoint, Identifier, Reference, Narrative, Annotation, Attachment, date,
 * dateTime, instant, id, string, markdown, ...).  Rules apply in order; the first rule that
 * matches a node decides it, so an earlier "keep" shields the node (and everything under it)
 * from later rules.  Nodes that no rule matches are kept.
 *
 * Methods:
 *   keep        leave the node as it is;
 *   redact      remove the node (dates: "keep_year": true keeps the year only);
 *   dateshift   move date/dateTime/instant by the patient's shift, keeping the precision
 *               (a year-only date stays year-only);
 *   cryptohash  replace by the keyed HMAC pseudonym (ids, identifier values, references:
 *               "Patient/ID" -> "Patient/PSEUDONYM", "urn:uuid:ID" -> "urn:uuid:" +
 *               pseudonym as a UUID, so references still resolve);
 *   substitute  replace by "value" (a JSON value given in the rule);
 *   generalize  coarser value: "to": "year" | "month" (dates), "zip3" (postal codes: first
 *               three digits, "000" for restricted areas; see zip3.h);
 *   perturb     add keyed noise to a number: "span" with "range_type" "fixed" (± span) or
 *               "proportional" (± span × value), "round_to" decimal places;
 *   text        run the free text through text de-identification (the callback in struct
 *               mf_deid_apply; an Attachment whose contentType is text (text/plain...) has its
 * base64 data decoded, de-identified and encoded again).
 *
 * Two profiles ship in data/deid/profiles/: safe-harbor.json (the default) and
 * limited-data-set.json; docs/deid-rules.md maps them to the 18 Safe Harbor identifiers.
 */
#ifndef MF_DEID_RULES_H
#define MF_DEID_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "deid/deid.h"

struct cJSON;
struct mf_deid_rules;

/* Parse a rule set; origin names it in errors ("rules.json: rule 3: unknown method 'x'"). */
int mf_deid_rules_parse(const char *json, size_t n, const char *origin, struct mf_deid_rules **out,
                        struct mf_err *err);
/* Load a shipped profile by name ("safe-harbor", "limited-data-set") from
 * mf_data_dir("deid/profiles"), or a rule file by path (anything containing '/' or ending in
 * ".json"). */
int mf_deid_rules_load(const char *name_or_path, struct mf_deid_rules **out, struct mf_err *err);
void mf_deid_rules_free(struct mf_deid_rules *r);
/* The rule set's name and the SHA-256 (64 hex) of its JSON text as loaded. */
const char *mf_deid_rules_name(const struct mf_deid_rules *r);
const char *mf_deid_rules_sha256(const struct mf_deid_rules *r);

/* What applying rules to one resource needs. */
struct mf_deid_apply {
    const struct mf_deid_key *key;
    int64_t shift; /* the resource's patient's date shift, µs (whole days) */
    /* Free-text de-identification for method "text": append the de-identified form of
     * in[0..n) to out.  NULL: such text is removed. */
    int (*text)(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err);
    void *text_arg;
    /* Apply only the rules whose method is "text" (every other node is left as it is): for
     * ingest, whose event de-identifier already replaces ids and shifts every time.  The
     * rule order still decides, so a "keep" before a "text" rule still shields its node. */
    int only_text;
};

/* Apply the rules to one resource in place (a Bundle's entries are handled by the caller, one
 * resource at a time; an entry's fullUrl is rewritten with mf_deid_rules_reference).  Errors
 * name the FHIR path of the node, never its value. */
int mf_deid_rules_apply(const struct mf_deid_rules *r, const struct mf_deid_apply *a,
                        struct cJSON *resource, struct mf_err *err);

/* The pseudonymised form of a reference or fullUrl ("Patient/ID", "urn:uuid:ID",
 * "https://host/fhir/Patient/ID", "Practitioner?identifier=SYSTEM|VALUE"), appended to out. */
int mf_deid_rules_reference(const struct mf_deid_key *key, const char *ref, size_t n,
                            struct mf_buf *out);

#endif
