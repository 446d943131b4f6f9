/* token.h - the tokenizer: patient timelines of an event store as model tokens.
 *
 * A vocabulary is fitted on the training split of a store and saved with the model as
 * vocab.json.  A timeline becomes:
 *
 *     static prefix   GENDER/<value>, AGE/<band> (age at the window's first event, 5-year bands,
 *                     AGE/90+), and with use_race also RACE/<value> and ETHNICITY/<value>
 *     body            one token per event code (in time order), a decile token Q1..Q10 after
 *                     each numeric value of a code with fitted cut points, a time-gap token
 *                     between events further apart than 5 minutes (TIME/6mo repeated for long
 *                     gaps), TIMELINE_END after the last event
 *
 * Codes seen fewer than min_count times in the training split fold into their vocabulary's
 * "<VOCAB>/<rare>" token; a vocabulary never seen in training gives UNK.  Static facts other
 * than the prefix ones (ZIP3, ...) and MEDS_BIRTH (the age tokens carry it) are not tokens.
 *
 * Splits: a patient's split is a keyless hash of its id (SHA-256 of "medfm-split-v1\0" + id,
 * its first 8 bytes as a big-endian integer over 2^64), compared with the tuning and held-out
 * fractions; the names are MEDS's (train, tuning, held_out).
 */
#ifndef MF_TOKEN_TOKEN_H
#define MF_TOKEN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

enum mf_split { MF_SPLIT_TRAIN = 0, MF_SPLIT_TUNING = 1, MF_SPLIT_HELD_OUT = 2 };

/* "train", "tuning", "held_out" */
const char *mf_split_name(enum mf_split s);
/* Parse a split name; -1 when unknown. */
int mf_split_parse(const char *name);

struct mf_tok_opts {
    uint32_t min_count;   /* 0: 5 */
    int use_race;         /* race and ethnicity tokens in the prefix (off by default) */
    double tuning_frac;   /* < 0: 0.1 */
    double held_out_frac; /* < 0: 0.1 */
};
#define MF_TOK_OPTS_DEFAULT                                                                        \
    {                                                                                              \
        0, 0, -1, -1                                                                               \
    }

/* Token kinds, as vocab.json names them. */
enum mf_tok_kind {
    MF_TOK_SPECIAL, /* TIMELINE_END, UNK */
    MF_TOK_PREFIX,  /* GENDER/..., AGE/..., RACE/..., ETHNICITY/... */
    MF_TOK_TIME,    /* TIME/... */
    MF_TOK_QUANTILE,
    MF_TOK_CODE
};

/* Fixed ids */
#define MF_TOK_TIMELINE_END 0u
#define MF_TOK_UNK          1u

struct mf_vocab;

/* Fit on the store's training-split patients.  Progress is reported on stderr when long. */
int mf_vocab_fit(const struct mf_store *s, const struct mf_tok_opts *o, struct mf_vocab **out,
                 struct mf_err *err);
/* vocab.json: written atomically. */
int mf_vocab_save(const struct mf_vocab *v, const char *path, struct mf_err *err);
/* Read and validate vocab.json (errors name the file and the JSON path). */
int mf_vocab_load(const char *path, struct mf_vocab **out, struct mf_err *err);
/* The same from a parsed vocab.json (name is used in errors). */
struct cJSON;
int mf_vocab_from_json(const struct cJSON *root, const char *name, struct mf_vocab **out,
                       struct mf_err *err);
void mf_vocab_free(struct mf_vocab *v);

uint32_t mf_vocab_size(const struct mf_vocab *v);
/* The token's text (NUL-terminated), or NULL when id is out of range. */
const char *mf_vocab_token(const struct mf_vocab *v, uint32_t id);
enum mf_tok_kind mf_vocab_kind(const struct mf_vocab *v, uint32_t id);
/* The id of a token's text, or -1. */
int64_t mf_vocab_id(const struct mf_vocab *v, const char *tok, size_t n);
/* A time token's duration in microseconds (the lower edge of its band; 0 for other tokens):
 * the sum over a sampled future's time tokens bounds its elapsed time from below. */
int64_t mf_vocab_duration(const struct mf_vocab *v, uint32_t id);
/* The time tokens of a gap between two events (none under 5 minutes; TIME/6mo repeated for
 * long gaps), as mf_tokenize writes them: returns how many; writes them only when cap is at
 * least that. */
size_t mf_vocab_gap_tokens(const struct mf_vocab *v, int64_t gap, uint32_t *out, size_t cap);
/* The patient's split under this vocabulary's rule. */
enum mf_split mf_vocab_split(const struct mf_vocab *v, const char *subject, size_t n);
/* The largest number of prefix tokens (for window sizing). */
size_t mf_vocab_prefix_max(const struct mf_vocab *v);

/* One tokenized timeline.  time[i] is the time of the event that gave token i (for a time
 * token, the time of the event after the gap; for TIMELINE_END the last event's time). */
struct mf_tokens {
    uint32_t *tok;
    int64_t *time;
    size_t n, cap;
    int64_t birth;          /* INT64_MIN when the store has no MEDS_BIRTH */
    uint32_t static_tok[4]; /* GENDER, RACE, ETHNICITY tokens (UINT32_MAX: absent) */
    size_t n_static;
};

/* Tokenize a timeline of the store (the store the vocabulary was fitted on or another: codes
 * are matched by text).  Reuses out's arrays (start from a zeroed struct).  out->tok holds the
 * body only (the prefix depends on the window: mf_tokens_prefix); static_tok[0..2] are the
 * GENDER, RACE and ETHNICITY tokens (UNK for a value unseen in training, UINT32_MAX when the
 * patient has none, or for race and ethnicity without use_race), n_static is 3 (slots in use).  The
 * first call with a store maps its code ids to tokens and caches the map in the vocabulary
 * (thread-safe; later calls take no lock). */
int mf_tokenize(const struct mf_vocab *v, const struct mf_store *s, const struct mf_timeline *t,
                struct mf_tokens *out, struct mf_err *err);
/* The same without the vocabulary's cache: the store's code map is built for this call and
 * dropped.  For short-lived stores (one request's patient), which must not pile up in the
 * cache. */
int mf_tokenize_unbound(const struct mf_vocab *v, const struct mf_store *s,
                        const struct mf_timeline *t, struct mf_tokens *out, struct mf_err *err);
/* The static prefix for a window whose first event is at time `at`: writes at most
 * mf_vocab_prefix_max(v) ids into out and returns how many. */
size_t mf_tokens_prefix(const struct mf_vocab *v, const struct mf_tokens *t, int64_t at,
                        uint32_t *out);
void mf_tokens_free(struct mf_tokens *t);

/* Build the code map of store s now rather than on the first mf_tokenize (optional). */
int mf_vocab_bind(const struct mf_vocab *v, const struct mf_store *s, struct mf_err *err);
/* Drop the code map of s: call before closing a store when the vocabulary outlives it (a store
 * opened later at the same address could otherwise meet a stale map).  Not while another
 * thread tokenizes with s. */
void mf_vocab_unbind(const struct mf_vocab *v, const struct mf_store *s);

#endif
