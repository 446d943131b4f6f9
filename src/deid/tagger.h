/* tagger.h - finding PHI in clinical text.
 *
 * The tagger finds every span of text that HIPAA counts as an identifier: names (patients,
 * relatives, clinicians), dates, ages over 89, phone and fax numbers, emails, SSNs, medical
 * record and other record/account/plan/licence/device numbers, URLs, IP addresses, street
 * addresses, cities and other places smaller than a state, ZIP codes, and hospital and clinic
 * names.  It combines patterns, context cues ("Dr.", "MRN:", "lives in") and dictionaries
 * (public name and place lists installed from Debian packages at build time), with allow-lists
 * so that drugs, diseases, anatomy and eponyms (Parkinson, Crohn) are not taken for names.
 *
 * Record-aware: a context (struct mf_deid_context) carries the identifiers already known from
 * the patient's structured record (names, MRN, address, phone, birth date); the tagger finds
 * each of them in the text in any spelling variant (case, initials, "Last, First", digits
 * with other separators, the birth date in any date format).
 *
 * Thread safety: a lexicon is read-only once loaded and may be shared by threads; a tagger
 * (scratch space) and a context belong to one thread at a time.
 */
#ifndef MF_DEID_TAGGER_H
#define MF_DEID_TAGGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* PHI categories.  Names and order are stable: they appear in JSON, in redacted text
 * ("[NAME]") and in the synthetic cohort's truth/phi.ndjson. */
enum mf_deid_cat {
    MF_DEID_NAME,     /* people: patients, relatives, clinicians */
    MF_DEID_DATE,     /* dates and date parts finer than a year, in any format */
    MF_DEID_AGE,      /* ages over 89 */
    MF_DEID_PHONE,    /* telephone numbers */
    MF_DEID_FAX,      /* fax numbers */
    MF_DEID_EMAIL,    /* email addresses */
    MF_DEID_SSN,      /* social security numbers */
    MF_DEID_MRN,      /* medical record numbers */
    MF_DEID_ID,       /* other record, account, plan, licence, certificate, device numbers */
    MF_DEID_ADDRESS,  /* street addresses */
    MF_DEID_ZIP,      /* ZIP and postal codes */
    MF_DEID_CITY,     /* cities, counties and other places smaller than a state */
    MF_DEID_HOSPITAL, /* hospital, clinic and other care-site names */
    MF_DEID_URL,      /* web addresses and domain names */
    MF_DEID_IP,       /* IP addresses */
    MF_DEID__NCAT
};

/* "NAME", "DATE", ...; "UNKNOWN" out of range. */
const char *mf_deid_cat_name(enum mf_deid_cat c);
/* The category of a name (exact, upper case); 0 or MF_EINVAL. */
int mf_deid_cat_parse(const char *s, size_t n, enum mf_deid_cat *out);

/* One span of PHI: bytes [start, end) of the text. */
struct mf_deid_entity {
    size_t start, end;
    enum mf_deid_cat cat;
    float confidence; /* 0..1 */
};

/* A growable list; zero-initialise, reuse across calls, free with mf_deid_entities_free. */
struct mf_deid_entities {
    struct mf_deid_entity *v;
    size_t n, cap;
};
void mf_deid_entities_free(struct mf_deid_entities *e);

/* --- dictionaries ------------------------------------------------------------------------ */

struct mf_deid_lexicon;

/* Load the dictionaries from dir (NULL: mf_data_dir("deid/lexicon")).  A missing or
 * malformed file is an error that names it. */
int mf_deid_lexicon_load(const char *dir, struct mf_deid_lexicon **out, struct mf_err *err);
void mf_deid_lexicon_free(struct mf_deid_lexicon *lex);

/* Lists that surrogates are drawn from. */
enum mf_deid_list {
    MF_DEID_LIST_GIVEN_FEMALE,
    MF_DEID_LIST_GIVEN_MALE,
    MF_DEID_LIST_FAMILY,
    MF_DEID_LIST_CITY,
    MF_DEID_LIST_STREET, /* street names without number or suffix, e.g. "Maple" */
    MF_DEID_LIST_STREET_SUFFIX,
    MF_DEID_LIST__COUNT
};
/* Entry h % size of list l (never NULL for a loaded lexicon; *len set). */
const char *mf_deid_lexicon_pick(const struct mf_deid_lexicon *lex, enum mf_deid_list l, uint64_t h,
                                 size_t *len);
/* Whether a word (any case) is a known given name: 0 no, 1 female, 2 male, 3 both. */
int mf_deid_lexicon_given_sex(const struct mf_deid_lexicon *lex, const char *s, size_t n);

/* --- the record's own identifiers ---------------------------------------------------------- */

struct mf_deid_context;

struct mf_deid_context *mf_deid_context_new(void);
void mf_deid_context_free(struct mf_deid_context *c);
void mf_deid_context_clear(struct mf_deid_context *c);
/* Add one known identifier value of a category (a full name, a given or family name, an MRN,
 * an address line, a city, a ZIP, a phone number, a birth date "YYYY-MM-DD"...).  Values
 * shorter than 2 characters are ignored.  0 or MF_ENOMEM. */
int mf_deid_context_add(struct mf_deid_context *c, enum mf_deid_cat cat, const char *s, size_t n);
/* Add every identifier of a FHIR Patient (or RelatedPerson, Practitioner) resource: names
 * (given, family, prefix-free), identifier values, telecom values, address lines, city,
 * district, postal code, birth date, and contacts' names and telecom.  0 or MF_ENOMEM. */
int mf_deid_context_add_fhir(struct mf_deid_context *c, const struct cJSON *resource);
/* Whether a word (any case) is one of the context's name words (a given or family name). */
int mf_deid_context_has_word(const struct mf_deid_context *c, const char *s, size_t n);
/* Number of values held (for tests and progress). */
size_t mf_deid_context_size(const struct mf_deid_context *c);

/* --- tagging ------------------------------------------------------------------------------- */

struct mf_deid_tagger;

/* A tagger (scratch space) over a loaded lexicon, which must outlive it. */
struct mf_deid_tagger *mf_deid_tagger_new(const struct mf_deid_lexicon *lex);
void mf_deid_tagger_free(struct mf_deid_tagger *t);

/* Find the PHI in text[0..n) (UTF-8; invalid bytes are tolerated and never split).  ctx may
 * be NULL.  out is replaced by the entities, sorted by start, never overlapping.  0, or
 * MF_ENOMEM / MF_ETOOBIG (text over 64 MiB). */
int mf_deid_tag(struct mf_deid_tagger *t, const struct mf_deid_context *ctx, const char *text,
                size_t n, struct mf_deid_entities *out, struct mf_err *err);

#endif
