/* store.c - a task over an event store: code masks, event lists from timelines, labeling every
 * patient in parallel (with an optional per-patient sample), and LABELS.csv.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/progress.h"
#include "tasks/task_int.h"

int mf_task_store_masks(const struct mf_task *t, const struct mf_store *s, uint64_t **out,
                        struct mf_err *err)
{
    uint32_t nc = mf_store_n_codes(s);
    uint64_t *m = malloc((nc ? nc : 1) * sizeof *m);
    if (m == NULL) {
        mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
        return MF_ENOMEM;
    }
    for (uint32_t i = 0; i < nc; i++) {
        struct mf_str c = mf_store_code(s, i);
        m[i] = c.p ? mf_task_match_code(t, c.p, c.n) : 0;
    }
    *out = m;
    return 0;
}

int mf_task_evbuf_push(struct mf_task_evbuf *b, int64_t time, uint64_t mask)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 256;
        int64_t *nt = realloc(b->time, nc * sizeof *nt);
        if (nt == NULL)
            return MF_ENOMEM;
        b->time = nt;
        uint64_t *nm = realloc(b->mask, nc * sizeof *nm);
        if (nm == NULL)
            return MF_ENOMEM;
        b->mask = nm;
        b->cap = nc;
    }
    b->time[b->n] = time;
    b->mask[b->n] = mask;
    b->n++;
    return 0;
}

void mf_task_evbuf_free(struct mf_task_evbuf *b)
{
    free(b->time);
    free(b->mask);
    memset(b, 0, sizeof *b);
}

int mf_task_evbuf_timeline(const struct mf_task *t, const uint64_t *store_masks,
                           const struct mf_timeline *tl, int64_t until, struct mf_task_evbuf *out)
{
    for (size_t i = 0; i < tl->n; i++) {
        if (until != INT64_MAX && tl->time[i] > until)
            break; /* timelines are sorted by time, static facts first */
        uint64_t m = store_masks[tl->code[i]];
        if (m)
            m = mf_task_match_value(t, m, tl->value[i]);
        int rc = mf_task_evbuf_push(out, tl->time[i], m);
        if (rc)
            return rc;
    }
    return 0;
}

/* The order key of a sample for the per-patient choice: a hash of (seed, subject, trigger). */
static uint64_t pick_key(uint64_t seed, uint64_t subject_hash, int64_t trigger)
{
    uint64_t x = seed ^ (subject_hash * UINT64_C(0x9e3779b97f4a7c15)) ^ (uint64_t)trigger;
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    x += seed;
    x ^= x >> 29;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    return x ^ (x >> 32);
}

struct keyed {
    uint64_t key;
    size_t i;
};

static int by_key(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int by_index(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Keep k of the n samples: the k smallest keys, returned in trigger order. */
static size_t choose(struct mf_task_sample *s, size_t n, size_t k, uint64_t seed,
                     const struct mf_str *subject)
{
    if (n <= k)
        return n;
    struct keyed *ks = malloc(n * sizeof *ks);
    if (ks == NULL)
        return SIZE_MAX;
    uint64_t h = mf_hash64(subject->p, subject->n);
    for (size_t i = 0; i < n; i++)
        ks[i] = (struct keyed){pick_key(seed, h, s[i].trigger), i};
    qsort(ks, n, sizeof *ks, by_key);
    qsort(ks, k, sizeof *ks, by_index);
    for (size_t j = 0; j < k; j++)
        s[j] = s[ks[j].i]; /* ks sorted by index, so ks[j].i >= j: no overwrite before use */
    free(ks);
    return k;
}

struct patient_out {
    struct mf_task_sample *s;
    size_t n;
};

int mf_task_label_store(const struct mf_task *t, const struct mf_store *s,
                        const struct mf_task_store_opts *o, struct mf_task_row **out, size_t *n,
                        struct mf_err *err)
{
    *out = NULL;
    *n = 0;
    struct mf_task_store_opts def = {0};
    if (o == NULL)
        o = &def;
    size_t nsh = mf_store_n_shards(s);
    uint64_t total = 0;
    uint64_t *first = calloc(nsh + 1, sizeof *first); /* first global patient of each shard */
    uint64_t *masks = NULL;
    struct patient_out *po = NULL;
    int rc = 0;
    if (first == NULL)
        return mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
    for (size_t sh = 0; sh < nsh; sh++) {
        first[sh] = total;
        total += mf_store_shard_patients(s, sh);
    }
    first[nsh] = total;
    if ((rc = mf_task_store_masks(t, s, &masks, err)) != 0)
        goto out;
    po = calloc(total ? total : 1, sizeof *po);
    if (po == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
        goto out;
    }
    struct mf_progress prog;
    mf_progress_start(&prog, "labeling", "patients", (int64_t)total);
    int failed = 0;
    struct mf_err first_err = {0};
#pragma omp parallel
    {
        struct mf_task_evbuf eb = {0};
        struct mf_err e = {0};
#pragma omp for schedule(dynamic, 64)
        for (uint64_t gi = 0; gi < total; gi++) {
            if (__atomic_load_n(&failed, __ATOMIC_RELAXED))
                continue;
            size_t lo = 0, hi = nsh;
            while (hi - lo > 1) { /* the shard holding global patient gi */
                size_t mid = (lo + hi) / 2;
                if (first[mid] <= gi)
                    lo = mid;
                else
                    hi = mid;
            }
            struct mf_timeline tl;
            int r = mf_store_shard_timeline(s, lo, gi - first[lo], &tl);
            if (r == 0 && o->keep && !o->keep(o->keep_ctx, tl.subject.p, tl.subject.n)) {
                mf_progress_add(&prog, 1);
                continue;
            }
            eb.n = 0;
            if (r != 0)
                mf_err_set(&e, r, "%s: cannot read patient %llu of shard %zu", t->errname,
                           (unsigned long long)(gi - first[lo]), lo);
            else if ((r = mf_task_evbuf_timeline(t, masks, &tl, INT64_MAX, &eb)) != 0)
                mf_err_set(&e, r, "%s: out of memory", t->errname);
            size_t cap = 0;
            if (r == 0) {
                struct mf_task_events ev = mf_task_evbuf_events(&eb);
                r = mf_task_label(t, &ev, &po[gi].s, &po[gi].n, &cap, &e);
            }
            if (r == 0 && o->per_patient > 0) {
                size_t k = choose(po[gi].s, po[gi].n, o->per_patient, o->seed, &tl.subject);
                if (k == SIZE_MAX)
                    r = mf_err_set(&e, MF_ENOMEM, "%s: out of memory", t->errname);
                else
                    po[gi].n = k;
            }
            if (r != 0) {
#pragma omp critical(mf_task_label_store_err)
                {
                    if (!failed) {
                        first_err = e;
                        failed = 1;
                    }
                }
                __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            }
            mf_progress_add(&prog, 1);
        }
        mf_task_evbuf_free(&eb);
    }
    mf_progress_finish(&prog);
    if (failed) {
        rc = mf_err_set(err, first_err.code ? first_err.code : MF_EIO, "%s", first_err.msg);
        goto out;
    }
    size_t rows = 0;
    for (uint64_t gi = 0; gi < total; gi++)
        rows += po[gi].n;
    struct mf_task_row *r = malloc((rows ? rows : 1) * sizeof *r);
    if (r == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
        goto out;
    }
    size_t k = 0;
    for (size_t sh = 0; sh < nsh; sh++)
        for (uint64_t gi = first[sh]; gi < first[sh + 1]; gi++)
            for (size_t j = 0; j < po[gi].n; j++)
                r[k++] = (struct mf_task_row){(uint32_t)sh, gi - first[sh], po[gi].s[j].trigger,
                                              po[gi].s[j].index, po[gi].s[j].label};
    *out = r;
    *n = rows;
out:
    if (po)
        for (uint64_t gi = 0; gi < total; gi++)
            free(po[gi].s);
    free(po);
    free(masks);
    free(first);
    return rc;
}

/* A CSV field: quoted when it holds a comma, quote, CR or LF (quotes doubled). */
static int put_csv_field(struct mf_buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote)
        return mf_buf_append(b, s, n);
    int rc = mf_buf_putc(b, '"');
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s[i] == '"' ? mf_buf_append(b, "\"\"", 2) : mf_buf_putc(b, s[i]);
    return rc ? rc : mf_buf_putc(b, '"');
}

int mf_task_write_labels(const struct mf_store *s, const struct mf_task_row *rows, size_t n,
                         const char *path, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_buf_puts(&b, "subject_id,prediction_time,boolean_value\n");
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct mf_timeline tl;
        rc = mf_store_shard_timeline(s, rows[i].shard, rows[i].patient, &tl);
        if (rc) {
            mf_buf_release(&b);
            return mf_err_set(err, rc, "%s: row %zu names no patient of the store", path, i);
        }
        char ts[32];
        mf_time_format(rows[i].index, ts);
        rc = put_csv_field(&b, tl.subject.p, tl.subject.n);
        if (rc == 0)
            rc = mf_buf_printf(&b, ",%s,%s\n", ts,
                               rows[i].label < 0 ? ""
                               : rows[i].label   ? "true"
                                                 : "false");
    }
    if (rc) {
        mf_buf_release(&b);
        return mf_err_set(err, rc, "%s: out of memory", path);
    }
    rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}
