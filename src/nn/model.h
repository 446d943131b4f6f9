/* model.h - the decoder-only transformer: forward, backward, AdamW, safetensors checkpoints.
 *
 * Architecture: token embedding; per layer, pre-norm RMSNorm, multi-head causal self-attention
 * with rotary position embedding (rotating pairs (2i, 2i+1) of each head, theta rope_theta),
 * a residual add, pre-norm RMSNorm, SwiGLU MLP (w2(silu(w1 x) * w3 x)), a residual add; a
 * final RMSNorm and the output projection (tied to the embedding when `tied`).  No biases.
 *
 * Every parameter lives in one float block, every gradient in a second one of the same layout,
 * and AdamW's two moments in a third (llm.c style).  Tensors use PyTorch's nn.Linear layout:
 * a weight of shape [out, in], y = x W^T.  Names in model.safetensors (Llama's):
 *
 *     tok_embeddings.weight                 [vocab, dim]
 *     layers.L.attention_norm.weight        [dim]
 *     layers.L.attention.wq.weight          [dim, dim]   (also wk, wv, wo)
 *     layers.L.ffn_norm.weight              [dim]
 *     layers.L.feed_forward.w1.weight       [hidden, dim] (gate)
 *     layers.L.feed_forward.w3.weight       [hidden, dim] (up)
 *     layers.L.feed_forward.w2.weight       [dim, hidden] (down)
 *     norm.weight                           [dim]
 *     output.weight                         [vocab, dim]  (absent when tied)
 *
 * Attention is computed in blocks with a running softmax (only each row's log-sum-exp is kept
 * for the backward pass), so memory grows linearly with the context length.  Matrix products
 * go through OpenBLAS (cblas_sgemm); everything else is OpenMP loops whose results do not
 * depend on the thread schedule.
 */
#ifndef MF_NN_MODEL_H
#define MF_NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* A target that does not count in the loss (padding, prefix positions). */
#define MF_NN_IGNORE UINT32_MAX

struct mf_model_config {
    int vocab;
    int dim;
    int layers;
    int heads;
    int hidden;       /* SwiGLU inner width */
    int context;      /* largest T */
    int tied;         /* output projection = embedding */
    float rope_theta; /* 0: 10000 */
    float norm_eps;   /* 0: 1e-5 */
};

/* Presets: "tiny" (tests), "small", "base" (6 layers, width 384, 6 heads, context 512); the
 * vocabulary size is left 0 for the caller.  Returns MF_EINVAL for an unknown name. */
int mf_model_preset(const char *name, struct mf_model_config *c);
/* Check shapes (dim divisible by heads, even head size, positive sizes); the error names the
 * field. */
int mf_model_config_check(const struct mf_model_config *c, struct mf_err *err);
/* config.json <-> config (the JSON also names the architecture and version). */
int mf_model_config_save(const struct mf_model_config *c, const char *path, struct mf_err *err);
int mf_model_config_load(const char *path, struct mf_model_config *c, struct mf_err *err);
/* The same from a parsed config.json (path is used in errors). */
struct cJSON;
int mf_model_config_from_json(const struct cJSON *root, const char *path, struct mf_model_config *c,
                              struct mf_err *err);

/* One tensor of the parameter block. */
struct mf_tensor_info {
    char name[64];
    size_t offset; /* in floats, into params (and grads, and each moment) */
    int ndim;
    int shape[2];
};

struct mf_model;

/* Allocate parameters (and, with `train`, gradients and optimizer moments) for batches of at
 * most max_batch windows of at most c->context tokens.  Parameters are initialized from seed:
 * normal(0, 0.02) for matrices and embeddings, the output and wo/w2 scaled by 1/sqrt(2 layers),
 * ones for norms; seed MF_MODEL_NO_INIT leaves zeros (weights about to be loaded). */
#define MF_MODEL_NO_INIT UINT64_MAX /* seed: zeros, for weights loaded right after */
int mf_model_new(const struct mf_model_config *c, int max_batch, int train, uint64_t seed,
                 struct mf_model **out, struct mf_err *err);
void mf_model_free(struct mf_model *m);
const struct mf_model_config *mf_model_config(const struct mf_model *m);

size_t mf_model_n_params(const struct mf_model *m);
float *mf_model_params(struct mf_model *m);
float *mf_model_grads(struct mf_model *m); /* NULL unless allocated for training */
size_t mf_model_n_tensors(const struct mf_model *m);
const struct mf_tensor_info *mf_model_tensor(const struct mf_model *m, size_t i);

/* Forward pass over B windows of T tokens (row-major [B][T]).  With targets (MF_NN_IGNORE for
 * positions that do not count), *loss is the mean cross-entropy over the counted positions
 * (0 when none) and the activations are kept for mf_model_backward.  The logits of the last
 * call are at mf_model_logits ([B][T][vocab]). */
int mf_model_forward(struct mf_model *m, const uint32_t *tokens, const uint32_t *targets, int B,
                     int T, float *loss);
const float *mf_model_logits(const struct mf_model *m);
/* Backward pass of the last forward: adds d(loss)/d(params) * grad_scale into the gradients
 * (grad_scale lets gradient accumulation average over micro-batches). */
int mf_model_backward(struct mf_model *m, float grad_scale);
void mf_model_zero_grad(struct mf_model *m);
/* The global L2 norm of the gradients. */
double mf_model_grad_norm(const struct mf_model *m);

struct mf_adamw {
    float lr;
    float beta1, beta2, eps;
    float weight_decay; /* decoupled; applied to matrices and embeddings, not to norm weights */
};
/* One AdamW step (step counts from 1) with the gradients as they are (clip first). */
void mf_model_adamw_step(struct mf_model *m, const struct mf_adamw *o, int64_t step);
/* Scale the gradients by `s` (clipping). */
void mf_model_scale_grads(struct mf_model *m, float s);
/* The optimizer moments (2 * n_params floats: first then second), for checkpoints. */
float *mf_model_moments(struct mf_model *m);

/* model.safetensors: the parameters under the names above, F32, with string metadata
 * (n_meta key/value pairs: meta[2i] the key, meta[2i+1] the value; meta may be NULL; "format":
 * "pt" is added unless given).  Written atomically. */
int mf_model_save_safetensors(const struct mf_model *m, const char *path, const char *const *meta,
                              size_t n_meta, struct mf_err *err);
/* Load parameters from a safetensors file: every tensor must be present with its shape and
 * F32; errors name the file and tensor.  Extra tensors are refused. */
int mf_model_load_safetensors(struct mf_model *m, const char *path, struct mf_err *err);
/* The same, also giving the file's SHA-256 (hex) from the one read (sha256 may be NULL). */
int mf_model_load_safetensors_sha256(struct mf_model *m, const char *path, char sha256[65],
                                     struct mf_err *err);

/* Incremental decoding (inference).  A KV cache keeps every layer's keys (after rotation) and
 * values for `rows` sequences of up to context positions: layers x rows x context x dim x 2
 * floats.  Rows advance together: mf_model_decode appends T tokens to each of n rows that all
 * hold `pos` positions already. */
struct mf_kv;

int mf_kv_new(const struct mf_model_config *c, int rows, struct mf_kv **out, struct mf_err *err);
void mf_kv_free(struct mf_kv *kv);
size_t mf_kv_bytes(const struct mf_kv *kv);
int mf_kv_rows(const struct mf_kv *kv);
/* Copy the first len positions of row src into row dst. */
void mf_kv_copy_row(struct mf_kv *kv, int src, int dst, int len);
/* Declare that positions [0, len) of every row are those of row src (a prompt every future
 * continues): they are copied once into a shared area, and attention reads them once per step
 * for all rows instead of once per row.  len 0 ends the sharing; so does a decode at position
 * 0.  Rows then decode from position len on. */
void mf_kv_share(struct mf_kv *kv, int src, int len);
int mf_kv_shared_len(const struct mf_kv *kv);

/* Run tokens[n][T] at positions pos..pos+T-1 of cache rows rows[0..n) (distinct), storing
 * their keys and values.  For the last position of each row it writes the logits into
 * logits[n][vocab] and the final normalized hidden state into hidden[n][dim] (either may be
 * NULL).  Rows are processed in groups that fit the model's activation buffers (max_batch x
 * context positions), so a model made with max_batch 1 decodes any number of rows.  Returns
 * MF_EINVAL for a bad token, row or position (pos + T > context, or 0 < pos < the shared
 * length). */
int mf_model_decode(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                    const uint32_t *tokens, int T, int pos, float *logits, float *hidden);
/* One new token per row, each row at its own position: rows[b] holds pos[b] positions already
 * (1 <= pos[b] < context) and gets tokens[b] at position pos[b].  For futures of different
 * prompts decoded in one batch (their matrix products are shared, their attention is each
 * row's own): no positions may be shared (mf_kv_share with len 0, or a decode at position 0,
 * first).  Logits and hidden states as mf_model_decode.  MF_EINVAL for a bad row, token or
 * position, or while positions are shared. */
int mf_model_decode_rows(struct mf_model *m, struct mf_kv *kv, const int *rows, int n,
                         const uint32_t *tokens, const int *pos, float *logits, float *hidden);

#endif
