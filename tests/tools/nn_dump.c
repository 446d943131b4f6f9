/* nn_dump.c - dumps a tiny transformer's weights, outputs and gradients for the PyTorch parity
 * test (tests/integration/nn_parity.py).
 *
 * Usage: nn_dump OUTDIR.  For two models, OUTDIR/tied and OUTDIR/untied (output projection
 * tied to the embedding or not), writes:
 *   config.json         the configuration
 *   model.safetensors   the initial weights (fixed seed)
 *   batch.json          the batch: B, T, tokens, targets (-1 where ignored)
 *   out.safetensors     "logits" [B*T, vocab], "loss" [1] and "grad.<name>" for every tensor,
 *                       from one forward and backward on the batch
 *   adamw.json          the AdamW settings and the loss before each of 5 steps
 *   final.safetensors   the weights after 5 AdamW steps on the same batch
 * T is larger than one attention block, so the streamed attention crosses block boundaries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/rng.h"
#include "nn/model.h"

#define B     2
#define T     70
#define STEPS 5

struct dump {
    struct mf_buf head, data;
    int first;
};

static int dump_add(struct dump *d, const char *name, int ndim, const int *shape, const float *x)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    size_t begin = d->data.len;
    if (mf_buf_append(&d->data, x, n * sizeof(float)))
        return -1;
    if (mf_buf_printf(&d->head, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", d->first ? "" : ",",
                      name))
        return -1;
    for (int i = 0; i < ndim; i++)
        if (mf_buf_printf(&d->head, "%s%d", i ? "," : "", shape[i]))
            return -1;
    d->first = 0;
    return mf_buf_printf(&d->head, "],\"data_offsets\":[%zu,%zu]}", begin, d->data.len);
}

static int dump_write(struct dump *d, const char *path)
{
    if (mf_buf_putc(&d->head, '}'))
        return -1;
    while ((8 + d->head.len) % 8)
        if (mf_buf_putc(&d->head, ' '))
            return -1;
    struct mf_buf f = MF_BUF_INIT;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)d->head.len >> (8 * i));
    int rc = mf_buf_append(&f, len, 8) || mf_buf_append(&f, d->head.data, d->head.len) ||
             mf_buf_append(&f, d->data.data ? d->data.data : "", d->data.len);
    struct mf_err err = {0};
    if (!rc && mf_fs_write_file_atomic(path, f.data, f.len, &err)) {
        fprintf(stderr, "nn_dump: %s\n", err.msg);
        rc = -1;
    }
    mf_buf_release(&f);
    return rc ? -1 : 0;
}

static int run(const char *dir, int tied)
{
    struct mf_model_config c = {0};
    c.vocab = 37;
    c.dim = 32;
    c.layers = 2;
    c.heads = 4;
    c.hidden = 96;
    c.context = 80;
    c.tied = tied;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    struct mf_err err = {0};
    struct mf_model *m = NULL;
    char path[4096];
    int rc = mf_fs_mkdir_p(dir, &err);
    if (!rc)
        rc = mf_model_new(&c, B, 1, tied ? 1234 : 4321, &m, &err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        rc = mf_model_config_save(&c, path, &err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        const char *meta[] = {"purpose", "parity test"};
        rc = mf_model_save_safetensors(m, path, meta, 1, &err);
    }
    if (rc) {
        fprintf(stderr, "nn_dump: %s\n", err.msg);
        mf_model_free(m);
        return 1;
    }

    /* the batch: random tokens; targets the next token, some ignored */
    uint32_t tok[B * T], tgt[B * T];
    struct mf_rng r;
    mf_rng_seed(&r, 77, (uint64_t)tied);
    for (int i = 0; i < B * T; i++)
        tok[i] = (uint32_t)mf_rng_below(&r, (uint64_t)c.vocab);
    for (int i = 0; i < B * T; i++) {
        tgt[i] = (i % T) + 1 < T ? tok[i + 1] : (uint32_t)mf_rng_below(&r, (uint64_t)c.vocab);
        if (i % 7 == 3 || (i / T == 1 && i % T < 5))
            tgt[i] = MF_NN_IGNORE;
    }
    struct mf_buf j = MF_BUF_INIT;
    rc = mf_buf_printf(&j, "{\"B\":%d,\"T\":%d,\"tokens\":[", B, T);
    for (int i = 0; !rc && i < B * T; i++)
        rc = mf_buf_printf(&j, "%s%u", i ? "," : "", tok[i]);
    rc = rc || mf_buf_puts(&j, "],\"targets\":[");
    for (int i = 0; !rc && i < B * T; i++)
        rc = tgt[i] == MF_NN_IGNORE ? mf_buf_printf(&j, "%s-1", i ? "," : "")
                                    : mf_buf_printf(&j, "%s%u", i ? "," : "", tgt[i]);
    rc = rc || mf_buf_puts(&j, "]}\n");
    snprintf(path, sizeof path, "%s/batch.json", dir);
    if (rc || mf_fs_write_file_atomic(path, j.data, j.len, &err)) {
        fprintf(stderr, "nn_dump: cannot write %s\n", path);
        return 1;
    }

    /* one forward and backward */
    float loss = 0;
    mf_model_zero_grad(m);
    if (mf_model_forward(m, tok, tgt, B, T, &loss) || mf_model_backward(m, 1.0f)) {
        fprintf(stderr, "nn_dump: forward or backward failed\n");
        return 1;
    }
    struct dump d = {MF_BUF_INIT, MF_BUF_INIT, 1};
    rc = mf_buf_putc(&d.head, '{');
    int ls[2] = {B * T, c.vocab}, one = 1;
    rc = rc || dump_add(&d, "logits", 2, ls, mf_model_logits(m));
    rc = rc || dump_add(&d, "loss", 1, &one, &loss);
    for (size_t i = 0; !rc && i < mf_model_n_tensors(m); i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        char name[80];
        snprintf(name, sizeof name, "grad.%s", t->name);
        rc = dump_add(&d, name, t->ndim, t->shape, mf_model_grads(m) + t->offset);
    }
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    rc = rc || dump_write(&d, path);
    mf_buf_release(&d.head);
    mf_buf_release(&d.data);

    /* AdamW steps on the same batch */
    struct mf_adamw o = {
        .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    mf_buf_reset(&j);
    rc = rc || mf_buf_printf(&j,
                             "{\"lr\":%.9g,\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g,"
                             "\"weight_decay\":%.9g,\"steps\":%d,\"losses\":[",
                             (double)o.lr, (double)o.beta1, (double)o.beta2, (double)o.eps,
                             (double)o.weight_decay, STEPS);
    for (int s = 1; !rc && s <= STEPS; s++) {
        mf_model_zero_grad(m);
        if (mf_model_forward(m, tok, tgt, B, T, &loss) || mf_model_backward(m, 1.0f))
            rc = 1;
        mf_model_adamw_step(m, &o, s);
        rc = rc || mf_buf_printf(&j, "%s%.9g", s > 1 ? "," : "", (double)loss);
    }
    rc = rc || mf_buf_puts(&j, "]}\n");
    snprintf(path, sizeof path, "%s/adamw.json", dir);
    if (rc || mf_fs_write_file_atomic(path, j.data, j.len, &err)) {
        fprintf(stderr, "nn_dump: cannot write %s\n", path);
        return 1;
    }
    mf_buf_release(&j);
    snprintf(path, sizeof path, "%s/final.safetensors", dir);
    if (mf_model_save_safetensors(m, path, NULL, 0, &err)) {
        fprintf(stderr, "nn_dump: %s\n", err.msg);
        return 1;
    }
    mf_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nn_dump OUTDIR\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tied", argv[1]);
    if (run(dir, 1))
        return 1;
    snprintf(dir, sizeof dir, "%s/untied", argv[1]);
    return run(dir, 0);
}
