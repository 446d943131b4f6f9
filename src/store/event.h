/* event.h - the one event model every source maps to (MEDS).
 *
 * An event is (subject_id, time, code, numeric_value, text_value) plus the unit of the numeric
 * value.  Codes are "VOCAB/CODE" (SNOMED/44054006, LOINC/4548-4, RxNorm/860975,
 * ICD10CM/E11.9) or MEDS's reserved MEDS_BIRTH and MEDS_DEATH.  Static facts (sex, race,
 * ethnicity) have time MF_TIME_NONE.  Strings are borrowed: whoever receives an event copies
 * what it keeps.
 */
#ifndef MF_STORE_EVENT_H
#define MF_STORE_EVENT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/timeutil.h"

#define MF_CODE_BIRTH "MEDS_BIRTH"
#define MF_CODE_DEATH "MEDS_DEATH"

/* Hard limits on one event's strings; longer ones are bad input. */
#define MF_MAX_SUBJECT_LEN 256
#define MF_MAX_CODE_LEN    512
#define MF_MAX_UNIT_LEN    128
#define MF_MAX_TEXT_LEN    (16u << 20)

struct mf_event {
    const char *subject; /* source patient id, not NUL-terminated necessarily */
    size_t subject_len;
    int64_t time; /* microseconds since the epoch, UTC; MF_TIME_NONE for static facts */
    const char *code;
    size_t code_len;
    double value;     /* NAN when there is no numeric value */
    const char *unit; /* NULL or unit_len 0 when none */
    size_t unit_len;
    const char *text; /* NULL or text_len 0 when none */
    size_t text_len;
};

/* An event with strings from C strings; unit and text may be NULL. */
static inline struct mf_event mf_event_make(const char *subject, int64_t time, const char *code,
                                            double value, const char *unit, const char *text)
{
    struct mf_event e;
    e.subject = subject;
    e.subject_len = subject ? __builtin_strlen(subject) : 0;
    e.time = time;
    e.code = code;
    e.code_len = code ? __builtin_strlen(code) : 0;
    e.value = value;
    e.unit = unit;
    e.unit_len = unit ? __builtin_strlen(unit) : 0;
    e.text = text;
    e.text_len = text ? __builtin_strlen(text) : 0;
    return e;
}

#endif
