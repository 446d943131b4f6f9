/* risk.c - k-anonymity and l-diversity of a store's quasi-identifiers (see risk.h). */
#include "deid/risk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "store/store.h"

const uint64_t mf_risk_bucket_lo[MF_RISK_BUCKETS] = {1, 2, 3, 4, 5, 10, 20, 50, 100, 1000};

static const char *const names[MF_RISK__N] = {"sex", "birth_year", "zip3", "race", "ethnicity"};

/* The code prefix of each static quasi-identifier (birth_year comes from MEDS_BIRTH). */
static const char *const prefixes[MF_RISK__N] = {"GENDER/", NULL, "ZIP3/", "RACE/", "ETHNICITY/"};

#define ALLOWED "sex, birth_year, zip3, race, ethnicity"

const char *mf_risk_quasi_name(enum mf_risk_quasi q)
{
    return (unsigned)q < MF_RISK__N ? names[q] : "?";
}

const char *mf_risk_quasi_names(void)
{
    return ALLOWED;
}

int mf_risk_parse_quasi(const char *list, enum mf_risk_quasi out[MF_RISK__N], size_t *n,
                        struct mf_err *err)
{
    *n = 0;
    unsigned seen = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int q = -1;
        for (int i = 0; i < MF_RISK__N; i++)
            if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
                q = i;
        if (q < 0)
            return mf_err_set(err, MF_EINVAL,
                              len ? "unknown quasi-identifier '%.*s' (allowed: " ALLOWED ")"
                                  : "empty quasi-identifier name%.*s (allowed: " ALLOWED ")",
                              (int)(len > 64 ? 64 : len), p);
        if (seen & (1u << q))
            return mf_err_set(err, MF_EINVAL, "quasi-identifier '%s' given twice", names[q]);
        seen |= 1u << q;
        out[(*n)++] = (enum mf_risk_quasi)q;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

double mf_risk_prosecutor_max(const struct mf_risk_result *r)
{
    return r->k_min ? 1.0 / (double)r->k_min : 0.0;
}

double mf_risk_average(const struct mf_risk_result *r)
{
    return r->patients ? (double)r->n_classes / (double)r->patients : 0.0;
}

/* --- the pass over the store -------------------------------------------------------------- */

/* What a code id means here: its quasi-identifier (QUASI_NONE, or an enum mf_risk_quasi, with
 * MF_RISK_BIRTH_YEAR for MEDS_BIRTH) and whether it is a sensitive code. */
#define QUASI_NONE 0xff
#define SENSITIVE  0x100

struct cls {
    uint64_t size, l;
    uint64_t key_off;
    uint32_t key_len;
    size_t rank; /* index after sorting */
};

struct pat {
    size_t cls;
    struct mf_str subject;
};

struct state {
    const struct mf_store *s;
    const struct mf_risk_opts *o;
    uint16_t *kind; /* per code id */
    uint32_t n_codes;
    struct mf_strmap classes; /* key -> class index */
    struct mf_strmap pairs;   /* (class, sensitive code) -> seen */
    struct cls *cls;
    size_t n_cls, cap_cls;
    struct pat *pat;
    size_t n_pat, cap_pat;
    unsigned char *sens_seen; /* per code id + 1 (none) */
    struct mf_buf val[MF_RISK__N];
    struct mf_buf key;
};

/* The year (UTC) of a time in microseconds. */
static int64_t year_of(int64_t t)
{
    const int64_t day = INT64_C(86400000000);
    int64_t d = t / day - (t % day < 0);
    int64_t y;
    unsigned m, dd;
    mf_civil_from_days(d, &y, &m, &dd);
    return y;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (q == NULL)
        return MF_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Classify every code of the store. */
static int classify(struct state *st, struct mf_err *err)
{
    st->n_codes = mf_store_n_codes(st->s);
    st->kind = malloc(((size_t)st->n_codes + 1) * sizeof *st->kind);
    st->sens_seen = calloc((size_t)st->n_codes + 1, 1);
    if (st->kind == NULL || st->sens_seen == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    size_t plen = st->o->sensitive ? strlen(st->o->sensitive) : 0;
    for (uint32_t id = 0; id < st->n_codes; id++) {
        struct mf_str c = mf_store_code(st->s, id);
        uint16_t k = QUASI_NONE;
        if (c.n == strlen(MF_CODE_BIRTH) && memcmp(c.p, MF_CODE_BIRTH, c.n) == 0) {
            k = MF_RISK_BIRTH_YEAR;
        } else {
            for (int q = 0; q < MF_RISK__N; q++) {
                size_t n = prefixes[q] ? strlen(prefixes[q]) : 0;
                if (n && c.n >= n && memcmp(c.p, prefixes[q], n) == 0)
                    k = (uint16_t)q;
            }
        }
        if (st->o->sensitive && c.n >= plen && memcmp(c.p, st->o->sensitive, plen) == 0)
            k |= SENSITIVE;
        st->kind[id] = k;
    }
    return 0;
}

/* Append a length-prefixed field to the class key. */
static int key_field(struct mf_buf *key, const char *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    return mf_buf_append(key, &len, sizeof len) || mf_buf_append(key, p, n) ? MF_ENOMEM : 0;
}

/* Add one patient: their tuple, class and sensitive value. */
static int add_patient(struct state *st, const struct mf_timeline *tl, struct mf_risk_result *r,
                       struct mf_err *err)
{
    for (int q = 0; q < MF_RISK__N; q++)
        mf_buf_reset(&st->val[q]);
    int64_t birth = 0;
    int has_birth = 0;
    uint32_t last[MF_RISK__N];
    memset(last, 0xff, sizeof last);
    uint32_t sens = UINT32_MAX; /* none */
    for (size_t i = 0; i < tl->n; i++) {
        uint32_t id = tl->code[i];
        if (id >= st->n_codes)
            return mf_err_set(err, MF_EPARSE, "the store is damaged: a code id out of range");
        uint16_t k = st->kind[id];
        if ((k & SENSITIVE) && sens == UINT32_MAX)
            sens = id;
        k &= 0xff;
        if (k == QUASI_NONE)
            continue;
        if (k == MF_RISK_BIRTH_YEAR) {
            if (tl->time[i] != MF_TIME_NONE && (!has_birth || tl->time[i] < birth)) {
                birth = tl->time[i];
                has_birth = 1;
            }
            continue;
        }
        if (id == last[k]) /* the same fact twice */
            continue;
        last[k] = id;
        struct mf_str c = mf_store_code(st->s, id);
        size_t n = strlen(prefixes[k]);
        struct mf_buf *v = &st->val[k];
        if ((v->len && mf_buf_putc(v, '+')) || mf_buf_append(v, c.p + n, c.n - n))
            return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    if (has_birth && mf_buf_printf(&st->val[MF_RISK_BIRTH_YEAR], "%" PRId64, year_of(birth)))
        return mf_err_set(err, MF_ENOMEM, "out of memory");

    mf_buf_reset(&st->key);
    for (size_t p = 0; p < st->o->n_quasi; p++) {
        const struct mf_buf *v = &st->val[st->o->quasi[p]];
        int rc = v->len ? key_field(&st->key, v->data, v->len)
                        : key_field(&st->key, MF_RISK_MISSING, strlen(MF_RISK_MISSING));
        if (rc)
            return mf_err_set(err, rc, "out of memory");
        if (v->len == 0)
            r->missing[p]++;
    }
    int added = 0;
    struct mf_strmap_slot *slot =
        mf_strmap_upsert(&st->classes, st->key.len ? st->key.data : "", st->key.len, &added);
    if (slot == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if (added) {
        if (grow((void **)&st->cls, &st->cap_cls, st->n_cls + 1, sizeof *st->cls))
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        struct cls *c = &st->cls[st->n_cls];
        memset(c, 0, sizeof *c);
        c->key_off = slot->key_off;
        c->key_len = slot->key_len;
        slot->value = st->n_cls++;
    }
    size_t ci = (size_t)slot->value;
    st->cls[ci].size++;

    if (st->o->sensitive) {
        unsigned char pair[12];
        uint64_t c64 = ci;
        memcpy(pair, &c64, 8);
        memcpy(pair + 8, &sens, 4);
        struct mf_strmap_slot *ps =
            mf_strmap_upsert(&st->pairs, (const char *)pair, sizeof pair, &added);
        if (ps == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        if (added)
            st->cls[ci].l++;
        size_t si = sens == UINT32_MAX ? st->n_codes : sens;
        if (!st->sens_seen[si]) {
            st->sens_seen[si] = 1;
            r->sensitive_values++;
        }
        r->without_sensitive += sens == UINT32_MAX;
    }

    if (grow((void **)&st->pat, &st->cap_pat, st->n_pat + 1, sizeof *st->pat))
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    st->pat[st->n_pat].cls = ci;
    st->pat[st->n_pat].subject = tl->subject;
    st->n_pat++;
    return 0;
}

/* --- ordering and the result --------------------------------------------------------------- */

/* The sort needs the key bytes; qsort has no context argument. */
static _Thread_local const char *sort_keys;

/* Compare two class keys field by field (bytewise values, a shorter prefix first). */
static int cmp_key(const char *a, uint32_t na, const char *b, uint32_t nb)
{
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        uint32_t la, lb;
        memcpy(&la, a + i, 4);
        memcpy(&lb, b + j, 4);
        size_t m = la < lb ? la : lb;
        int c = memcmp(a + i + 4, b + j + 4, m);
        if (c)
            return c;
        if (la != lb)
            return la < lb ? -1 : 1;
        i += 4 + la;
        j += 4 + lb;
    }
    return (i < na) - (j < nb);
}

static int cmp_cls(const void *x, const void *y)
{
    const struct cls *a = *(const struct cls *const *)x, *b = *(const struct cls *const *)y;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    return cmp_key(sort_keys + a->key_off, a->key_len, sort_keys + b->key_off, b->key_len);
}

static int cmp_rec(const void *x, const void *y)
{
    const struct pat *a = x, *b = y;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    size_t m = a->subject.n < b->subject.n ? a->subject.n : b->subject.n;
    int c = memcmp(a->subject.p, b->subject.p, m);
    if (c)
        return c;
    return (a->subject.n > b->subject.n) - (a->subject.n < b->subject.n);
}

/* Sort the classes, count, and copy values (and the listed subjects) into r->strings. */
static int finish(struct state *st, struct mf_risk_result *r, struct mf_err *err)
{
    const struct mf_risk_opts *o = st->o;
    struct cls **order = malloc((st->n_cls ? st->n_cls : 1) * sizeof(struct cls *));
    struct pat *recs = NULL;
    size_t n_recs = 0;
    int rc = MF_ENOMEM;
    if (order == NULL)
        goto out;
    for (size_t i = 0; i < st->n_cls; i++)
        order[i] = &st->cls[i];
    sort_keys = st->classes.keys.data;
    qsort(order, st->n_cls, sizeof(struct cls *), cmp_cls);
    for (size_t i = 0; i < st->n_cls; i++)
        order[i]->rank = i;

    r->patients = st->n_pat;
    r->n_classes = st->n_cls;
    r->k_min = st->n_cls ? order[0]->size : 0;
    size_t bytes = 1;
    for (size_t i = 0; i < st->n_cls; i++) {
        const struct cls *c = order[i];
        bytes += c->key_len; /* each length prefix (4 bytes) is more than its NUL */
        if (c->size < o->k) {
            r->classes_below_k++;
            r->patients_below_k += c->size;
        }
        int b = MF_RISK_BUCKETS - 1;
        while (b > 0 && c->size < mf_risk_bucket_lo[b])
            b--;
        r->hist_classes[b]++;
        r->hist_patients[b] += c->size;
        if (o->sensitive) {
            if (i == 0 || c->l < r->l_min)
                r->l_min = c->l;
            if (c->l < o->l) {
                r->classes_below_l++;
                r->patients_below_l += c->size;
            }
        }
    }
    if (o->list) {
        recs = malloc((r->patients_below_k ? r->patients_below_k : 1) * sizeof *recs);
        if (recs == NULL)
            goto out;
        for (size_t i = 0; i < st->n_pat; i++) {
            const struct cls *c = &st->cls[st->pat[i].cls];
            if (c->size < o->k) {
                recs[n_recs].cls = c->rank;
                recs[n_recs].subject = st->pat[i].subject;
                bytes += st->pat[i].subject.n + 1;
                n_recs++;
            }
        }
        qsort(recs, n_recs, sizeof *recs, cmp_rec);
    }

    r->strings = malloc(bytes);
    r->classes = calloc(st->n_cls ? st->n_cls : 1, sizeof *r->classes);
    r->below_k = calloc(n_recs ? n_recs : 1, sizeof *r->below_k);
    if (r->strings == NULL || r->classes == NULL || r->below_k == NULL)
        goto out;
    char *w = r->strings;
    for (size_t i = 0; i < st->n_cls; i++) {
        const struct cls *c = order[i];
        struct mf_risk_class *rc_ = &r->classes[i];
        rc_->size = c->size;
        rc_->l = c->l;
        const char *k = st->classes.keys.data + c->key_off;
        size_t off = 0;
        for (size_t p = 0; p < o->n_quasi; p++) {
            uint32_t len;
            memcpy(&len, k + off, 4);
            memcpy(w, k + off + 4, len);
            w[len] = '\0';
            rc_->values[p] = w;
            w += len + 1;
            off += 4 + len;
        }
    }
    for (size_t i = 0; i < n_recs; i++) {
        memcpy(w, recs[i].subject.p, recs[i].subject.n);
        w[recs[i].subject.n] = '\0';
        r->below_k[i].subject = w;
        r->below_k[i].cls = recs[i].cls;
        w += recs[i].subject.n + 1;
    }
    r->n_below_k = n_recs;
    rc = 0;
out:
    free(order);
    free(recs);
    if (rc)
        mf_err_set(err, rc, "out of memory");
    return rc;
}

int mf_risk_compute(const struct mf_store *s, const struct mf_risk_opts *opts,
                    struct mf_risk_result *out, struct mf_err *err)
{
    memset(out, 0, sizeof *out);
    out->opts = *opts;
    if (opts->n_quasi < 1 || opts->n_quasi > MF_RISK__N)
        return mf_err_set(err, MF_EINVAL, "between 1 and %d quasi-identifiers are needed",
                          MF_RISK__N);
    for (size_t p = 0; p < opts->n_quasi; p++)
        if ((unsigned)opts->quasi[p] >= MF_RISK__N)
            return mf_err_set(err, MF_EINVAL, "unknown quasi-identifier");
    if (opts->k < 1 || (opts->sensitive && opts->l < 1))
        return mf_err_set(err, MF_EINVAL, "k and l must be at least 1");
    if (opts->sensitive && opts->sensitive[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "the sensitive code prefix is empty");

    struct state st;
    memset(&st, 0, sizeof st);
    st.s = s;
    st.o = opts;
    mf_strmap_init(&st.classes);
    mf_strmap_init(&st.pairs);
    for (int q = 0; q < MF_RISK__N; q++)
        st.val[q] = (struct mf_buf)MF_BUF_INIT;
    st.key = (struct mf_buf)MF_BUF_INIT;

    int rc = classify(&st, err);
    for (size_t sh = 0; rc == 0 && sh < mf_store_n_shards(s); sh++) {
        uint64_t n = mf_store_shard_patients(s, sh);
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(s, sh, i, &tl) != 0)
                rc = mf_err_set(err, MF_EPARSE, "the store is damaged: shard %zu, patient %" PRIu64,
                                sh, i);
            else
                rc = add_patient(&st, &tl, out, err);
        }
    }
    if (rc == 0)
        rc = finish(&st, out, err);

    free(st.kind);
    free(st.sens_seen);
    free(st.cls);
    free(st.pat);
    mf_strmap_free(&st.classes);
    mf_strmap_free(&st.pairs);
    for (int q = 0; q < MF_RISK__N; q++)
        mf_buf_release(&st.val[q]);
    mf_buf_release(&st.key);
    return rc;
}

void mf_risk_result_free(struct mf_risk_result *r)
{
    if (r == NULL)
        return;
    free(r->classes);
    free(r->below_k);
    free(r->strings);
    memset(r, 0, sizeof *r);
}
