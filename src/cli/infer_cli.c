/* infer_cli.c - shared set-up of the inference verbs (see infer_cli.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/infer_cli.h"
#include "core/buf.h"
#include "core/progress.h"
#include "core/timeutil.h"
#include "token/token.h"

/* Below this share of a store's events in the model's vocabulary, the store is from a source
 * the model never saw: its predictions would rest on the prefix alone. */
#define MIN_OVERLAP 0.01

int infer_ctx_open(struct infer_ctx *c, const char *model, const char *store, const char *task_path,
                   int rows, int allow_mismatch)
{
    memset(c, 0, sizeof *c);
    c->split = -1;
    struct mf_err err = {0};
    if (mf_infer_open(model, rows, &c->in, &err) != 0 ||
        mf_store_open(store, &c->store, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        infer_ctx_close(c);
        return 1;
    }
    double overlap = c->overlap = mf_infer_overlap(c->in, c->store);
    if (overlap < MIN_OVERLAP && !allow_mismatch) {
        fprintf(stderr,
                "medfm: the store and the model use different vocabularies: %.2f%% of the "
                "store's events have codes the model knows (at least %.0f%% needed; "
                "--allow-vocabulary-mismatch goes on anyway)\n",
                100 * overlap, 100 * MIN_OVERLAP);
        infer_ctx_close(c);
        return 1;
    }
    if (task_path && infer_ctx_set_task(c, task_path) != 0) {
        infer_ctx_close(c);
        return 1;
    }
    return 0;
}

int infer_ctx_set_task(struct infer_ctx *c, const char *task_path)
{
    struct mf_err err = {0};
    free(c->store_masks);
    free(c->tok_masks);
    mf_task_free(c->task);
    c->store_masks = c->tok_masks = NULL;
    c->task = NULL;
    if (mf_task_load(task_path, &c->task, &err) != 0 ||
        mf_task_store_masks(c->task, c->store, &c->store_masks, &err) != 0 ||
        mf_infer_task_masks(mf_infer_vocab(c->in), c->task, &c->tok_masks, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    uint64_t known = 0;
    for (uint32_t i = 0; i < mf_store_n_codes(c->store); i++)
        known |= c->store_masks[i];
    for (uint32_t i = 0; i < mf_vocab_size(mf_infer_vocab(c->in)); i++)
        known |= c->tok_masks[i];
    if (mf_task_check_known(c->task, known, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    return 0;
}

void infer_ctx_close(struct infer_ctx *c)
{
    if (c->in && c->store)
        mf_vocab_unbind(mf_infer_vocab(c->in), c->store);
    free(c->store_masks);
    free(c->tok_masks);
    mf_task_free(c->task);
    mf_store_close(c->store);
    mf_infer_free(c->in);
    memset(c, 0, sizeof *c);
}

int infer_ctx_split(struct infer_ctx *c, const char *name)
{
    if (name == NULL)
        name = "held_out";
    if (strcmp(name, "all") == 0) {
        c->split = -1;
        return 0;
    }
    c->split = mf_split_parse(name);
    if (c->split < 0) {
        fprintf(stderr, "medfm: --split must be train, tuning, held_out or all\n");
        return 2;
    }
    return 0;
}

int infer_ctx_keep(void *ctx, const char *subject, size_t n)
{
    const struct infer_ctx *c = ctx;
    return c->split < 0 || (int)mf_vocab_split(mf_infer_vocab(c->in), subject, n) == c->split;
}

static int parse_float(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > lo && v <= hi)) {
        fprintf(stderr, "medfm: --%s must be a number in (%g, %g]\n", opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int infer_embed_rows(struct infer_ctx *c, struct mf_task_row *rows, size_t n, float *out)
{
    const struct mf_vocab *v = mf_infer_vocab(c->in);
    const size_t dim = (size_t)mf_infer_config(c->in)->dim;
    struct mf_err err = {0};
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0};
    struct mf_timeline tl;
    struct mf_progress prog;
    int rc = 0;
    mf_progress_start(&prog, "embed", "samples", (int64_t)n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct mf_task_row *r = &rows[i];
        if (i == 0 || r->shard != rows[i - 1].shard || r->patient != rows[i - 1].patient) {
            if (mf_store_shard_timeline(c->store, r->shard, r->patient, &tl) != 0) {
                rc = mf_err_set(&err, MF_EIO, "cannot read a timeline of the store");
                break;
            }
            rc = mf_tokenize(v, c->store, &tl, &tk, &err);
        }
        if (rc == 0)
            rc = mf_infer_prompt(c->in, &tk, r->index, &pr, &err);
        if (rc == 0)
            rc = mf_infer_embed(c->in, &pr, out + i * dim, &err);
        r->index = pr.at;
        mf_progress_add(&prog, 1);
    }
    mf_progress_finish(&prog);
    mf_prompt_free(&pr);
    mf_tokens_free(&tk);
    if (rc) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    return 0;
}

void infer_csv_field(struct mf_buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        quote |= s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        mf_buf_append(b, s, n);
        return;
    }
    mf_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            mf_buf_putc(b, '"');
        mf_buf_putc(b, s[i]);
    }
    mf_buf_putc(b, '"');
}

int infer_parse_sampling(const char *horizon_s, const char *temp_s, const char *top_p_s,
                         int64_t *horizon, double *temp, double *top_p)
{
    if (mf_duration_parse(horizon_s ? horizon_s : "1y", horizon) != 0 || *horizon <= 0) {
        fprintf(stderr, "medfm: --horizon takes a duration such as 1y, 6mo, 30d or 12h\n");
        return -1;
    }
    *temp = 1;
    *top_p = 1;
    if ((temp_s && parse_float("temperature", temp_s, 0, 100, temp)) ||
        (top_p_s && parse_float("top-p", top_p_s, 0, 1, top_p)))
        return -1;
    return 0;
}
