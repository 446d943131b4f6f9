/* eval.h - measuring the PHI tagger against annotated corpora (`medfm deid eval`).
 *
 * Corpora: the Presidio synthetic PII sentences (JSON array of {full_text, spans:[{entity_type,
 * start_position, end_position}]}, positions in code points) and a `medfm synth` folder (notes
 * in DocumentReference.ndjson, gold spans in truth/phi.ndjson, byte offsets).  Gold spans are
 * mapped to tagger categories; spans that are not HIPAA identifiers are kept as "ignored": they
 * count neither way, and a prediction that overlaps only ignored spans is neither a true nor a
 * false positive.  The rules are in docs/deid-text.md.
 */
#ifndef MF_DEID_EVAL_H
#define MF_DEID_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/err.h"
#include "deid/tagger.h"

#define MF_DEID_EVAL_IGNORED (-1)

struct mf_deid_gold {
    size_t start, end; /* bytes */
    int cat;           /* enum mf_deid_cat, or MF_DEID_EVAL_IGNORED */
};

struct mf_deid_doc {
    char *text;
    size_t n;
    struct mf_deid_gold *gold;
    size_t ngold, capgold;
};

struct mf_deid_corpus {
    struct mf_deid_doc *docs;
    size_t n, cap;
};

/* "presidio:FILE" or "synth:DIR". */
int mf_deid_corpus_load(const char *spec, struct mf_deid_corpus *c, struct mf_err *err);
int mf_deid_corpus_load_presidio(const char *path, struct mf_deid_corpus *c, struct mf_err *err);
int mf_deid_corpus_load_synth(const char *dir, struct mf_deid_corpus *c, struct mf_err *err);
void mf_deid_corpus_free(struct mf_deid_corpus *c);

/* Whether a Presidio gold DATE_TIME text is a HIPAA date element (has a month or a day: a
 * month name, or two numbers joined by '/', '-' or '.' once times of day are removed). */
int mf_deid_eval_date_is_phi(const char *s, size_t n);
/* Whether a gold AGE text is over 89 (text without a number: kept, 1). */
int mf_deid_eval_age_is_phi(const char *s, size_t n);

struct mf_deid_prf {
    uint64_t tp_gold, n_gold; /* recall = tp_gold / n_gold */
    uint64_t tp_pred, n_pred; /* precision = tp_pred / n_pred (ignored-only predictions left out) */
};

struct mf_deid_eval_result {
    uint64_t docs, bytes, gold, ignored, predicted, ignored_pred;
    struct mf_deid_prf any;    /* any overlap, category-agnostic (primary) */
    struct mf_deid_prf typed;  /* any overlap, category must match */
    struct mf_deid_prf token;  /* tokens (split on white space and punctuation) */
    struct mf_deid_prf strict; /* exact boundaries and category */
    uint64_t cat_gold[MF_DEID__NCAT], cat_hit[MF_DEID__NCAT], cat_pred[MF_DEID__NCAT];
    double seconds; /* time inside mf_deid_tag */
};

/* Which documents: all, those of even index, or odd index. */
enum mf_deid_eval_half { MF_DEID_EVAL_ALL, MF_DEID_EVAL_EVEN, MF_DEID_EVAL_ODD };

/* Tag every selected document and score it.  When show is not NULL, each missed gold span and
 * each false positive is written there as a line (for development on synthetic corpora only:
 * it prints corpus text). */
int mf_deid_eval_run(struct mf_deid_tagger *t, const struct mf_deid_corpus *c,
                     enum mf_deid_eval_half half, struct mf_deid_eval_result *r, FILE *show,
                     struct mf_err *err);

/* One JSON object with every figure. */
int mf_deid_eval_json(const struct mf_deid_eval_result *r, const char *corpus, struct mf_buf *out);
/* A human-readable report. */
int mf_deid_eval_text(const struct mf_deid_eval_result *r, const char *corpus, struct mf_buf *out);

#endif
