/* train.h - training a model on an event store: data windows, the training loop, checkpoints.
 *
 * The model dir (written atomically, at every checkpoint and at the end):
 *
 *     config.json        the architecture (src/nn/model.h)
 *     vocab.json         the tokenizer and the split rule (src/token/token.h)
 *     model.safetensors  the weights
 *     optimizer.bin      AdamW's moments and the step, for --resume
 *     training.json      data lineage, hyperparameters, loss curves, speed
 *
 * Windows are drawn without state: the window of (step, micro-batch, row) is a function of the
 * seed and those numbers only, so a resumed run sees exactly the batches the uninterrupted run
 * would have.
 */
#ifndef MF_TRAIN_TRAIN_H
#define MF_TRAIN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/model.h"
#include "store/store.h"
#include "token/token.h"

/* The body tokens of every patient of one split, concatenated. */
struct mf_corpus {
    uint32_t *tok;
    int64_t *time;
    size_t n;
    uint64_t *off; /* patient i: tokens [off[i], off[i + 1]) */
    int64_t *birth;
    uint32_t (*stat)[4];
    uint8_t *n_stat;
    size_t n_pat;
};

int mf_corpus_build(const struct mf_vocab *v, const struct mf_store *s, enum mf_split split,
                    struct mf_corpus *c, struct mf_err *err);
void mf_corpus_free(struct mf_corpus *c);
/* Window number r (any 64-bit value) of T tokens: the static prefix then a run of one patient's
 * tokens; a patient is drawn in proportion to its length, the run uniformly among those of
 * that patient.  Positions past the end are padded with TIMELINE_END and not counted; targets
 * are the next tokens, MF_NN_IGNORE where nothing is to be predicted (inside the prefix, the
 * first token of a run that does not start the timeline, padding).  Returns the number of
 * counted targets. */
int mf_corpus_window(const struct mf_vocab *v, const struct mf_corpus *c, uint64_t r, int T,
                     uint32_t *tokens, uint32_t *targets);

struct mf_train_opts {
    const char *store;
    const char *out;
    struct mf_model_config model; /* vocab is set from the fitted vocabulary */
    struct mf_tok_opts tok;
    int batch;   /* windows per micro-batch */
    int accum;   /* micro-batches per step */
    int threads; /* 0: all cores */
    int64_t steps;
    int64_t stop_at;          /* stop (with a checkpoint) after this step; 0: run to the end */
    int64_t warmup;           /* -1: 5% of the steps, at most 1000 */
    int64_t log_every;        /* 0: 10 */
    int64_t eval_every;       /* 0: 10% of the steps */
    int64_t checkpoint_every; /* 0: at the end only (and on a signal) */
    int eval_windows;         /* 0: 64 */
    float lr, min_lr_frac, weight_decay, clip, beta1, beta2;
    uint64_t seed;
    int resume;
    int quiet;
};

void mf_train_opts_default(struct mf_train_opts *o);

struct mf_train_result {
    int64_t step;      /* steps done */
    int interrupted;   /* stopped by a signal, with a checkpoint */
    double train_loss; /* last step's */
    double val_loss;   /* last evaluation's */
    double unigram_loss, bigram_loss;
    double tokens_per_second, gflops, peak_gflops;
    double seconds;
};

int mf_train_run(const struct mf_train_opts *o, struct mf_train_result *res, struct mf_err *err);

/* OpenBLAS sgemm GFLOP/s on this machine with the current thread count (best of a few n^3
 * products). */
double mf_train_sgemm_peak(int n);

#endif
