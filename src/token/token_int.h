/* token_int.h - the tokenizer's internals shared by vocab.c and tokenize.c (not an API). */
#ifndef MF_TOKEN_TOKEN_INT_H
#define MF_TOKEN_TOKEN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/strmap.h"
#include "token/token.h"

#define MF_TOK_NBANDS 13 /* time-gap bands, the last (TIME/6mo) repeated */
#define MF_TOK_NAGES  19 /* AGE/0-4 ... AGE/85-89, AGE/90+ */
#define MF_TOK_NQ     10
#define MF_TOK_NCUTS  9

#define MF_TOK_SPLIT_SALT "medfm-split-v1"
#define MF_TOK_RARE       "<rare>"

#define MF_TOK_MIN_MINUTES (INT64_C(5) * 60 * 1000000) /* gaps shorter than this: no token */

struct mf_tok_band {
    const char *text;
    int64_t lo_us;
};
extern const struct mf_tok_band mf_tok_bands[MF_TOK_NBANDS];
/* "AGE/0-4" ... "AGE/90+" */
extern const char *const mf_tok_age_text[MF_TOK_NAGES];

/* What a store code does in a timeline. */
enum { CAT_OTHER = 0, CAT_BIRTH, CAT_GENDER, CAT_RACE, CAT_ETHNICITY };

struct mf_tok_code {
    uint32_t tok;  /* token of a timed event of this code */
    uint32_t stat; /* prefix token of a static fact of this code (UINT32_MAX: none) */
    uint32_t cut;  /* index of its cut points in the vocabulary (UINT32_MAX: no deciles) */
    uint32_t cat;
};

/* The map from one store's code ids to tokens, built once per (vocabulary, store). */
struct mf_tok_bind {
    struct mf_tok_bind *next;
    const struct mf_store *store;
    const void *manifest, *code0, *code_last; /* fingerprint against a reused address */
    uint32_t n_codes;
    struct mf_tok_code *map;
};

struct mf_vocab {
    uint32_t n, cap;
    struct mf_buf text; /* the tokens' texts, each NUL-terminated */
    uint64_t *text_off;
    uint8_t *kind;
    uint8_t *rare;
    uint64_t *count;
    uint32_t *cut_of; /* per token: index into cuts (times 9), UINT32_MAX: none */
    double *cuts;
    uint32_t n_cuts, cap_cuts;
    struct mf_strmap ids;

    uint32_t min_count;
    int use_race;
    double tuning_frac, held_out_frac;

    uint32_t age_tok[MF_TOK_NAGES], time_tok[MF_TOK_NBANDS], q_tok[MF_TOK_NQ];

    /* where it was fitted (lineage only) */
    uint64_t fit_patients[3], fit_events;
    char store_sha[65];

    pthread_mutex_t mu;
    _Atomic(struct mf_tok_bind *) binds;
};

struct mf_vocab *mf_vocab_new(void);
/* Append a token; its id is the old size.  MF_EEXIST when the text is taken. */
int mf_vocab_push(struct mf_vocab *v, const char *text, size_t n, enum mf_tok_kind kind,
                  uint64_t count, int rare, uint32_t *id);
/* Attach 9 cut points to token id. */
int mf_vocab_set_cuts(struct mf_vocab *v, uint32_t id, const double *cuts);
/* Find the fixed tokens (ages, time bands, deciles); MF_EINVAL naming the missing one. */
int mf_vocab_finish(struct mf_vocab *v, const char *what, struct mf_err *err);

/* The split of an id under the given fractions. */
enum mf_split mf_tok_split_of(const char *id, size_t n, double tuning, double held_out);
/* The vocabulary of a code: the part before its first '/' (the whole code without one). */
size_t mf_tok_vocab_len(const char *code, size_t n);

#endif
