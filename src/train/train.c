/* train.c - the training loop: fit or load the vocabulary, draw windows, step AdamW, evaluate,
 * checkpoint the model dir atomically, resume exactly. */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timeutil.h"
#include "store/demog.h"
#include "train/dist.h"
#include "train/train.h"

void mf_train_opts_default(struct mf_train_opts *o)
{
    memset(o, 0, sizeof *o);
    struct mf_tok_opts t = MF_TOK_OPTS_DEFAULT;
    o->tok = t;
    mf_model_preset("small", &o->model);
    o->batch = 8;
    o->accum = 1;
    o->steps = 1000;
    o->warmup = -1;
    o->lr = 1e-3f;
    o->min_lr_frac = 0.1f;
    o->weight_decay = 0.1f;
    o->clip = 1.0f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->seed = 1;
}

/* --- signals: finish the step, checkpoint, stop ---------------------------------------------- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* --- measuring the machine ------------------------------------------------------------------ */

double mf_train_sgemm_peak(int n)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) {
            a[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
            b[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
        }
        for (int rep = 0; rep < 6; rep++) {
            double t0 = mf_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                        n);
            double dt = mf_now() - t0;
            double g = 2.0 * n * (double)n * n / dt / 1e9;
            if (rep > 0 && g > best) /* the first warms up the threads */
                best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* Model FLOPs of one token's training step (forward 2 per weight of every product, causal
 * attention 2·T·dim per layer; backward twice the forward). */
static double flops_per_token(const struct mf_model_config *c, int T)
{
    double d = c->dim, h = c->hidden, v = c->vocab;
    double mm = c->layers * (4 * d * d + 3 * d * h) + v * d;
    double fwd = 2 * mm + 2.0 * c->layers * T * d;
    return 3 * fwd;
}

static float lr_at(const struct mf_train_opts *o, int64_t warmup, int64_t step)
{
    if (warmup > 0 && step <= warmup)
        return o->lr * (float)step / (float)warmup;
    double span = (double)(o->steps - warmup);
    double x = span > 0 ? (double)(step - warmup) / span : 1;
    if (x > 1)
        x = 1;
    double f = o->min_lr_frac + (1 - o->min_lr_frac) * 0.5 * (1 + cos(M_PI * x));
    return (float)(o->lr * f);
}

/* --- count-based baselines on the validation windows ------------------------------------------ */

struct pairs {
    uint64_t *key; /* (a << 32 | b) + 1; 0 empty */
    uint32_t *cnt;
    size_t cap, n;
};

static uint64_t hkey(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static int pairs_add(struct pairs *p, uint32_t a, uint32_t b)
{
    if (2 * (p->n + 1) > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1 << 16;
        uint64_t *k = calloc(cap, sizeof *k);
        uint32_t *c = calloc(cap, sizeof *c);
        if (k == NULL || c == NULL) {
            free(k);
            free(c);
            return MF_ENOMEM;
        }
        for (size_t i = 0; i < p->cap; i++)
            if (p->key[i]) {
                size_t j = hkey(p->key[i]) & (cap - 1);
                while (k[j])
                    j = (j + 1) & (cap - 1);
                k[j] = p->key[i];
                c[j] = p->cnt[i];
            }
        free(p->key);
        free(p->cnt);
        p->key = k;
        p->cnt = c;
        p->cap = cap;
    }
    uint64_t key = (((uint64_t)a << 32) | b) + 1;
    size_t j = hkey(key) & (p->cap - 1);
    while (p->key[j] && p->key[j] != key)
        j = (j + 1) & (p->cap - 1);
    if (p->key[j] == 0) {
        p->key[j] = key;
        p->n++;
    }
    p->cnt[j]++;
    return 0;
}

static uint32_t pairs_get(const struct pairs *p, uint32_t a, uint32_t b)
{
    if (p->cap == 0)
        return 0;
    uint64_t key = (((uint64_t)a << 32) | b) + 1;
    size_t j = hkey(key) & (p->cap - 1);
    while (p->key[j]) {
        if (p->key[j] == key)
            return p->cnt[j];
        j = (j + 1) & (p->cap - 1);
    }
    return 0;
}

/* Unigram and bigram cross-entropies (nats per counted target) of the validation windows, with
 * counts from the training tokens: add-one unigram; bigram p(b|a) = (c(a,b) + k·p(b)) / (c(a)
 * + k), k = 1 (the unigram as a Dirichlet prior). */
static int baselines(const struct mf_corpus *train, int V, const uint32_t *vt, const uint32_t *vy,
                     size_t n, double *uni, double *bi)
{
    double *cu = calloc((size_t)V, sizeof *cu);
    struct pairs pr = {0};
    if (cu == NULL)
        return MF_ENOMEM;
    double total = 0;
    int rc = 0;
    for (size_t p = 0; p < train->n_pat && rc == 0; p++)
        for (uint64_t i = train->off[p]; i < train->off[p + 1] && rc == 0; i++) {
            cu[train->tok[i]] += 1;
            total += 1;
            if (i + 1 < train->off[p + 1])
                rc = pairs_add(&pr, train->tok[i], train->tok[i + 1]);
        }
    double su = 0, sb = 0;
    size_t m = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (vy[i] == MF_NN_IGNORE)
            continue;
        double pu = (cu[vy[i]] + 1) / (total + V);
        double ca = cu[vt[i]];
        double pb = (pairs_get(&pr, vt[i], vy[i]) + pu) / (ca + 1);
        su -= log(pu);
        sb -= log(pb);
        m++;
    }
    *uni = m ? su / (double)m : 0;
    *bi = m ? sb / (double)m : 0;
    free(cu);
    free(pr.key);
    free(pr.cnt);
    return rc;
}

/* --- the model dir ---------------------------------------------------------------------------- */

struct history {
    double (*train)[2];
    size_t n_train, cap_train;
    double (*val)[2];
    size_t n_val, cap_val;
};

static int hist_add(double (**a)[2], size_t *n, size_t *cap, double step, double loss)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        double(*p)[2] = realloc(*a, c * sizeof **a);
        if (p == NULL)
            return MF_ENOMEM;
        *a = p;
        *cap = c;
    }
    (*a)[*n][0] = step;
    (*a)[*n][1] = loss;
    (*n)++;
    return 0;
}

struct state {
    const struct mf_train_opts *o;
    struct mf_store *store;
    struct mf_vocab *vocab;
    struct mf_model *model;
    struct history h;
    int64_t step;
    int64_t warmup;
    int64_t eval_every;
    double seconds;    /* training wall time over every run of this model */
    double tokens;     /* tokens processed by this run */
    double step_time;  /* this run's seconds in training steps (evaluation excluded) */
    int64_t run_steps; /* steps done by this run */
    double peak, uni, bi;
    int64_t n_train_pat, n_val_pat;
    uint64_t seed;
    cJSON *training_data; /* the training split's make-up (training.json) */
};

static void count_str(cJSON *obj, const char *key, size_t n)
{
    char k[128];
    if (n == 0) {
        memcpy(k, "unknown", 8);
    } else {
        n = n < sizeof k - 1 ? n : sizeof k - 1;
        memcpy(k, key, n);
        k[n] = 0;
    }
    cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, k);
    if (c)
        cJSON_SetNumberValue(c, c->valuedouble + 1);
    else
        cJSON_AddNumberToObject(obj, k, 1);
}

/* The make-up of the training split: patients by sex, race, ethnicity and age band (at the
 * last event), the time span of their events, and the store's sources. */
static cJSON *training_data(const struct mf_store *s, const struct mf_vocab *v)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *sex = cJSON_CreateObject(), *race = cJSON_CreateObject();
    cJSON *eth = cJSON_CreateObject(), *age = cJSON_CreateObject();
    int64_t first = INT64_MAX, last = INT64_MIN;
    double n = 0;
    for (size_t sh = 0; sh < mf_store_n_shards(s); sh++) {
        for (uint64_t i = 0; i < mf_store_shard_patients(s, sh); i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(s, sh, i, &tl) != 0 ||
                mf_vocab_split(v, tl.subject.p, tl.subject.n) != MF_SPLIT_TRAIN)
                continue;
            struct mf_demog d;
            mf_demog_of(s, &tl, &d);
            n++;
            count_str(sex, d.sex.p, d.sex.n);
            count_str(race, d.race.p, d.race.n);
            count_str(eth, d.ethnicity.p, d.ethnicity.n);
            const char *band = mf_demog_age_band(mf_demog_age(&d, d.last));
            count_str(age, band, strlen(band));
            for (size_t k = 0; k < tl.n; k++)
                if (tl.time[k] != MF_TIME_NONE) {
                    first = tl.time[k] < first ? tl.time[k] : first;
                    break;
                }
            if (d.last != MF_TIME_NONE && d.last > last)
                last = d.last;
        }
    }
    cJSON_AddNumberToObject(j, "patients", n);
    cJSON_AddItemToObject(j, "sex", sex);
    cJSON_AddItemToObject(j, "race", race);
    cJSON_AddItemToObject(j, "ethnicity", eth);
    cJSON_AddItemToObject(j, "age_bands", age);
    char t[32];
    mf_time_format(first != INT64_MAX ? first : MF_TIME_NONE, t);
    cJSON_AddStringToObject(j, "first_event", t);
    mf_time_format(last != INT64_MIN ? last : MF_TIME_NONE, t);
    cJSON_AddStringToObject(j, "last_event", t);
    cJSON *src = cJSON_AddArrayToObject(j, "sources");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(mf_store_manifest(s), "sources"), *e;
    cJSON_ArrayForEach(e, ms)
    {
        const char *f = mf_json_str(e, "format");
        if (f)
            cJSON_AddItemToArray(src, cJSON_CreateString(f));
    }
    const cJSON *deid = cJSON_GetObjectItemCaseSensitive(mf_store_manifest(s), "deid");
    cJSON_AddBoolToObject(j, "deidentified", mf_json_str(deid, "config_sha256") != NULL);
    return j;
}

#define OPT_MAGIC "MEDFMOPT"

static int write_optimizer(struct state *st, const char *path, struct mf_err *err)
{
    size_t np = mf_model_n_params(st->model);
    struct mf_buf b = MF_BUF_INIT;
    uint64_t hdr[3] = {1, (uint64_t)np, (uint64_t)st->step};
    int rc = mf_buf_append(&b, OPT_MAGIC, 8);
    if (rc == 0)
        rc = mf_buf_append(&b, hdr, sizeof hdr);
    if (rc == 0)
        rc = mf_buf_append(&b, mf_model_moments(st->model), 2 * np * sizeof(float));
    if (rc)
        rc = mf_err_set(err, rc, "out of memory");
    else
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}

static int read_optimizer(struct state *st, const char *path, struct mf_err *err)
{
    size_t np = mf_model_n_params(st->model);
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, 64 + 2 * np * sizeof(float), &b, err);
    if (rc)
        return rc;
    uint64_t hdr[3];
    if (b.len != 8 + sizeof hdr + 2 * np * sizeof(float) || memcmp(b.data, OPT_MAGIC, 8) != 0) {
        mf_buf_release(&b);
        return mf_err_set(err, MF_EPARSE, "'%s': not this model's optimizer state (damaged?)",
                          path);
    }
    memcpy(hdr, b.data + 8, sizeof hdr);
    if (hdr[0] != 1 || hdr[1] != np) {
        mf_buf_release(&b);
        return mf_err_set(err, MF_EPARSE, "'%s': written for another model", path);
    }
    memcpy(mf_model_moments(st->model), b.data + 8 + sizeof hdr, 2 * np * sizeof(float));
    st->step = (int64_t)hdr[2];
    mf_buf_release(&b);
    return 0;
}

static cJSON *curve(double (*a)[2], size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *pt = cJSON_CreateArray();
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(a[i][0]));
        cJSON_AddItemToArray(pt, cJSON_CreateNumber(a[i][1]));
        cJSON_AddItemToArray(arr, pt);
    }
    return arr;
}

static int write_training_json(struct state *st, const char *path, struct mf_err *err)
{
    const struct mf_train_opts *o = st->o;
    const cJSON *man = mf_store_manifest(st->store);
    const cJSON *deid = cJSON_GetObjectItemCaseSensitive(man, "deid");
    const char *dsha = mf_json_str(deid, "config_sha256");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "medfm-training");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "store_manifest_sha256", mf_store_manifest_sha256(st->store));
    if (dsha)
        cJSON_AddStringToObject(j, "deid_config_sha256", dsha);
    else
        cJSON_AddNullToObject(j, "deid_config_sha256");
    cJSON_AddNumberToObject(j, "seed", (double)st->seed);
    cJSON_AddNumberToObject(j, "steps", (double)st->step);
    cJSON_AddNumberToObject(j, "steps_planned", (double)o->steps);
    cJSON_AddNumberToObject(j, "vocab_size", mf_vocab_size(st->vocab));
    cJSON_AddNumberToObject(j, "parameters", (double)mf_model_n_params(st->model));
    cJSON_AddNumberToObject(j, "wall_seconds", st->seconds);
    cJSON_AddNumberToObject(j, "tokens_per_second",
                            st->step_time > 0 ? st->tokens / st->step_time : 0);
    double fl = flops_per_token(mf_model_config(st->model), mf_model_config(st->model)->context);
    cJSON_AddNumberToObject(j, "gflops",
                            st->step_time > 0 ? st->tokens * fl / st->step_time / 1e9 : 0);
    cJSON_AddNumberToObject(j, "sgemm_peak_gflops", st->peak);
    cJSON *hp = cJSON_AddObjectToObject(j, "hyperparameters");
    cJSON_AddNumberToObject(hp, "batch", o->batch);
    cJSON_AddNumberToObject(hp, "accum", o->accum);
    cJSON_AddNumberToObject(hp, "context", mf_model_config(st->model)->context);
    cJSON_AddNumberToObject(hp, "lr", o->lr);
    cJSON_AddNumberToObject(hp, "min_lr_frac", o->min_lr_frac);
    cJSON_AddNumberToObject(hp, "warmup", (double)st->warmup);
    cJSON_AddNumberToObject(hp, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(hp, "clip", o->clip);
    cJSON_AddNumberToObject(hp, "beta1", o->beta1);
    cJSON_AddNumberToObject(hp, "beta2", o->beta2);
    cJSON_AddNumberToObject(hp, "eval_windows", o->eval_windows);
    cJSON_AddNumberToObject(hp, "eval_every", (double)st->eval_every);
    cJSON_AddNumberToObject(hp, "threads", o->threads);
    cJSON *sp = cJSON_AddObjectToObject(j, "patients");
    cJSON_AddNumberToObject(sp, "train", (double)st->n_train_pat);
    cJSON_AddNumberToObject(sp, "tuning", (double)st->n_val_pat);
    cJSON *bl = cJSON_AddObjectToObject(j, "baselines");
    cJSON_AddNumberToObject(bl, "unigram_val_loss", st->uni);
    cJSON_AddNumberToObject(bl, "bigram_val_loss", st->bi);
    if (st->training_data)
        cJSON_AddItemReferenceToObject(j, "training_data", st->training_data);
    cJSON_AddItemToObject(j, "train_loss", curve(st->h.train, st->h.n_train));
    cJSON_AddItemToObject(j, "val_loss", curve(st->h.val, st->h.n_val));
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_json_print(j, &b);
    cJSON_Delete(j);
    if (rc == 0)
        rc = mf_buf_putc(&b, '\n');
    if (rc)
        rc = mf_err_set(err, rc, "out of memory");
    else
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}

/* Write the whole model dir beside the destination, then swap it in. */
static int checkpoint(struct state *st, struct mf_err *err)
{
    char tmp[PATH_MAX], p[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", st->o->out, (long)getpid());
    mf_fs_rm_rf(tmp);
    int rc = mf_fs_mkdir_p(tmp, err);
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/config.json", tmp);
        rc = mf_model_config_save(mf_model_config(st->model), p, err);
    }
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/vocab.json", tmp);
        rc = mf_vocab_save(st->vocab, p, err);
    }
    if (rc == 0) {
        char steps[32];
        snprintf(steps, sizeof steps, "%lld", (long long)st->step);
        const char *meta[] = {"producer", "medfm", "step", steps};
        snprintf(p, sizeof p, "%s/model.safetensors", tmp);
        rc = mf_model_save_safetensors(st->model, p, meta, 2, err);
    }
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/optimizer.bin", tmp);
        rc = write_optimizer(st, p, err);
    }
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/training.json", tmp);
        rc = write_training_json(st, p, err);
    }
    if (rc == 0 && mf_fs_fsync_dir(tmp) != 0)
        rc = mf_err_set(err, MF_EIO, "cannot sync '%s'", tmp);
    if (rc == 0)
        rc = mf_fs_replace_dir(tmp, st->o->out, err);
    if (rc)
        mf_fs_rm_rf(tmp);
    return rc;
}

/* Resume: the model dir's config, vocabulary, weights, moments and history. */
static int load_dir(struct state *st, int max_batch, struct mf_err *err)
{
    const char *dir = st->o->out;
    char p[PATH_MAX];
    struct mf_model_config c;
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!mf_fs_exists(p))
        return mf_err_set(err, MF_ENOTFOUND, "--resume: '%s' holds no model to resume", dir);
    int rc = mf_model_config_load(p, &c, err);
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/vocab.json", dir);
        rc = mf_vocab_load(p, &st->vocab, err);
    }
    if (rc == 0 && (uint32_t)c.vocab != mf_vocab_size(st->vocab))
        rc = mf_err_set(err, MF_EPARSE,
                        "'%s': vocab.json has %u tokens but config.json says %d: not one model",
                        dir, mf_vocab_size(st->vocab), c.vocab);
    if (rc == 0)
        rc = mf_model_new(&c, max_batch, 1, st->seed, &st->model, err);
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        rc = mf_model_load_safetensors(st->model, p, err);
    }
    if (rc == 0) {
        snprintf(p, sizeof p, "%s/optimizer.bin", dir);
        rc = read_optimizer(st, p, err);
    }
    if (rc)
        return rc;
    /* the history, and the run's own settings */
    snprintf(p, sizeof p, "%s/training.json", dir);
    cJSON *j = mf_json_read_file(p, (size_t)256 << 20, err);
    if (j == NULL)
        return err && err->code ? err->code : MF_EPARSE;
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(j, "train_loss");
    const cJSON *vl = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(j, "steps");
    if (!cJSON_IsArray(tl) || !cJSON_IsArray(vl) || !cJSON_IsNumber(steps) ||
        (int64_t)steps->valuedouble != st->step) {
        mf_json_release(j);
        return mf_err_set(err, MF_EPARSE, "'%s': damaged, or not from the same checkpoint", p);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, tl)
    {
        if (cJSON_GetArraySize(e) == 2 && hist_add(&st->h.train, &st->h.n_train, &st->h.cap_train,
                                                   cJSON_GetArrayItem(e, 0)->valuedouble,
                                                   cJSON_GetArrayItem(e, 1)->valuedouble) != 0)
            rc = MF_ENOMEM;
    }
    cJSON_ArrayForEach(e, vl)
    {
        if (cJSON_GetArraySize(e) == 2 && hist_add(&st->h.val, &st->h.n_val, &st->h.cap_val,
                                                   cJSON_GetArrayItem(e, 0)->valuedouble,
                                                   cJSON_GetArrayItem(e, 1)->valuedouble) != 0)
            rc = MF_ENOMEM;
    }
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(j, "wall_seconds");
    st->seconds = cJSON_IsNumber(ws) ? ws->valuedouble : 0;
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (cJSON_IsNumber(seed))
        st->seed = (uint64_t)seed->valuedouble;
    mf_json_release(j);
    return rc ? mf_err_set(err, rc, "out of memory") : 0;
}

/* --- the loop --------------------------------------------------------------------------------- */

/* The random number of window (step, micro, row), or of validation window i. */
static uint64_t window_id(uint64_t seed, int64_t step, int micro, int row)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull;
    x ^= (uint64_t)step * 0xc2b2ae3d27d4eb4full;
    x ^= (uint64_t)(uint32_t)micro * 0x165667b19e3779f9ull;
    x ^= (uint64_t)(uint32_t)row * 0x27d4eb2f165667c5ull;
    return x;
}

/* The mean loss over the counted targets of the validation windows, in batches of B. */
static int evaluate(struct state *st, const uint32_t *vt, const uint32_t *vy, int nwin, int B,
                    int T, double *out, struct mf_err *err)
{
    double sum = 0;
    long counted = 0;
    for (int w = 0; w < nwin; w += B) {
        int b = nwin - w < B ? nwin - w : B;
        float loss = 0;
        int rc = mf_model_forward(st->model, vt + (size_t)w * T, vy + (size_t)w * T, b, T, &loss);
        if (rc != 0)
            return mf_err_set(err, rc, "the validation pass failed");
        long c = 0;
        for (size_t i = (size_t)w * T; i < (size_t)(w + b) * T; i++)
            c += vy[i] != MF_NN_IGNORE;
        sum += (double)loss * c;
        counted += c;
    }
    *out = counted ? sum / (double)counted : NAN;
    return 0;
}

static void fmt_secs(double s, char *out, size_t n)
{
    if (s < 0 || !isfinite(s))
        snprintf(out, n, "?");
    else if (s < 60)
        snprintf(out, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

int mf_train_run(const struct mf_train_opts *o, struct mf_train_result *res, struct mf_err *err)
{
    struct mf_train_result tmp_res;
    if (res == NULL)
        res = &tmp_res;
    memset(res, 0, sizeof *res);
    if (o->steps < 1 || o->batch < 1 || o->accum < 1)
        return mf_err_set(err, MF_EINVAL, "steps, batch and accum must be at least 1");
    if (!(o->lr > 0) || !(o->clip >= 0) || !(o->weight_decay >= 0))
        return mf_err_set(err, MF_EINVAL,
                          "lr must be positive; clip and weight decay not negative");
    if (strlen(o->out) > PATH_MAX - 64 || strlen(o->store) > PATH_MAX - 64)
        return mf_err_set(err, MF_EINVAL, "the store or model path is too long");
    double t_start = mf_now();
    int q = o->quiet || mf_dist_rank() != 0; /* the first rank speaks for the job */
    if (o->threads > 0) {
        omp_set_num_threads(o->threads);
        openblas_set_num_threads(o->threads);
    }
    struct state st;
    memset(&st, 0, sizeof st);
    st.o = o;
    st.seed = o->seed;
    struct mf_corpus tr = {0}, va = {0};
    uint32_t *bt = NULL, *by = NULL, *vt = NULL, *vy = NULL;
    int rc = mf_store_open(o->store, &st.store, err);
    if (rc)
        return rc;
    if (mf_store_n_events(st.store) == 0) {
        rc = mf_err_set(err, MF_EINVAL, "'%s' holds no events to train on", o->store);
        goto out;
    }
    int max_batch = o->batch; /* evaluation runs in batches of the same size */
    if (o->resume) {
        if ((rc = load_dir(&st, max_batch, err)) != 0)
            goto out;
        if (!q)
            mf_log_info("resuming at step %lld of %lld", (long long)st.step, (long long)o->steps);
    } else {
        struct mf_model_config c = o->model;
        if (!q)
            mf_log_info("fitting the vocabulary on the training split");
        if ((rc = mf_vocab_fit(st.store, &o->tok, &st.vocab, err)) != 0)
            goto out;
        c.vocab = (int)mf_vocab_size(st.vocab);
        if ((rc = mf_model_config_check(&c, err)) != 0)
            goto out;
        if ((rc = mf_model_new(&c, max_batch, 1, o->seed, &st.model, err)) != 0)
            goto out;
    }
    const struct mf_model_config *mc = mf_model_config(st.model);
    int T = mc->context;
    if ((size_t)T <= mf_vocab_prefix_max(st.vocab) + 1) {
        rc = mf_err_set(err, MF_EINVAL, "the context (%d) is too short for the static prefix", T);
        goto out;
    }
    if (!q)
        mf_log_info("tokenizing the training and tuning splits");
    if ((rc = mf_corpus_build(st.vocab, st.store, MF_SPLIT_TRAIN, &tr, err)) != 0 ||
        (rc = mf_corpus_build(st.vocab, st.store, MF_SPLIT_TUNING, &va, err)) != 0)
        goto out;
    st.n_train_pat = (int64_t)tr.n_pat;
    st.training_data = training_data(st.store, st.vocab);
    st.n_val_pat = (int64_t)va.n_pat;
    if (tr.n == 0) {
        rc = mf_err_set(err, MF_EINVAL, "no training-split patient has events in '%s'", o->store);
        goto out;
    }
    const struct mf_corpus *vc = va.n ? &va : &tr; /* a tiny store may have no tuning patient */
    if (va.n == 0)
        mf_log_warn("no tuning-split patient has events: validation uses training windows");
    int nwin = o->eval_windows > 0 ? o->eval_windows : 64;
    size_t bn = (size_t)o->batch * (size_t)T, vn = (size_t)nwin * (size_t)T;
    bt = malloc(bn * sizeof *bt);
    by = malloc(bn * sizeof *by);
    vt = malloc(vn * sizeof *vt);
    vy = malloc(vn * sizeof *vy);
    if (bt == NULL || by == NULL || vt == NULL || vy == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    for (int w = 0; w < nwin; w++)
        mf_corpus_window(st.vocab, vc, window_id(st.seed ^ 0x7661u, -1, 0, w), T,
                         vt + (size_t)w * T, vy + (size_t)w * T);
    if ((rc = baselines(&tr, mc->vocab, vt, vy, vn, &st.uni, &st.bi)) != 0) {
        rc = mf_err_set(err, rc, "out of memory");
        goto out;
    }
    st.peak = mf_train_sgemm_peak(1024);
    st.warmup = o->warmup >= 0 ? o->warmup : (o->steps / 20 < 1000 ? o->steps / 20 : 1000);
    int64_t log_every = o->log_every > 0 ? o->log_every : 10;
    int64_t eval_every =
        o->eval_every > 0 ? o->eval_every : (o->steps / 10 > 0 ? o->steps / 10 : 1);
    st.eval_every = eval_every;
    double fl = flops_per_token(mc, T);
    if (!q)
        mf_log_info("%zu parameters, vocabulary %d, %lld train / %lld tuning patients (%zu / %zu "
                    "tokens); baselines on validation: unigram %.4f, bigram %.4f; sgemm peak "
                    "%.1f GFLOP/s",
                    mf_model_n_params(st.model), mc->vocab, (long long)st.n_train_pat,
                    (long long)st.n_val_pat, tr.n, va.n, st.uni, st.bi, st.peak);

    int rank = mf_dist_rank(), nranks = mf_dist_size();
    if (nranks > o->batch) {
        rc = mf_err_set(err, MF_EINVAL, "--batch (%d) must be at least the number of ranks (%d)",
                        o->batch, nranks);
        goto out;
    }
    int row0 = (int)((long)rank * o->batch / nranks);
    int row1 = (int)((long)(rank + 1) * o->batch / nranks);
    int lead = rank == 0; /* logs, evaluates and writes the model dir */
    stop_signal = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    double t_run = mf_now(), win_time = 0, win_tokens = 0;
    double last_val = st.h.n_val ? st.h.val[st.h.n_val - 1][1] : NAN;
    int64_t end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    float loss_step = 0;
    while (st.step < end && rc == 0) {
        int64_t step = st.step + 1;
        double t0 = mf_now();
        mf_model_zero_grad(st.model);
        double lsum = 0;
        for (int mb = 0; mb < o->accum && rc == 0; mb++) {
            /* every rank draws the whole micro-batch (cheap) and runs its own rows; each
             * rank's mean loss is weighted by its share of the counted targets, so the sum
             * over ranks is the loss of the whole micro-batch */
            long total = 0, mine = 0;
            for (int r = 0; r < o->batch; r++) {
                int c = mf_corpus_window(st.vocab, &tr, window_id(st.seed, step, mb, r), T,
                                         bt + (size_t)r * T, by + (size_t)r * T);
                total += c;
                if (r >= row0 && r < row1)
                    mine += c;
            }
            float l = 0;
            double share = total ? (double)mine / (double)total : 0;
            if (row1 > row0 &&
                ((rc = mf_model_forward(st.model, bt + (size_t)row0 * T, by + (size_t)row0 * T,
                                        row1 - row0, T, &l)) != 0 ||
                 (rc = mf_model_backward(st.model, (float)(share / o->accum))) != 0)) {
                rc = mf_err_set(err, rc, "the training step failed");
                break;
            }
            lsum += l * share;
        }
        if (rc)
            break;
        if (nranks > 1 && (mf_dist_sum_f32(mf_model_grads(st.model), mf_model_n_params(st.model)) ||
                           mf_dist_sum_f64(&lsum, 1))) {
            rc = mf_err_set(err, MF_EIO, "exchanging gradients between ranks failed");
            break;
        }
        loss_step = (float)(lsum / o->accum);
        if (!isfinite(loss_step)) {
            rc = mf_err_set(err, MF_EINVAL,
                            "the loss is no longer finite at step %lld: lower --lr and retry",
                            (long long)step);
            break;
        }
        double gn = mf_model_grad_norm(st.model);
        if (o->clip > 0 && gn > o->clip)
            mf_model_scale_grads(st.model, (float)(o->clip / gn));
        struct mf_adamw ad = {lr_at(o, st.warmup, step), o->beta1, o->beta2, 1e-8f,
                              o->weight_decay};
        mf_model_adamw_step(st.model, &ad, step);
        st.step = step;
        double dt = mf_now() - t0;
        double ntok = (double)o->batch * T * o->accum;
        st.step_time += dt;
        st.tokens += ntok;
        st.run_steps++;
        win_time += dt;
        win_tokens += ntok;
        if (hist_add(&st.h.train, &st.h.n_train, &st.h.cap_train, (double)step, loss_step) != 0) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
        int do_eval = step % eval_every == 0 || step == o->steps;
        /* a failure here stops the job at the exchange below, not before (the other ranks
         * would wait for this one forever) */
        if (do_eval && lead &&
            (rc = evaluate(&st, vt, vy, nwin, max_batch, T, &last_val, err)) == 0 &&
            hist_add(&st.h.val, &st.h.n_val, &st.h.cap_val, (double)step, last_val) != 0)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        if (lead && !q && (step % log_every == 0 || step == end || do_eval)) {
            double tps = win_time > 0 ? win_tokens / win_time : 0;
            double gf = tps * fl / 1e9;
            double eta = (double)(end - step) * (st.step_time / (double)st.run_steps);
            char es[16];
            fmt_secs(eta, es, sizeof es);
            int w = 20, filled = (int)((double)step / (double)end * w);
            char bar[24];
            for (int i = 0; i < w; i++)
                bar[i] = i < filled ? '#' : '.';
            bar[w] = '\0';
            char vs[32] = "";
            if (isfinite(last_val))
                snprintf(vs, sizeof vs, " val %.4f", last_val);
            fprintf(stderr,
                    "medfm: [%s] step %lld/%lld loss %.4f%s | %.0f tok/s %.2f GFLOP/s %.0f%% of "
                    "peak | ETA %s\n",
                    bar, (long long)step, (long long)end, loss_step, vs, tps, gf,
                    st.peak > 0 ? 100 * gf / st.peak : 0, es);
            win_time = win_tokens = 0;
        }
        if (nranks > 1 && (step % log_every == 0 || step == end) &&
            !mf_dist_same_u64(mf_hash64(mf_model_params(st.model),
                                        mf_model_n_params(st.model) * sizeof(float)))) {
            rc = mf_err_set(err, MF_EIO, "the ranks' weights differ after step %lld",
                            (long long)step);
            break;
        }
        int ck = o->checkpoint_every > 0 && step % o->checkpoint_every == 0 && step < end;
        /* 2: a rank failed, 1: a rank was signalled; either stops them all */
        int sig = rc ? 2 : stop_signal != 0;
        if (mf_dist_max_int(&sig) != 0 && rc == 0)
            rc = mf_err_set(err, MF_EIO, "exchanging state between ranks failed");
        if (rc == 0 && sig == 2)
            rc = mf_err_set(err, MF_EIO, "another rank failed");
        if (rc)
            break;
        if (sig || ck) {
            st.seconds += mf_now() - t_run;
            t_run = mf_now();
            int bad = lead ? checkpoint(&st, err) : 0;
            if (mf_dist_max_int(&bad) != 0 || bad) {
                rc = bad ? bad : MF_EIO;
                if (!lead)
                    mf_err_set(err, rc, "the first rank could not write the checkpoint");
                break;
            }
            if (sig) {
                res->interrupted = 1;
                if (!q)
                    mf_log_info("stopped at step %lld with a checkpoint: --resume goes on",
                                (long long)step);
                break;
            }
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc == 0 && !res->interrupted) {
        st.seconds += mf_now() - t_run;
        int bad = lead ? checkpoint(&st, err) : 0;
        if (mf_dist_max_int(&bad) == 0 && bad && !lead)
            mf_err_set(err, bad, "the first rank could not write the model dir");
        rc = bad;
    }
    res->step = st.step;
    res->train_loss = loss_step;
    res->val_loss = last_val;
    res->unigram_loss = st.uni;
    res->bigram_loss = st.bi;
    res->tokens_per_second = st.step_time > 0 ? st.tokens / st.step_time : 0;
    res->gflops = res->tokens_per_second * fl / 1e9;
    res->peak_gflops = st.peak;
out:
    res->seconds = mf_now() - t_start;
    free(bt);
    free(by);
    free(vt);
    free(vy);
    mf_corpus_free(&tr);
    mf_corpus_free(&va);
    cJSON_Delete(st.training_data);
    free(st.h.train);
    free(st.h.val);
    mf_model_free(st.model);
    mf_vocab_free(st.vocab);
    mf_store_close(st.store);
    return rc;
}
