/* vocab.c - the tokenizer's vocabulary: fitting on a store's training split, vocab.json, and
 * lookups (see token.h and docs/tokenizer.md). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/rng.h"
#include "store/event.h"
#include "token/token_int.h"

#define MIN_COUNT_DEFAULT 5
#define FRAC_DEFAULT      0.1
#define DECILE_MIN_VALUES 10
#define DECILE_MAX_VALUES 10000                        /* values kept per code (reservoir sample) */
#define DECILE_SEED       UINT64_C(0x6d6564666d2d7131) /* fixed: fitting is deterministic */
#define VOCAB_FORMAT      "medfm-vocab"
#define VOCAB_VERSION     1
#define VOCAB_MAX_BYTES   ((size_t)1 << 30)
#define TOKEN_MAX_LEN     (MF_MAX_CODE_LEN + 16)

#define MIN_US(m) (INT64_C(m) * 60 * 1000000)
#define DAY_US(d) (INT64_C(d) * 86400 * 1000000)

const struct mf_tok_band mf_tok_bands[MF_TOK_NBANDS] = {
    {"TIME/5m-15m", MIN_US(5)},  {"TIME/15m-1h", MIN_US(15)},  {"TIME/1h-2h", MIN_US(60)},
    {"TIME/2h-6h", MIN_US(120)}, {"TIME/6h-12h", MIN_US(360)}, {"TIME/12h-1d", MIN_US(720)},
    {"TIME/1d-3d", DAY_US(1)},   {"TIME/3d-1w", DAY_US(3)},    {"TIME/1w-2w", DAY_US(7)},
    {"TIME/2w-1mo", DAY_US(14)}, {"TIME/1mo-3mo", DAY_US(30)}, {"TIME/3mo-6mo", DAY_US(91)},
    {"TIME/6mo", DAY_US(182)},
};

const char *const mf_tok_age_text[MF_TOK_NAGES] = {
    "AGE/0-4",   "AGE/5-9",   "AGE/10-14", "AGE/15-19", "AGE/20-24", "AGE/25-29", "AGE/30-34",
    "AGE/35-39", "AGE/40-44", "AGE/45-49", "AGE/50-54", "AGE/55-59", "AGE/60-64", "AGE/65-69",
    "AGE/70-74", "AGE/75-79", "AGE/80-84", "AGE/85-89", "AGE/90+",
};

static const char *const kind_names[] = {"special", "prefix", "time", "quantile", "code"};

const char *mf_split_name(enum mf_split s)
{
    switch (s) {
    case MF_SPLIT_TRAIN:
        return "train";
    case MF_SPLIT_TUNING:
        return "tuning";
    case MF_SPLIT_HELD_OUT:
        return "held_out";
    }
    return "?";
}

int mf_split_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, mf_split_name((enum mf_split)i)) == 0)
            return i;
    return -1;
}

size_t mf_tok_vocab_len(const char *code, size_t n)
{
    const char *slash = memchr(code, '/', n);
    return slash ? (size_t)(slash - code) : n;
}

/* Building */

struct mf_vocab *mf_vocab_new(void)
{
    struct mf_vocab *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    mf_strmap_init(&v->ids);
    v->min_count = MIN_COUNT_DEFAULT;
    v->tuning_frac = v->held_out_frac = FRAC_DEFAULT;
    v->text.max = (size_t)1 << 31;
    if (pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v);
        return NULL;
    }
    atomic_init(&v->binds, NULL);
    return v;
}

int mf_vocab_push(struct mf_vocab *v, const char *text, size_t n, enum mf_tok_kind kind,
                  uint64_t count, int rare, uint32_t *id)
{
    if (v->n == UINT32_MAX - 1)
        return MF_ETOOBIG;
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 256;
        uint64_t *off = realloc(v->text_off, ((size_t)cap + 1) * sizeof *off);
        if (off == NULL)
            return MF_ENOMEM;
        v->text_off = off;
        uint8_t *k = realloc(v->kind, cap);
        if (k == NULL)
            return MF_ENOMEM;
        v->kind = k;
        uint8_t *r = realloc(v->rare, cap);
        if (r == NULL)
            return MF_ENOMEM;
        v->rare = r;
        uint64_t *c = realloc(v->count, (size_t)cap * sizeof *c);
        if (c == NULL)
            return MF_ENOMEM;
        v->count = c;
        uint32_t *co = realloc(v->cut_of, (size_t)cap * sizeof *co);
        if (co == NULL)
            return MF_ENOMEM;
        v->cut_of = co;
        v->cap = cap;
    }
    int added = 0;
    struct mf_strmap_slot *sl = mf_strmap_upsert(&v->ids, text, n, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    if (!added)
        return MF_EEXIST;
    uint32_t i = v->n;
    sl->value = i;
    if (i == 0)
        v->text_off[0] = 0;
    int rc = mf_buf_append(&v->text, text, n);
    if (rc == 0)
        rc = mf_buf_putc(&v->text, '\0');
    if (rc)
        return rc;
    v->text_off[i + 1] = v->text.len;
    v->kind[i] = (uint8_t)kind;
    v->rare[i] = (uint8_t)(rare != 0);
    v->count[i] = count;
    v->cut_of[i] = UINT32_MAX;
    v->n++;
    if (id)
        *id = i;
    return 0;
}

int mf_vocab_set_cuts(struct mf_vocab *v, uint32_t id, const double *cuts)
{
    if (v->n_cuts == v->cap_cuts) {
        uint32_t cap = v->cap_cuts ? v->cap_cuts * 2 : 64;
        double *c = realloc(v->cuts, (size_t)cap * MF_TOK_NCUTS * sizeof *c);
        if (c == NULL)
            return MF_ENOMEM;
        v->cuts = c;
        v->cap_cuts = cap;
    }
    memcpy(v->cuts + (size_t)v->n_cuts * MF_TOK_NCUTS, cuts, MF_TOK_NCUTS * sizeof *cuts);
    v->cut_of[id] = v->n_cuts++;
    return 0;
}

static int64_t find(const struct mf_vocab *v, const char *text)
{
    const struct mf_strmap_slot *sl = mf_strmap_get(&v->ids, text, strlen(text));
    return sl ? (int64_t)sl->value : -1;
}

int mf_vocab_finish(struct mf_vocab *v, const char *what, struct mf_err *err)
{
    for (int i = 0; i < MF_TOK_NAGES; i++) {
        int64_t id = find(v, mf_tok_age_text[i]);
        if (id < 0 || v->kind[id] != MF_TOK_PREFIX)
            return mf_err_set(err, MF_EPARSE, "'%s': tokens: no prefix token %s", what,
                              mf_tok_age_text[i]);
        v->age_tok[i] = (uint32_t)id;
    }
    for (int i = 0; i < MF_TOK_NBANDS; i++) {
        int64_t id = find(v, mf_tok_bands[i].text);
        if (id < 0 || v->kind[id] != MF_TOK_TIME)
            return mf_err_set(err, MF_EPARSE, "'%s': tokens: no time token %s", what,
                              mf_tok_bands[i].text);
        v->time_tok[i] = (uint32_t)id;
    }
    for (int i = 0; i < MF_TOK_NQ; i++) {
        char q[8];
        snprintf(q, sizeof q, "Q%d", i + 1);
        int64_t id = find(v, q);
        if (id < 0 || v->kind[id] != MF_TOK_QUANTILE)
            return mf_err_set(err, MF_EPARSE, "'%s': tokens: no quantile token %s", what, q);
        v->q_tok[i] = (uint32_t)id;
    }
    if (v->n < 2 || strcmp(mf_vocab_token(v, MF_TOK_TIMELINE_END), "TIMELINE_END") != 0 ||
        strcmp(mf_vocab_token(v, MF_TOK_UNK), "UNK") != 0)
        return mf_err_set(err, MF_EPARSE, "'%s': tokens: ids 0 and 1 must be TIMELINE_END and UNK",
                          what);
    return 0;
}

void mf_vocab_free(struct mf_vocab *v)
{
    if (v == NULL)
        return;
    struct mf_tok_bind *b = atomic_load(&v->binds);
    while (b) {
        struct mf_tok_bind *next = b->next;
        free(b->map);
        free(b);
        b = next;
    }
    pthread_mutex_destroy(&v->mu);
    mf_strmap_free(&v->ids);
    mf_buf_release(&v->text);
    free(v->text_off);
    free(v->kind);
    free(v->rare);
    free(v->count);
    free(v->cut_of);
    free(v->cuts);
    free(v);
}

/* Lookups */

uint32_t mf_vocab_size(const struct mf_vocab *v)
{
    return v->n;
}

const char *mf_vocab_token(const struct mf_vocab *v, uint32_t id)
{
    return id < v->n ? v->text.data + v->text_off[id] : NULL;
}

enum mf_tok_kind mf_vocab_kind(const struct mf_vocab *v, uint32_t id)
{
    return id < v->n ? (enum mf_tok_kind)v->kind[id] : MF_TOK_SPECIAL;
}

int64_t mf_vocab_id(const struct mf_vocab *v, const char *tok, size_t n)
{
    const struct mf_strmap_slot *sl = mf_strmap_get(&v->ids, tok, n);
    return sl ? (int64_t)sl->value : -1;
}

int64_t mf_vocab_duration(const struct mf_vocab *v, uint32_t id)
{
    if (id >= v->n || v->kind[id] != MF_TOK_TIME)
        return 0;
    for (int i = 0; i < MF_TOK_NBANDS; i++)
        if (v->time_tok[i] == id)
            return mf_tok_bands[i].lo_us;
    return 0;
}

enum mf_split mf_vocab_split(const struct mf_vocab *v, const char *subject, size_t n)
{
    return mf_tok_split_of(subject, n, v->tuning_frac, v->held_out_frac);
}

size_t mf_vocab_prefix_max(const struct mf_vocab *v)
{
    return v->use_race ? 4 : 2;
}

/* Fitting */

struct reservoir {
    double *v;
    uint32_t n, cap;
    uint64_t seen;
};

static int reservoir_add(struct reservoir *r, struct mf_rng *rng, double x)
{
    if (r->n < DECILE_MAX_VALUES) {
        if (r->n == r->cap) {
            uint32_t cap = r->cap ? r->cap * 4 : 16;
            if (cap > DECILE_MAX_VALUES)
                cap = DECILE_MAX_VALUES;
            double *p = realloc(r->v, (size_t)cap * sizeof *p);
            if (p == NULL)
                return MF_ENOMEM;
            r->v = p;
            r->cap = cap;
        }
        r->v[r->n++] = x;
    } else {
        uint64_t j = mf_rng_below(rng, r->seen + 1);
        if (j < DECILE_MAX_VALUES)
            r->v[j] = x;
    }
    r->seen++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank quantiles: cut k (1..9) is the ceil(k n / 10)-th smallest value. */
static void decile_cuts(double *vals, uint32_t n, double cuts[MF_TOK_NCUTS])
{
    qsort(vals, n, sizeof *vals, cmp_double);
    for (uint32_t k = 1; k <= MF_TOK_NCUTS; k++) {
        uint64_t rank = ((uint64_t)k * n + 9) / 10;
        cuts[k - 1] = vals[rank - 1];
    }
}

static int prefix_is(struct mf_str c, const char *p)
{
    size_t n = strlen(p);
    return c.n > n && memcmp(c.p, p, n) == 0;
}

/* A body token candidate: its text and training count. */
struct cand {
    char *text;
    size_t n;
    uint64_t count;
    int rare;
    uint32_t code; /* store code id of a real code (UINT32_MAX for a rare token) */
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

int mf_vocab_fit(const struct mf_store *s, const struct mf_tok_opts *o, struct mf_vocab **out,
                 struct mf_err *err)
{
    *out = NULL;
    struct mf_tok_opts def = MF_TOK_OPTS_DEFAULT;
    if (o == NULL)
        o = &def;
    double tuning = o->tuning_frac < 0 ? FRAC_DEFAULT : o->tuning_frac;
    double held = o->held_out_frac < 0 ? FRAC_DEFAULT : o->held_out_frac;
    if (!(tuning <= 1) || !(held <= 1) || !(tuning + held <= 1))
        return mf_err_set(err, MF_EINVAL,
                          "tokenizer: the tuning and held-out fractions must lie in [0, 1] and "
                          "sum to at most 1");
    struct mf_vocab *v = mf_vocab_new();
    if (v == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory fitting the vocabulary");
    v->min_count = o->min_count ? o->min_count : MIN_COUNT_DEFAULT;
    v->use_race = o->use_race != 0;
    v->tuning_frac = tuning;
    v->held_out_frac = held;

    uint32_t nc = mf_store_n_codes(s);
    uint64_t *timed = calloc((size_t)nc + 1, sizeof *timed);
    uint64_t *stat = calloc((size_t)nc + 1, sizeof *stat);
    uint8_t *cat = calloc((size_t)nc + 1, 1);
    struct reservoir *res = calloc((size_t)nc + 1, sizeof *res);
    struct cand *cands = NULL;
    size_t n_cands = 0;
    int rc = 0;
    if (!timed || !stat || !cat || !res) {
        rc = MF_ENOMEM;
        goto done;
    }
    for (uint32_t c = 0; c < nc; c++) {
        struct mf_str t = mf_store_code(s, c);
        if (t.n == strlen(MF_CODE_BIRTH) && memcmp(t.p, MF_CODE_BIRTH, t.n) == 0)
            cat[c] = CAT_BIRTH;
        else if (prefix_is(t, "GENDER/"))
            cat[c] = CAT_GENDER;
        else if (prefix_is(t, "RACE/"))
            cat[c] = CAT_RACE;
        else if (prefix_is(t, "ETHNICITY/"))
            cat[c] = CAT_ETHNICITY;
    }

    /* one pass over the store */
    struct mf_rng rng;
    mf_rng_seed(&rng, DECILE_SEED, 0);
    struct mf_progress prog;
    mf_progress_start(&prog, "fitting the vocabulary", "patients", (int64_t)mf_store_n_patients(s));
    size_t nshards = mf_store_n_shards(s);
    for (size_t sh = 0; sh < nshards && rc == 0; sh++) {
        uint64_t np = mf_store_shard_patients(s, sh);
        for (uint64_t i = 0; i < np && rc == 0; i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(s, sh, i, &tl) != 0) {
                rc = mf_err_set(err, MF_EPARSE,
                                "the store's shard %zu is damaged at patient %" PRIu64, sh, i);
                break;
            }
            enum mf_split sp = mf_tok_split_of(tl.subject.p, tl.subject.n, tuning, held);
            v->fit_patients[sp]++;
            if (sp != MF_SPLIT_TRAIN)
                continue;
            for (size_t e = 0; e < tl.n; e++) {
                uint32_t c = tl.code[e];
                if (c >= nc)
                    continue;
                if (tl.time[e] == MF_TIME_NONE) {
                    stat[c]++;
                    continue;
                }
                if (cat[c] == CAT_BIRTH)
                    continue;
                timed[c]++;
                v->fit_events++;
                if (isfinite(tl.value[e]) && (rc = reservoir_add(&res[c], &rng, tl.value[e])))
                    break;
            }
            if ((i & 1023) == 1023)
                mf_progress_add(&prog, 1024);
        }
        mf_progress_add(&prog, (int64_t)(np & 1023));
    }
    mf_progress_finish(&prog);
    if (rc)
        goto done;

    /* fixed tokens and the prefix */
    rc = mf_vocab_push(v, "TIMELINE_END", 12, MF_TOK_SPECIAL, 0, 0, NULL);
    if (rc == 0)
        rc = mf_vocab_push(v, "UNK", 3, MF_TOK_SPECIAL, 0, 0, NULL);
    for (uint32_t c = 0; c < nc && rc == 0; c++)
        if (cat[c] == CAT_GENDER && stat[c] > 0) {
            struct mf_str t = mf_store_code(s, c);
            rc = mf_vocab_push(v, t.p, t.n, MF_TOK_PREFIX, stat[c], 0, NULL);
        }
    for (int i = 0; i < MF_TOK_NAGES && rc == 0; i++)
        rc = mf_vocab_push(v, mf_tok_age_text[i], strlen(mf_tok_age_text[i]), MF_TOK_PREFIX, 0, 0,
                           NULL);
    for (int k = CAT_RACE; k <= CAT_ETHNICITY && v->use_race && rc == 0; k++)
        for (uint32_t c = 0; c < nc && rc == 0; c++)
            if (cat[c] == k && stat[c] > 0) {
                struct mf_str t = mf_store_code(s, c);
                rc = mf_vocab_push(v, t.p, t.n, MF_TOK_PREFIX, stat[c], 0, NULL);
            }
    for (int i = 0; i < MF_TOK_NBANDS && rc == 0; i++)
        rc = mf_vocab_push(v, mf_tok_bands[i].text, strlen(mf_tok_bands[i].text), MF_TOK_TIME, 0, 0,
                           NULL);
    for (int i = 0; i < MF_TOK_NQ && rc == 0; i++) {
        char q[8];
        int qn = snprintf(q, sizeof q, "Q%d", i + 1);
        rc = mf_vocab_push(v, q, (size_t)qn, MF_TOK_QUANTILE, 0, 0, NULL);
    }
    if (rc)
        goto done;

    /* code tokens: frequent codes, MEDS_DEATH always, one "<VOCAB>/<rare>" per vocabulary */
    cands = calloc(2 * (size_t)nc + 1, sizeof *cands);
    if (cands == NULL) {
        rc = MF_ENOMEM;
        goto done;
    }
    int have_death = 0;
    for (uint32_t c = 0; c < nc && rc == 0; c++) {
        struct mf_str t = mf_store_code(s, c);
        int death = t.n == strlen(MF_CODE_DEATH) && memcmp(t.p, MF_CODE_DEATH, t.n) == 0;
        if (timed[c] == 0 && !death)
            continue;
        if (mf_vocab_id(v, t.p, t.n) >= 0)
            continue; /* the text of a fixed or prefix token: tokenized as that token */
        if (timed[c] >= v->min_count || death) {
            have_death |= death;
            struct cand *d = &cands[n_cands++];
            d->text = malloc(t.n + 1);
            if (d->text == NULL) {
                rc = MF_ENOMEM;
                break;
            }
            memcpy(d->text, t.p, t.n);
            d->text[t.n] = '\0';
            d->n = t.n;
            d->count = timed[c];
            d->code = c;
        }
        if (timed[c] == 0)
            continue;
        size_t vl = mf_tok_vocab_len(t.p, t.n);
        struct cand *d = &cands[n_cands++];
        d->n = vl + 1 + strlen(MF_TOK_RARE);
        d->text = malloc(d->n + 1);
        if (d->text == NULL) {
            rc = MF_ENOMEM;
            break;
        }
        memcpy(d->text, t.p, vl);
        d->text[vl] = '/';
        memcpy(d->text + vl + 1, MF_TOK_RARE, strlen(MF_TOK_RARE) + 1);
        d->count = timed[c] >= v->min_count || death ? 0 : timed[c];
        d->rare = 1;
        d->code = UINT32_MAX;
    }
    if (rc == 0 && !have_death) {
        struct cand *d = &cands[n_cands++];
        d->text = malloc(sizeof MF_CODE_DEATH);
        if (d->text == NULL)
            rc = MF_ENOMEM;
        else {
            memcpy(d->text, MF_CODE_DEATH, sizeof MF_CODE_DEATH);
            d->n = strlen(MF_CODE_DEATH);
            d->code = UINT32_MAX;
        }
    }
    if (rc)
        goto done;
    qsort(cands, n_cands, sizeof *cands, cmp_cand);
    for (size_t i = 0; i < n_cands && rc == 0; i++) {
        struct cand *d = &cands[i];
        /* rare tokens of one vocabulary repeat: merge them (a real code wins a tie) */
        size_t j = i;
        uint64_t count = d->count;
        int rare = d->rare;
        uint32_t code = d->code;
        while (j + 1 < n_cands && cmp_cand(&cands[j + 1], d) == 0) {
            j++;
            count += cands[j].count;
            rare &= cands[j].rare;
            if (cands[j].code != UINT32_MAX)
                code = cands[j].code;
        }
        if (code != UINT32_MAX)
            rare = 0;
        uint32_t id;
        rc = mf_vocab_push(v, d->text, d->n, MF_TOK_CODE, count, rare, &id);
        if (rc == 0 && code != UINT32_MAX && res[code].n >= DECILE_MIN_VALUES) {
            double cuts[MF_TOK_NCUTS];
            decile_cuts(res[code].v, res[code].n, cuts);
            rc = mf_vocab_set_cuts(v, id, cuts);
        }
        i = j;
    }
    if (rc == 0) {
        const char *sha = mf_store_manifest_sha256(s);
        snprintf(v->store_sha, sizeof v->store_sha, "%s", sha ? sha : "");
        rc = mf_vocab_finish(v, "vocabulary", err);
    }

done:
    if (rc && err && err->code == 0)
        mf_err_set(err, rc, "fitting the vocabulary failed: %s", mf_strerror(rc));
    for (size_t i = 0; i < n_cands; i++)
        free(cands[i].text);
    free(cands);
    if (res)
        for (uint32_t c = 0; c < nc; c++)
            free(res[c].v);
    free(res);
    free(cat);
    free(stat);
    free(timed);
    if (rc) {
        mf_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* vocab.json */

int mf_vocab_save(const struct mf_vocab *v, const char *path, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    int rc = 0;
    rc |= mf_buf_printf(&b,
                        "{\n\"format\": \"%s\",\n\"version\": %d,\n\"min_count\": %" PRIu32
                        ",\n\"use_race\": %s,\n",
                        VOCAB_FORMAT, VOCAB_VERSION, v->min_count, v->use_race ? "true" : "false");
    rc |= mf_buf_printf(&b, "\"split\": {\"rule\": \"sha256\", \"salt\": \"%s\", \"tuning_frac\": ",
                        MF_TOK_SPLIT_SALT);
    rc |= mf_buf_put_double(&b, v->tuning_frac);
    rc |= mf_buf_puts(&b, ", \"held_out_frac\": ");
    rc |= mf_buf_put_double(&b, v->held_out_frac);
    rc |= mf_buf_printf(&b,
                        "},\n\"deciles\": {\"rule\": \"nearest-rank\", \"min_values\": %d, "
                        "\"max_values\": %d},\n",
                        DECILE_MIN_VALUES, DECILE_MAX_VALUES);
    rc |= mf_buf_printf(&b,
                        "\"fit\": {\"store_manifest_sha256\": \"%s\", \"patients\": {\"train\": "
                        "%" PRIu64 ", \"tuning\": %" PRIu64 ", \"held_out\": %" PRIu64
                        "}, \"events\": %" PRIu64 "},\n\"tokens\": [\n",
                        v->store_sha, v->fit_patients[0], v->fit_patients[1], v->fit_patients[2],
                        v->fit_events);
    for (uint32_t i = 0; i < v->n && rc == 0; i++) {
        const char *t = mf_vocab_token(v, i);
        rc |= mf_buf_printf(&b, "{\"id\": %" PRIu32 ", \"text\": ", i);
        rc |= mf_buf_json_string(&b, t, v->text_off[i + 1] - v->text_off[i] - 1);
        rc |= mf_buf_printf(&b, ", \"kind\": \"%s\"", kind_names[v->kind[i]]);
        if (v->kind[i] == MF_TOK_TIME)
            rc |= mf_buf_printf(&b, ", \"duration_us\": %" PRId64, mf_vocab_duration(v, i));
        if (v->kind[i] == MF_TOK_CODE || (v->kind[i] == MF_TOK_PREFIX && v->count[i]))
            rc |= mf_buf_printf(&b, ", \"count\": %" PRIu64, v->count[i]);
        if (v->rare[i])
            rc |= mf_buf_puts(&b, ", \"rare\": true");
        if (v->cut_of[i] != UINT32_MAX) {
            const double *c = v->cuts + (size_t)v->cut_of[i] * MF_TOK_NCUTS;
            rc |= mf_buf_puts(&b, ", \"cuts\": [");
            for (int k = 0; k < MF_TOK_NCUTS; k++) {
                if (k)
                    rc |= mf_buf_puts(&b, ", ");
                rc |= mf_buf_put_double(&b, c[k]);
            }
            rc |= mf_buf_putc(&b, ']');
        }
        rc |= mf_buf_puts(&b, i + 1 < v->n ? "},\n" : "}\n");
    }
    rc |= mf_buf_puts(&b, "]\n}\n");
    if (rc) {
        mf_buf_release(&b);
        return mf_err_set(err, MF_ENOMEM, "out of memory writing '%s'", path);
    }
    rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}

static int bad(struct mf_err *err, const char *path, const char *field, const char *what)
{
    return mf_err_set(err, MF_EPARSE, "'%s': %s: %s", path, field, what);
}

static int bad_tok(struct mf_err *err, const char *path, size_t i, const char *field,
                   const char *what)
{
    return mf_err_set(err, MF_EPARSE, "'%s': tokens[%zu]%s%s: %s", path, i, field[0] ? "." : "",
                      field, what);
}

/* A non-negative integer that a double holds exactly. */
static int get_count(const cJSON *x, uint64_t *out)
{
    if (!cJSON_IsNumber(x))
        return -1;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int load_tree(const cJSON *root, const char *path, struct mf_vocab *v, struct mf_err *err)
{
    if (!cJSON_IsObject(root))
        return bad(err, path, "(top level)", "not a JSON object");
    const char *fmt = mf_json_str(root, "format");
    if (fmt == NULL || strcmp(fmt, VOCAB_FORMAT) != 0)
        return bad(err, path, "format", "missing, or not \"" VOCAB_FORMAT "\"");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsNumber(x))
        return bad(err, path, "version", "missing or not a number");
    if (x->valuedouble != VOCAB_VERSION)
        return mf_err_set(err, MF_EUNSUPPORTED, "'%s': version: this medfm reads version %d", path,
                          VOCAB_VERSION);
    uint64_t u;
    if (get_count(cJSON_GetObjectItemCaseSensitive(root, "min_count"), &u) != 0 || u < 1 ||
        u > UINT32_MAX)
        return bad(err, path, "min_count", "missing or not a positive integer");
    v->min_count = (uint32_t)u;
    x = cJSON_GetObjectItemCaseSensitive(root, "use_race");
    if (!cJSON_IsBool(x))
        return bad(err, path, "use_race", "missing or not true/false");
    v->use_race = cJSON_IsTrue(x);

    const cJSON *sp = mf_json_obj(root, "split");
    if (sp == NULL)
        return bad(err, path, "split", "missing or not an object");
    const char *rule = mf_json_str(sp, "rule"), *salt = mf_json_str(sp, "salt");
    if (rule == NULL || strcmp(rule, "sha256") != 0)
        return mf_err_set(err, MF_EUNSUPPORTED, "'%s': split.rule: not \"sha256\"", path);
    if (salt == NULL || strcmp(salt, MF_TOK_SPLIT_SALT) != 0)
        return mf_err_set(err, MF_EUNSUPPORTED, "'%s': split.salt: not \"%s\"", path,
                          MF_TOK_SPLIT_SALT);
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(sp, "tuning_frac");
    const cJSON *hf = cJSON_GetObjectItemCaseSensitive(sp, "held_out_frac");
    if (!cJSON_IsNumber(tf) || !(tf->valuedouble >= 0 && tf->valuedouble <= 1))
        return bad(err, path, "split.tuning_frac", "missing or not a number in [0, 1]");
    if (!cJSON_IsNumber(hf) || !(hf->valuedouble >= 0 && hf->valuedouble <= 1))
        return bad(err, path, "split.held_out_frac", "missing or not a number in [0, 1]");
    if (tf->valuedouble + hf->valuedouble > 1)
        return bad(err, path, "split", "the fractions sum to more than 1");
    v->tuning_frac = tf->valuedouble;
    v->held_out_frac = hf->valuedouble;

    const cJSON *fit = mf_json_obj(root, "fit");
    if (fit) {
        const char *sha = mf_json_str(fit, "store_manifest_sha256");
        if (sha && strlen(sha) < sizeof v->store_sha)
            memcpy(v->store_sha, sha, strlen(sha) + 1);
        const cJSON *pt = mf_json_obj(fit, "patients");
        for (int k = 0; k < 3 && pt; k++) {
            if (get_count(cJSON_GetObjectItemCaseSensitive(pt, mf_split_name((enum mf_split)k)),
                          &u) == 0)
                v->fit_patients[k] = u;
        }
        if (get_count(cJSON_GetObjectItemCaseSensitive(fit, "events"), &u) == 0)
            v->fit_events = u;
    }

    const cJSON *toks = mf_json_arr(root, "tokens");
    if (toks == NULL)
        return bad(err, path, "tokens", "missing or not an array");
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, toks)
    {
        if (!cJSON_IsObject(t))
            return bad_tok(err, path, i, "", "not an object");
        x = cJSON_GetObjectItemCaseSensitive(t, "id");
        if (get_count(x, &u) != 0 || u != i)
            return bad_tok(err, path, i, "id", "missing, or not the token's position");
        const char *text = mf_json_str(t, "text");
        size_t tn = text ? strlen(text) : 0;
        if (tn == 0 || tn > TOKEN_MAX_LEN)
            return bad_tok(err, path, i, "text", "missing, empty or too long");
        const char *kn = mf_json_str(t, "kind");
        int kind = -1;
        for (int k = 0; kn && k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
            if (strcmp(kn, kind_names[k]) == 0)
                kind = k;
        if (kind < 0)
            return bad_tok(err, path, i, "kind",
                           "missing, or not special, prefix, time, quantile or code");
        uint64_t count = 0;
        x = cJSON_GetObjectItemCaseSensitive(t, "count");
        if (x && get_count(x, &count) != 0)
            return bad_tok(err, path, i, "count", "not a non-negative integer");
        if (kind == MF_TOK_CODE && x == NULL)
            return bad_tok(err, path, i, "count", "missing");
        x = cJSON_GetObjectItemCaseSensitive(t, "rare");
        if (x && !cJSON_IsBool(x))
            return bad_tok(err, path, i, "rare", "not true/false");
        int rare = cJSON_IsTrue(x);
        if (kind == MF_TOK_TIME) {
            int band = -1;
            for (int k = 0; k < MF_TOK_NBANDS; k++)
                if (strcmp(text, mf_tok_bands[k].text) == 0)
                    band = k;
            if (band < 0)
                return bad_tok(err, path, i, "text", "not a time band this medfm knows");
            x = cJSON_GetObjectItemCaseSensitive(t, "duration_us");
            if (!cJSON_IsNumber(x) || x->valuedouble != (double)mf_tok_bands[band].lo_us)
                return bad_tok(err, path, i, "duration_us",
                               "missing, or not the band's lower edge");
        }
        if (kind == MF_TOK_PREFIX && strncmp(text, "GENDER/", 7) != 0 &&
            strncmp(text, "AGE/", 4) != 0 && strncmp(text, "RACE/", 5) != 0 &&
            strncmp(text, "ETHNICITY/", 10) != 0)
            return bad_tok(err, path, i, "text",
                           "a prefix token must start with GENDER/, AGE/, RACE/ or ETHNICITY/");
        int rc = mf_vocab_push(v, text, tn, (enum mf_tok_kind)kind, count, rare, NULL);
        if (rc == MF_EEXIST)
            return bad_tok(err, path, i, "text", "the same text as an earlier token");
        if (rc)
            return mf_err_set(err, rc, "'%s': out of memory at tokens[%zu]", path, i);
        x = cJSON_GetObjectItemCaseSensitive(t, "cuts");
        if (x) {
            if (kind != MF_TOK_CODE || rare)
                return bad_tok(err, path, i, "cuts", "only a code token has cut points");
            if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != MF_TOK_NCUTS)
                return bad_tok(err, path, i, "cuts", "not an array of 9 numbers");
            double cuts[MF_TOK_NCUTS] = {0};
            int k = 0;
            const cJSON *c;
            cJSON_ArrayForEach(c, x)
            {
                if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) ||
                    (k > 0 && c->valuedouble < cuts[k - 1]))
                    return bad_tok(err, path, i, "cuts", "not 9 finite non-decreasing numbers");
                cuts[k++] = c->valuedouble;
            }
            if ((rc = mf_vocab_set_cuts(v, v->n - 1, cuts)) != 0)
                return mf_err_set(err, rc, "'%s': out of memory at tokens[%zu]", path, i);
        }
        i++;
    }
    return mf_vocab_finish(v, path, err);
}

int mf_vocab_from_json(const cJSON *root, const char *name, struct mf_vocab **out,
                       struct mf_err *err)
{
    *out = NULL;
    struct mf_vocab *v = mf_vocab_new();
    if (v == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory reading '%s'", name);
    int rc = load_tree(root, name, v, err);
    if (rc) {
        mf_vocab_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int mf_vocab_load(const char *path, struct mf_vocab **out, struct mf_err *err)
{
    *out = NULL;
    cJSON *root = mf_json_read_file(path, VOCAB_MAX_BYTES, err);
    if (root == NULL)
        return err && err->code ? err->code : MF_EPARSE;
    int rc = mf_vocab_from_json(root, path, out, err);
    mf_json_release(root);
    return rc;
}
