/* infer_cli.h - what the inference verbs (simulate, predict, embed, probe) share: opening a
 * model with a store, the vocabulary-overlap check, the split filter, patient lookup. */
#ifndef MF_CLI_INFER_CLI_H
#define MF_CLI_INFER_CLI_H

#include <stdint.h>

#include "infer/infer.h"
#include "store/store.h"
#include "tasks/task.h"

struct infer_ctx {
    struct mf_infer *in;
    struct mf_store *store;
    struct mf_task *task;  /* when a task file was given */
    uint64_t *store_masks; /* the task's masks of the store's codes */
    uint64_t *tok_masks;   /* the task's masks of the vocabulary's tokens */
    int split;             /* -1: all */
    double overlap;        /* share of the store's events with codes the model knows */
};

/* Open the model (decoding `rows` futures at once), the store and (task_path non-NULL) the
 * task; check the vocabulary overlap (unless allow_mismatch) and that every plain predicate
 * matches a code of the store or the vocabulary.  Prints the error and returns 1 on failure. */
int infer_ctx_open(struct infer_ctx *c, const char *model, const char *store, const char *task_path,
                   int rows, int allow_mismatch);
void infer_ctx_close(struct infer_ctx *c);
/* Load a task (replacing the one held) with its masks and the known-codes check.  Prints the
 * error and returns 1 on failure. */
int infer_ctx_set_task(struct infer_ctx *c, const char *task_path);

/* --split NAME (NULL: held_out) into c->split; prints the error and returns 2 when unknown. */
int infer_ctx_split(struct infer_ctx *c, const char *name);
/* mf_task_store_opts.keep for c->split */
int infer_ctx_keep(void *ctx, const char *subject, size_t n);

/* Embeddings of rows (from mf_task_label_store) at their index times into out[n][dim], with
 * progress on stderr; an index of INT64_MAX (the whole record) becomes the last event's time.
 * Prints the error and returns 1 on failure. */
int infer_embed_rows(struct infer_ctx *c, struct mf_task_row *rows, size_t n, float *out);

/* A CSV field, quoted when it holds a comma, quote or line break. */
struct mf_buf;
void infer_csv_field(struct mf_buf *b, const char *s, size_t n);

/* --horizon (default 1y), --temperature (in (0, 100], default 1) and --top-p (in (0, 1],
 * default 1), any of them NULL for its default; prints the error and returns -1. */
int infer_parse_sampling(const char *horizon_s, const char *temp_s, const char *top_p_s,
                         int64_t *horizon, double *temp, double *top_p);

#endif
