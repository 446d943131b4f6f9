/* deid.h - de-identification: secret keys, keyed pseudonyms and date shifts, and the event
 * de-identifier that ingest runs on every event before it reaches the store.
 *
 * A key is 32 random bytes kept in a file only its owner can read.  From it:
 *   - a patient's pseudonym is HMAC-SHA256(key, "subject\0" + source id), 32 hex digits: the
 *     same id gives the same pseudonym under the same key (linkage across runs), and ids under
 *     another key are unlinkable;
 *   - a patient's date shift is a whole number of days in [-365, -1] u [1, 365], from
 *     HMAC-SHA256(key, "shift\0" + source id): one shift per patient for every file and
 *     resource, so intervals within a patient are exact.
 *
 * The event de-identifier (mf_deid_event_hook) replaces the subject by its pseudonym, shifts
 * every time, and keeps a text value only when it is code-shaped ("SNOMED/266919005", a coded
 * observation value); other text is dropped (MIMIC-IV).  mf_deid_event_hook_text keeps text:
 * FHIR ingest runs the text de-identifier on every resource first (fhirdeid.h).  Structured
 * identifiers (names, addresses, telecom, identifiers) never become events in the first place;
 * the ZIP code only as its Safe Harbor three digits.
 */
#ifndef MF_DEID_DEID_H
#define MF_DEID_DEID_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "store/event.h"

#define MF_DEID_KEY_BYTES 32

struct mf_deid_key {
    uint8_t bytes[MF_DEID_KEY_BYTES];
};

/* Write a new random key to path (hex, mode 0600).  An existing file is never overwritten. */
int mf_deid_key_generate(const char *path, struct mf_err *err);
/* Read a key.  Refuses a missing file, a file that group or others can read or write, and a
 * file that is not exactly 64 hex digits (plus an optional newline). */
int mf_deid_key_load(const char *path, struct mf_deid_key *key, struct mf_err *err);

/* The keyed pseudonym of a source id: 32 lowercase hex digits and a NUL. */
void mf_deid_pseudonym(const struct mf_deid_key *key, const char *id, size_t n, char out[33]);
/* The patient's date shift in microseconds (whole days, never 0). */
int64_t mf_deid_shift(const struct mf_deid_key *key, const char *id, size_t n);

/* Whether a text value is code-shaped (VOCAB/CODE, no spaces, at most 64 bytes) and so kept. */
int mf_deid_text_is_code(const char *s, size_t n);

/* The event hook for struct mf_ingest_deid: ctx is a const struct mf_deid_key *.  Rewrites
 * ev in place, pointing its subject at scratch. */
int mf_deid_event_hook(void *ctx, struct mf_event *ev, struct mf_buf *scratch, struct mf_err *err);

/* The same, keeping every text value: for sources whose free text was already de-identified
 * (FHIR ingest runs the text de-identifier on each resource before mapping it). */
int mf_deid_event_hook_text(void *ctx, struct mf_event *ev, struct mf_buf *scratch,
                            struct mf_err *err);

/* A short description of the event de-identification rules; its SHA-256 is recorded in the
 * store's manifest as the configuration hash. */
const char *mf_deid_event_profile(void);

#endif
