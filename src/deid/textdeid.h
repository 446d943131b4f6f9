/* textdeid.h - de-identified text: redaction, surrogates, and the JSON of tagged spans.
 *
 * Given the entities the tagger found (tagger.h), a text is rewritten in one of three modes:
 *   tag        nothing is rewritten; the entities are printed as JSON (mf_deid_entities_json);
 *   redact     each span becomes "[CATEGORY]", e.g. "[NAME]";
 *   surrogate  each span becomes a realistic, format-preserving fake: a name for a name (same
 *              shape: initials stay initials, "Last, First" stays so, case kept), a date moved
 *              by the patient's date shift and printed in the same format, digits replaced by
 *              digits with separators kept, an email for an email, and so on.  The same value
 *              of the same patient gets the same surrogate everywhere (keyed HMAC of key,
 *              patient id, category and the value's normalised form), so a name repeated in
 *              a note, or across notes, stays one person; another key gives other surrogates.
 *              Ages over 89 become "90".
 */
#ifndef MF_DEID_TEXTDEID_H
#define MF_DEID_TEXTDEID_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "deid/deid.h"
#include "deid/tagger.h"

enum mf_deid_text_mode { MF_DEID_MODE_TAG, MF_DEID_MODE_REDACT, MF_DEID_MODE_SURROGATE };

/* "tag", "redact", "surrogate"; 0 or MF_EINVAL. */
int mf_deid_text_mode_parse(const char *s, enum mf_deid_text_mode *out);

/* Whose text it is: surrogates and date shifts are keyed on the source patient id (id NULL or
 * empty: text that belongs to no known patient, still keyed).  shift is that patient's date
 * shift in microseconds (mf_deid_shift). */
struct mf_deid_subject {
    const struct mf_deid_key *key;
    const char *id;
    size_t id_len;
    int64_t shift;
};

/* Append text[0..n) to out with every entity replaced (mode redact or surrogate; ents sorted
 * and non-overlapping as mf_deid_tag returns them).  lex gives the surrogate names and places.
 * 0, or MF_ENOMEM / MF_EINVAL. */
int mf_deid_text_rewrite(const struct mf_deid_lexicon *lex, const struct mf_deid_subject *subj,
                         enum mf_deid_text_mode mode, const char *text, size_t n,
                         const struct mf_deid_entities *ents, struct mf_buf *out,
                         struct mf_err *err);

/* Append {"entities":[{"category","start","end","start_cp","end_cp","text","confidence"}]}
 * for text[0..n): start/end are byte offsets, start_cp/end_cp code-point offsets. */
int mf_deid_entities_json(const char *text, size_t n, const struct mf_deid_entities *ents,
                          struct mf_buf *out);

/* Everything in one call, for callers holding one tagger per thread: tag text with ctx as the
 * record's identifiers and append the rewritten text (mode redact or surrogate) to out. */
int mf_deid_text_apply(struct mf_deid_tagger *t, const struct mf_deid_lexicon *lex,
                       const struct mf_deid_context *ctx, const struct mf_deid_subject *subj,
                       enum mf_deid_text_mode mode, const char *text, size_t n,
                       struct mf_deid_entities *scratch, struct mf_buf *out, struct mf_err *err);

/* Shift the date written in s[0..n) by shift_days whole days and append it to out in the same
 * format: 2024-03-05, 03/05/2024, 3/5/24, 20240305, March 5, 2024, Mar. 5th 2024, 5 March 2024,
 * 05-Mar-2024, Tuesday, March 5, 2024 (weekday recomputed), March 5 (no year), and month-only
 * March 2024, Mar-2024, 03/2024, 2024-03 (the 15th is shifted, month and year printed); a time
 * of day after the date is copied.  Same separators, zero padding, month name or abbreviation,
 * case and two- or four-digit year.  0, MF_EPARSE when s is no date in a known format (nothing
 * appended) or MF_ENOMEM. */
int mf_deid_date_shift_text(const char *s, size_t n, int64_t shift_days, struct mf_buf *out);

#endif
