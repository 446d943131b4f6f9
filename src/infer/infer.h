/* infer.h - inference: prompts, simulated futures (batched sampling with a KV cache), risks,
 * embeddings.
 *
 * A prompt is what the model sees of a patient at time `at`: the static prefix (sex, age at the
 * first body token kept, race and ethnicity when the vocabulary uses them) and the body tokens
 * of the events at or before `at`, the latest ones when they do not all fit: at most
 * (context - prefix) * 3 / 4 body tokens, so that a future has room before the context is full.
 *
 * Simulation draws `samples` futures together.  The prompt is run once (one row of the KV
 * cache), its keys and values copied to every future's row, and then every active future gets
 * one token per step (one batched forward of the active rows).  A future stops at MEDS_DEATH,
 * at TIMELINE_END, when the summed durations of its time tokens pass the horizon (the time
 * token that passes it is kept), or after max_new tokens.  When the sequences reach the
 * context length, every active row is cut to its prefix and the latest (context - prefix) / 2
 * body tokens and run again (positions restart, as in training windows).  Sampling: softmax of
 * logits / temperature, restricted to the smallest set of most likely tokens whose
 * probabilities sum to at least top_p, renormalized; each future has its own random stream
 * (seed, future index).
 */
#ifndef MF_INFER_INFER_H
#define MF_INFER_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/model.h"
#include "store/store.h"
#include "token/token.h"

/* A loaded model folder, ready to decode up to max_rows futures at once. */
struct mf_infer;

int mf_infer_open(const char *model_dir, int max_rows, struct mf_infer **out, struct mf_err *err);
void mf_infer_free(struct mf_infer *in);

const struct mf_vocab *mf_infer_vocab(const struct mf_infer *in);
const struct mf_model_config *mf_infer_config(const struct mf_infer *in);
/* SHA-256 (hex) of model.safetensors: the model's identity in outputs. */
const char *mf_infer_model_sha256(const struct mf_infer *in);
/* Bytes held by the KV cache and the decoding buffers. */
size_t mf_infer_memory(const struct mf_infer *in);

/* A prompt: token ids, and the time of the last event it holds (its end). */
struct mf_prompt {
    uint32_t *tok;
    size_t n, cap;
    size_t n_prefix; /* the first n_prefix tokens are the static prefix */
    int64_t end;     /* time of the last event included (MF_TIME_NONE when none) */
    int64_t at;      /* the prompt's time: futures start here (time tokens for the gap from
                        end to at close the prompt) */
    size_t n_events; /* body tokens available at `at` before truncation */
};
void mf_prompt_free(struct mf_prompt *p);

/* The prompt of a tokenized timeline at time `at`: events at or before `at`, then the time
 * tokens of the gap from the last of them to `at`.  INT64_MAX: the whole record, ending at its
 * last event. */
int mf_infer_prompt(const struct mf_infer *in, const struct mf_tokens *t, int64_t at,
                    struct mf_prompt *out, struct mf_err *err);
/* Append tokens after the prompt (what-if codes, inserted at the prediction time). */
int mf_prompt_append(struct mf_prompt *p, const uint32_t *tok, size_t n);

struct mf_sim_opts {
    int samples;       /* futures (1..max_rows) */
    int max_new;       /* tokens per future at most; 0: 512 */
    int64_t horizon;   /* microseconds; <= 0: none (only the other stops) */
    float temperature; /* 0: 1 */
    float top_p;       /* 0: 1 */
    uint64_t seed;
    int no_stop; /* benchmarks: every future runs max_new tokens, whatever it samples */
};

enum mf_stop { MF_STOP_DEATH, MF_STOP_END, MF_STOP_HORIZON, MF_STOP_LENGTH };

/* One sampled future: its tokens and, per token, the time since the prompt's end (the summed
 * time-token durations up to and including it). */
struct mf_future {
    uint32_t *tok;
    int64_t *dt;
    size_t n, cap;
    enum mf_stop stop;
};

struct mf_futures {
    struct mf_future *f;
    size_t n, cap;
    /* Work done by the last call: tokens run through the model (prompt + generated + rerun
     * after context cuts), generated tokens, seconds. */
    uint64_t tokens_prefill, tokens_generated;
    uint32_t steps, cuts; /* batched decoding steps; context cuts (each reruns the rows) */
    double seconds;
};
void mf_futures_free(struct mf_futures *fs);

int mf_infer_simulate(struct mf_infer *in, const struct mf_prompt *p, const struct mf_sim_opts *o,
                      struct mf_futures *out, struct mf_err *err);

/* Several prompts' futures decoded as one batch (the futures of concurrent requests): prompt
 * ps[j] (k of them; copies of the structs do, the tokens are only read) gets os[j].samples futures
 * (at most max_rows in all) into outs[j], drawn as mf_infer_simulate draws them (the same random
 * streams; the logits equal up to the rounding of the batched products).  Rows of different prompts
 * step together, each at its own position; the counters and seconds of each outs[j] are the
 * batch's. */
int mf_infer_simulate_batch(struct mf_infer *in, const struct mf_prompt *ps,
                            const struct mf_sim_opts *os, int k, struct mf_futures *outs,
                            struct mf_err *err);

/* The embedding of a prompt: the final (normalized) hidden state at its last token, dim
 * floats. */
int mf_infer_embed(struct mf_infer *in, const struct mf_prompt *p, float *out, struct mf_err *err);

/* The share of the store's timed events whose code is a token of the model's vocabulary (by
 * text; rare codes folded into "<VOCAB>/<rare>" do not count): near 0 for a store from a source
 * whose codes the model never saw. */
double mf_infer_overlap(const struct mf_infer *in, const struct mf_store *s);

/* Risks of a task from simulated futures. */
struct mf_task;
struct mf_task_events;

/* Per vocabulary token, the task's plain predicates its code matches (0 for tokens that are
 * not codes).  Free with free(). */
int mf_infer_task_masks(const struct mf_vocab *v, const struct mf_task *t, uint64_t **out,
                        struct mf_err *err);

struct mf_risk {
    uint32_t futures;  /* sampled */
    uint32_t decided;  /* futures in which the task's windows hold (the others are excluded) */
    uint32_t positive; /* of those, with the outcome */
    double p, lo, hi;  /* positive / decided and its 95% Wilson interval (NaN when none decided) */
};

/* history: the patient's events at or before `at` (with the task's masks); fs: futures
 * sampled from a prompt that ends at `at` (their events are placed at at + dt + 1 us, strictly
 * after the prediction time; generated events carry no values, so predicates with a value
 * range never match them).  Each future is appended to the history and the task evaluated
 * at `trigger` (mf_task_label_at).  Code tokens are events; time and decile tokens are not. */
int mf_infer_task_risk(const struct mf_task *t, const struct mf_vocab *v, const uint64_t *tok_masks,
                       const struct mf_task_events *history, int64_t trigger, int64_t at,
                       const struct mf_futures *fs, struct mf_risk *out, struct mf_err *err);

/* Wilson score interval for k successes in n trials at confidence `level` (e.g. 0.95). */
void mf_binom_ci(uint64_t k, uint64_t n, double level, double *lo, double *hi);

/* Sampling from logits (exposed for tests): index drawn from softmax(logits / temperature)
 * restricted to the top_p nucleus; scratch holds 2 * n floats. */
struct mf_rng;
uint32_t mf_sample_token(const float *logits, uint32_t n, float temperature, float top_p,
                         struct mf_rng *rng, float *scratch);

#endif
