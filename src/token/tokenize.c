/* tokenize.c - timelines to tokens: the split rule, the per-store code map, the body and the
 * static prefix (see token.h and docs/tokenizer.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "store/event.h"
#include "token/token_int.h"

enum mf_split mf_tok_split_of(const char *id, size_t n, double tuning, double held_out)
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, sizeof MF_TOK_SPLIT_SALT, (const uint8_t *)MF_TOK_SPLIT_SALT); /* and NUL */
    sha256_update(&c, n, (const uint8_t *)id);
    sha256_digest(&c, sizeof d, d);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | d[i];
    double u = (double)x * 0x1p-64;
    if (u < held_out)
        return MF_SPLIT_HELD_OUT;
    if (u < held_out + tuning)
        return MF_SPLIT_TUNING;
    return MF_SPLIT_TRAIN;
}

/* The map from a store's code ids to tokens */

static uint32_t lookup(const struct mf_vocab *v, const char *p, size_t n)
{
    int64_t id = mf_vocab_id(v, p, n);
    return id < 0 ? UINT32_MAX : (uint32_t)id;
}

static int build_map(const struct mf_vocab *v, const struct mf_store *s, struct mf_tok_code *map,
                     uint32_t nc)
{
    char rare[MF_MAX_CODE_LEN + 16];
    for (uint32_t c = 0; c < nc; c++) {
        struct mf_str t = mf_store_code(s, c);
        struct mf_tok_code *m = &map[c];
        m->cat = CAT_OTHER;
        m->stat = UINT32_MAX;
        m->cut = UINT32_MAX;
        if (t.n == strlen(MF_CODE_BIRTH) && memcmp(t.p, MF_CODE_BIRTH, t.n) == 0)
            m->cat = CAT_BIRTH;
        else if (t.n > 7 && memcmp(t.p, "GENDER/", 7) == 0)
            m->cat = CAT_GENDER;
        else if (t.n > 5 && memcmp(t.p, "RACE/", 5) == 0)
            m->cat = CAT_RACE;
        else if (t.n > 10 && memcmp(t.p, "ETHNICITY/", 10) == 0)
            m->cat = CAT_ETHNICITY;
        uint32_t id = t.p ? lookup(v, t.p, t.n) : UINT32_MAX;
        if (m->cat == CAT_GENDER || (v->use_race && m->cat >= CAT_RACE))
            m->stat = id != UINT32_MAX && v->kind[id] == MF_TOK_PREFIX ? id : MF_TOK_UNK;
        if (id != UINT32_MAX) {
            /* a code's own token; the text of a special, time or decile token is no code */
            enum mf_tok_kind k = (enum mf_tok_kind)v->kind[id];
            m->tok = k == MF_TOK_CODE || k == MF_TOK_PREFIX ? id : MF_TOK_UNK;
            m->cut = v->cut_of[id];
            continue;
        }
        size_t vl = t.p ? mf_tok_vocab_len(t.p, t.n) : 0;
        m->tok = MF_TOK_UNK;
        if (vl > 0 && vl + 1 + strlen(MF_TOK_RARE) < sizeof rare) {
            int k = snprintf(rare, sizeof rare, "%.*s/%s", (int)vl, t.p, MF_TOK_RARE);
            id = lookup(v, rare, (size_t)k);
            if (id != UINT32_MAX && v->kind[id] == MF_TOK_CODE)
                m->tok = id;
        }
    }
    return 0;
}

static int bind_matches(const struct mf_tok_bind *b, const struct mf_store *s)
{
    if (b->store != s || b->n_codes != mf_store_n_codes(s) ||
        b->manifest != (const void *)mf_store_manifest(s))
        return 0;
    if (b->n_codes == 0)
        return 1;
    return b->code0 == (const void *)mf_store_code(s, 0).p &&
           b->code_last == (const void *)mf_store_code(s, b->n_codes - 1).p;
}

/* The map of store s, built on first use.  Readers walk a list that only grows (entries are
 * published with release stores), so after the first call no lock is taken. */
static const struct mf_tok_bind *bind_get(const struct mf_vocab *cv, const struct mf_store *s,
                                          struct mf_err *err)
{
    struct mf_vocab *v = (struct mf_vocab *)cv; /* the cache is not the vocabulary's state */
    for (struct mf_tok_bind *b = atomic_load_explicit(&v->binds, memory_order_acquire); b;
         b = b->next)
        if (bind_matches(b, s))
            return b;
    pthread_mutex_lock(&v->mu);
    struct mf_tok_bind *head = atomic_load_explicit(&v->binds, memory_order_acquire);
    for (struct mf_tok_bind *b = head; b; b = b->next)
        if (bind_matches(b, s)) {
            pthread_mutex_unlock(&v->mu);
            return b;
        }
    uint32_t nc = mf_store_n_codes(s);
    struct mf_tok_bind *b = calloc(1, sizeof *b);
    struct mf_tok_code *map = calloc((size_t)nc + 1, sizeof *map);
    if (b == NULL || map == NULL) {
        pthread_mutex_unlock(&v->mu);
        free(b);
        free(map);
        mf_err_set(err, MF_ENOMEM, "out of memory mapping the store's codes to tokens");
        return NULL;
    }
    build_map(v, s, map, nc);
    b->store = s;
    b->n_codes = nc;
    b->manifest = mf_store_manifest(s);
    b->code0 = nc ? mf_store_code(s, 0).p : NULL;
    b->code_last = nc ? mf_store_code(s, nc - 1).p : NULL;
    b->map = map;
    b->next = head;
    atomic_store_explicit(&v->binds, b, memory_order_release);
    pthread_mutex_unlock(&v->mu);
    return b;
}

int mf_vocab_bind(const struct mf_vocab *v, const struct mf_store *s, struct mf_err *err)
{
    return bind_get(v, s, err) ? 0 : MF_ENOMEM;
}

void mf_vocab_unbind(const struct mf_vocab *cv, const struct mf_store *s)
{
    struct mf_vocab *v = (struct mf_vocab *)cv;
    pthread_mutex_lock(&v->mu);
    struct mf_tok_bind *head = atomic_load_explicit(&v->binds, memory_order_acquire);
    struct mf_tok_bind **pp = &head;
    while (*pp) {
        struct mf_tok_bind *b = *pp;
        if (b->store == s) {
            *pp = b->next;
            free(b->map);
            free(b);
        } else {
            pp = &b->next;
        }
    }
    atomic_store_explicit(&v->binds, head, memory_order_release);
    pthread_mutex_unlock(&v->mu);
}

/* Tokens */

static int reserve(struct mf_tokens *o, size_t more)
{
    if (o->n + more <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 64;
    while (cap < o->n + more)
        cap *= 2;
    uint32_t *t = realloc(o->tok, cap * sizeof *t);
    if (t == NULL)
        return MF_ENOMEM;
    o->tok = t;
    int64_t *tm = realloc(o->time, cap * sizeof *tm);
    if (tm == NULL)
        return MF_ENOMEM;
    o->time = tm;
    o->cap = cap;
    return 0;
}

static inline void put(struct mf_tokens *o, uint32_t tok, int64_t time)
{
    o->tok[o->n] = tok;
    o->time[o->n] = time;
    o->n++;
}

/* The decile of x under cuts: 1 + the number of cut points strictly below x. */
static inline uint32_t decile(const double *cuts, double x)
{
    uint32_t q = 0;
    for (int k = 0; k < MF_TOK_NCUTS; k++)
        q += cuts[k] < x;
    return q;
}

static int tokenize_map(const struct mf_vocab *v, const struct mf_tok_code *map, uint32_t nc,
                        const struct mf_timeline *t, struct mf_tokens *out, struct mf_err *err);

int mf_tokenize(const struct mf_vocab *v, const struct mf_store *s, const struct mf_timeline *t,
                struct mf_tokens *out, struct mf_err *err)
{
    const struct mf_tok_bind *b = bind_get(v, s, err);
    if (b == NULL)
        return MF_ENOMEM;
    return tokenize_map(v, b->map, b->n_codes, t, out, err);
}

int mf_tokenize_unbound(const struct mf_vocab *v, const struct mf_store *s,
                        const struct mf_timeline *t, struct mf_tokens *out, struct mf_err *err)
{
    uint32_t nc = mf_store_n_codes(s);
    struct mf_tok_code *map = calloc((size_t)nc + 1, sizeof *map);
    if (map == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory mapping the store's codes to tokens");
    build_map(v, s, map, nc);
    int rc = tokenize_map(v, map, nc, t, out, err);
    free(map);
    return rc;
}

static int tokenize_map(const struct mf_vocab *v, const struct mf_tok_code *map, uint32_t nc,
                        const struct mf_timeline *t, struct mf_tokens *out, struct mf_err *err)
{
    out->n = 0;
    out->birth = MF_TIME_NONE;
    for (int k = 0; k < 4; k++)
        out->static_tok[k] = UINT32_MAX;
    out->n_static = 0;
    /* a code and a decile per event, and the end; time tokens reserve as they come */
    if (reserve(out, 2 * t->n + 1) != 0)
        goto nomem;
    int64_t prev = MF_TIME_NONE;
    static const struct mf_tok_code unknown = {MF_TOK_UNK, UINT32_MAX, UINT32_MAX, CAT_OTHER};
    for (size_t i = 0; i < t->n; i++) {
        uint32_t c = t->code[i];
        const struct mf_tok_code *m = c < nc ? &map[c] : &unknown;
        int64_t time = t->time[i];
        if (time == MF_TIME_NONE) {
            int slot = m->cat == CAT_GENDER ? 0 : m->cat == CAT_RACE ? 1 : 2;
            if (m->stat != UINT32_MAX && m->cat >= CAT_GENDER &&
                out->static_tok[slot] == UINT32_MAX)
                out->static_tok[slot] = m->stat;
            continue;
        }
        if (m->cat == CAT_BIRTH) {
            if (out->birth == MF_TIME_NONE)
                out->birth = time;
            continue;
        }
        if (prev != MF_TIME_NONE && time - prev >= MF_TOK_MIN_MINUTES) {
            size_t k = mf_vocab_gap_tokens(v, time - prev, NULL, 0);
            if (reserve(out, k + 2 + 2 * (t->n - i)) != 0)
                goto nomem;
            mf_vocab_gap_tokens(v, time - prev, out->tok + out->n, k);
            for (size_t r = 0; r < k; r++)
                out->time[out->n + r] = time;
            out->n += k;
        }
        put(out, m->tok, time);
        if (m->cut != UINT32_MAX && !isnan(t->value[i]))
            put(out, v->q_tok[decile(v->cuts + (size_t)m->cut * MF_TOK_NCUTS, t->value[i])], time);
        prev = time;
    }
    put(out, MF_TOK_TIMELINE_END, prev);
    out->n_static = 3; /* the slots in use, present or not */
    return 0;
nomem:
    out->n = 0;
    return mf_err_set(err, MF_ENOMEM, "out of memory tokenizing a timeline of %zu events", t->n);
}

size_t mf_vocab_gap_tokens(const struct mf_vocab *v, int64_t gap, uint32_t *out, size_t cap)
{
    if (gap < MF_TOK_MIN_MINUTES)
        return 0;
    const int64_t six_months = mf_tok_bands[MF_TOK_NBANDS - 1].lo_us;
    int64_t k = gap / six_months;
    gap -= k * six_months;
    size_t n = (size_t)k + (gap >= MF_TOK_MIN_MINUTES ? 1 : 0);
    if (out == NULL || cap < n)
        return n;
    for (int64_t r = 0; r < k; r++)
        out[r] = v->time_tok[MF_TOK_NBANDS - 1];
    if (gap >= MF_TOK_MIN_MINUTES) {
        int band = MF_TOK_NBANDS - 2;
        while (band > 0 && gap < mf_tok_bands[band].lo_us)
            band--;
        out[k] = v->time_tok[band];
    }
    return n;
}

/* Whole years from birth to at, by the calendar (0 when at is before birth). */
static int64_t floor_days(int64_t t)
{
    int64_t d = t / MF_USEC_PER_DAY;
    return t % MF_USEC_PER_DAY < 0 ? d - 1 : d;
}

static int64_t age_years(int64_t birth, int64_t at)
{
    if (at <= birth)
        return 0;
    int64_t yb, ya;
    unsigned mb, db, ma, da;
    mf_civil_from_days(floor_days(birth), &yb, &mb, &db);
    mf_civil_from_days(floor_days(at), &ya, &ma, &da);
    int64_t age = ya - yb - ((ma < mb || (ma == mb && da < db)) ? 1 : 0);
    return age < 0 ? 0 : age;
}

size_t mf_tokens_prefix(const struct mf_vocab *v, const struct mf_tokens *t, int64_t at,
                        uint32_t *out)
{
    size_t k = 0;
    if (t->static_tok[0] != UINT32_MAX)
        out[k++] = t->static_tok[0];
    if (t->birth != MF_TIME_NONE && at != MF_TIME_NONE) {
        int64_t band = age_years(t->birth, at) / 5;
        out[k++] = v->age_tok[band < MF_TOK_NAGES - 1 ? band : MF_TOK_NAGES - 1];
    }
    if (v->use_race)
        for (int s = 1; s <= 2; s++)
            if (t->static_tok[s] != UINT32_MAX)
                out[k++] = t->static_tok[s];
    return k;
}

void mf_tokens_free(struct mf_tokens *t)
{
    if (t == NULL)
        return;
    free(t->tok);
    free(t->time);
    t->tok = NULL;
    t->time = NULL;
    t->n = t->cap = 0;
}
