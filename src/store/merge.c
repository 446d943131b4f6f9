/* merge.c - the commit of a store: spill what is left, build the code and unit dictionaries,
 * k-way merge the sorted runs into shards, write the manifest, swap the folder into place. */
#define _GNU_SOURCE
#include "store/store.h"
#include "store/record.h"
#include "store/writer_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/strmap.h"

/* An output file whose SHA-256 is computed as it is written. */
struct ofile {
    FILE *f;
    struct mf_sha256 sha;
    char name[64]; /* relative to the store root */
    uint64_t bytes;
};

static int ofile_open(struct ofile *o, const char *root, const char *name, struct mf_err *err)
{
    char path[PATH_MAX];
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s", root, name);
    o->bytes = 0;
    o->f = fopen(path, "wb");
    if (o->f == NULL)
        return mf_err_set(err, MF_EIO, "cannot create '%s': %s", path, strerror(errno));
    setvbuf(o->f, NULL, _IOFBF, (size_t)1 << 18);
    if (mf_sha256_init(&o->sha) != 0) {
        fclose(o->f);
        o->f = NULL;
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    return 0;
}

static int ofile_write(struct ofile *o, const void *p, size_t n, struct mf_err *err)
{
    if (n && fwrite(p, 1, n, o->f) != n)
        return mf_err_set(err, MF_EIO, "cannot write '%s' in the new store", o->name);
    mf_sha256_update(&o->sha, p, n);
    o->bytes += n;
    return 0;
}

/* Flush, fsync and close; add {"name": sha256} to files. */
static int ofile_close(struct ofile *o, cJSON *files, struct mf_err *err)
{
    if (o->f == NULL)
        return 0;
    char hex[65];
    int bad = fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (mf_sha256_final(&o->sha, hex) != 0 || bad)
        return mf_err_set(err, MF_EIO, "cannot write '%s' in the new store", o->name);
    cJSON_AddStringToObject(files, o->name, hex);
    return 0;
}

static void ofile_discard(struct ofile *o)
{
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
        mf_sha256_discard(&o->sha);
    }
}

/* A sorted string table written as NAME.off and NAME.bin. */
static int write_strtab(const char *root, const char *name, char **keys, const uint32_t *lens,
                        size_t n, cJSON *files, struct mf_err *err)
{
    struct ofile off = {0}, bin = {0};
    char fn[64];
    int rc;
    snprintf(fn, sizeof fn, "%s.off", name);
    if ((rc = ofile_open(&off, root, fn, err)) != 0)
        return rc;
    snprintf(fn, sizeof fn, "%s.bin", name);
    if ((rc = ofile_open(&bin, root, fn, err)) != 0)
        goto out;
    uint64_t pos = 0;
    if ((rc = ofile_write(&off, &pos, 8, err)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        pos += lens[i];
        if ((rc = ofile_write(&bin, keys[i], lens[i], err)) != 0 ||
            (rc = ofile_write(&off, &pos, 8, err)) != 0)
            goto out;
    }
    if ((rc = ofile_close(&off, files, err)) != 0 || (rc = ofile_close(&bin, files, err)) != 0)
        goto out;
out:
    ofile_discard(&off);
    ofile_discard(&bin);
    return rc;
}

/* A dictionary: the union of the batches' sets, sorted, with key -> id in map. */
struct dict {
    struct mf_strmap map; /* key -> id */
    char **keys;
    uint32_t *lens;
    size_t n;
};

static int cmp_key(const void *a, const void *b, void *arg)
{
    const struct dict *d = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return rec_bytes_cmp(d->keys[i], d->lens[i], d->keys[j], d->lens[j]);
}

static int dict_build(struct dict *d, struct mf_store_writer *w, int units)
{
    mf_strmap_init(&d->map);
    for (int i = 0; i < w->n_batches; i++) {
        struct mf_strmap *m = units ? &w->batches[i].units : &w->batches[i].codes;
        for (size_t k = 0; k < m->cap; k++) {
            struct mf_strmap_slot *s = &m->slots[k];
            if (s->key_off == UINT64_MAX)
                continue;
            if (mf_strmap_upsert(&d->map, mf_strmap_key(m, s), s->key_len, NULL) == NULL)
                return MF_ENOMEM;
        }
    }
    d->n = d->map.n;
    d->keys = calloc(d->n ? d->n : 1, sizeof *d->keys);
    d->lens = calloc(d->n ? d->n : 1, sizeof *d->lens);
    size_t *order = calloc(d->n ? d->n : 1, sizeof *order);
    char **tmpk = calloc(d->n ? d->n : 1, sizeof *tmpk);
    uint32_t *tmpl = calloc(d->n ? d->n : 1, sizeof *tmpl);
    if (!d->keys || !d->lens || !order || !tmpk || !tmpl) {
        free(order);
        free(tmpk);
        free(tmpl);
        return MF_ENOMEM;
    }
    size_t j = 0;
    for (size_t k = 0; k < d->map.cap; k++) {
        struct mf_strmap_slot *s = &d->map.slots[k];
        if (s->key_off == UINT64_MAX)
            continue;
        d->keys[j] = d->map.keys.data + s->key_off;
        d->lens[j] = s->key_len;
        order[j] = j;
        j++;
    }
    qsort_r(order, d->n, sizeof *order, cmp_key, d);
    for (size_t i = 0; i < d->n; i++) {
        tmpk[i] = d->keys[order[i]];
        tmpl[i] = d->lens[order[i]];
    }
    memcpy(d->keys, tmpk, d->n * sizeof *tmpk);
    memcpy(d->lens, tmpl, d->n * sizeof *tmpl);
    for (size_t i = 0; i < d->n; i++)
        mf_strmap_get(&d->map, d->keys[i], d->lens[i])->value = i;
    free(order);
    free(tmpk);
    free(tmpl);
    return 0;
}

static void dict_free(struct dict *d)
{
    mf_strmap_free(&d->map);
    free(d->keys);
    free(d->lens);
}

/* A run being merged: the current record and its strings. */
struct run {
    FILE *f;
    struct rec_view v;
    struct mf_buf strs;
    int done;
};

static int run_next(struct run *r, struct mf_err *err)
{
    struct rec_hdr h;
    size_t k = fread(&h, 1, sizeof h, r->f);
    if (k == 0 && feof(r->f)) {
        r->done = 1;
        return 0;
    }
    if (k != sizeof h)
        return mf_err_set(err, MF_EIO, "cannot read a temporary run file");
    size_t n = (size_t)h.subj_len + h.code_len + h.unit_len + h.text_len;
    mf_buf_reset(&r->strs);
    if (mf_buf_grow(&r->strs, n) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if (fread(r->strs.data, 1, n, r->f) != n)
        return mf_err_set(err, MF_EIO, "cannot read a temporary run file");
    r->v.h = h;
    r->v.subj = r->strs.data;
    r->v.code = r->v.subj + h.subj_len;
    r->v.unit = r->v.code + h.code_len;
    r->v.text = r->v.unit + h.unit_len;
    return 0;
}

/* Min-heap of runs by record order; ties broken by run index so merging is deterministic. */
static int run_less(struct run *const *heap, size_t a, size_t b)
{
    int c = rec_cmp(&heap[a]->v, &heap[b]->v);
    return c < 0 || (c == 0 && heap[a] < heap[b]);
}

static void sift_down(struct run **heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && run_less(heap, l, m))
            m = l;
        if (r < n && run_less(heap, r, m))
            m = r;
        if (m == i)
            return;
        struct run *t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* The runs being merged, as a min-heap of their current records. */
struct merger {
    struct run *runs;
    struct run **heap;
    size_t n, nh;
};

/* Each run being merged has an input buffer of this size; the writer's merge_fanin bounds
 * how many are open at once. */
#define RUN_BUFFER ((size_t)256 << 10)

static void merger_close(struct merger *m)
{
    for (size_t k = 0; m->runs && k < m->n; k++) {
        if (m->runs[k].f)
            fclose(m->runs[k].f);
        mf_buf_release(&m->runs[k].strs);
    }
    free(m->runs);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

/* Open paths[0..n) and read the first record of each. */
static int merger_open(struct merger *m, char *const *paths, size_t n, struct mf_err *err)
{
    memset(m, 0, sizeof *m);
    m->runs = calloc(n ? n : 1, sizeof *m->runs);
    m->heap = calloc(n ? n : 1, sizeof(struct run *));
    if (!m->runs || !m->heap) {
        merger_close(m);
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    m->n = n;
    for (size_t k = 0; k < n; k++) {
        struct run *r = &m->runs[k];
        r->f = fopen(paths[k], "rb");
        if (r->f == NULL) {
            int rc = mf_err_set(err, MF_EIO, "cannot open '%s': %s", paths[k], strerror(errno));
            merger_close(m);
            return rc;
        }
        setvbuf(r->f, NULL, _IOFBF, RUN_BUFFER);
        int rc = run_next(r, err);
        if (rc) {
            merger_close(m);
            return rc;
        }
        if (!r->done)
            m->heap[m->nh++] = r;
    }
    for (size_t i = m->nh / 2; i-- > 0;)
        sift_down(m->heap, m->nh, i);
    return 0;
}

/* The smallest current record, or NULL when every run is done. */
static const struct rec_view *merger_peek(const struct merger *m)
{
    return m->nh ? &m->heap[0]->v : NULL;
}

/* Move past the smallest record. */
static int merger_advance(struct merger *m, struct mf_err *err)
{
    struct run *r = m->heap[0];
    int rc = run_next(r, err);
    if (rc)
        return rc;
    if (r->done)
        m->heap[0] = m->heap[--m->nh];
    sift_down(m->heap, m->nh, 0);
    return 0;
}

/* Merge paths[0..n) into one run file out. */
static int merge_into_run(char *const *paths, size_t n, const char *out, struct mf_err *err)
{
    struct merger m;
    int rc = merger_open(&m, paths, n, err);
    if (rc)
        return rc;
    FILE *f = fopen(out, "wb");
    if (f == NULL) {
        rc = mf_err_set(err, MF_EIO, "cannot create '%s': %s", out, strerror(errno));
        merger_close(&m);
        return rc;
    }
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
    const struct rec_view *v;
    while (rc == 0 && (v = merger_peek(&m)) != NULL) {
        /* a record's strings lie together after subj in the run's buffer */
        size_t k = (size_t)v->h.subj_len + v->h.code_len + v->h.unit_len + v->h.text_len;
        if (fwrite(&v->h, sizeof v->h, 1, f) != 1 || fwrite(v->subj, 1, k, f) != k)
            rc = mf_err_set(err, MF_EIO, "cannot write '%s'", out);
        else
            rc = merger_advance(&m, err);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = mf_err_set(err, MF_EIO, "cannot write '%s'", out);
    merger_close(&m);
    return rc;
}

/* While there are more runs than fanin, merge them in groups of fanin into longer runs, so the
 * final merge holds at most fanin input buffers however much was spilled. */
static int reduce_runs(struct mf_strlist *paths, const char *dir, size_t fanin, struct mf_err *err)
{
    for (int pass = 0; paths->n > fanin; pass++) {
        struct mf_strlist next = {0};
        int rc = 0;
        for (size_t g = 0; rc == 0 && g < paths->n; g += fanin) {
            size_t k = paths->n - g < fanin ? paths->n - g : fanin;
            char out[PATH_MAX];
            snprintf(out, sizeof out, "%s/m%d-%zu.run", dir, pass, g / fanin);
            rc = merge_into_run(paths->items + g, k, out, err);
            for (size_t i = g; i < g + k; i++)
                unlink(paths->items[i]);
            if (rc == 0 && mf_strlist_push(&next, out) != 0)
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        }
        mf_strlist_free(paths);
        *paths = next;
        if (rc)
            return rc;
    }
    return 0;
}

enum {
    COL_TIME,
    COL_CODE,
    COL_VALUE,
    COL_UNIT,
    COL_TEXTOFF,
    COL_TEXT,
    COL_SUBJOFF,
    COL_SUBJ,
    COL_SUBJIDX,
    COL__N
};
static const char *const col_names[COL__N] = {"time.i64",     "code.u32",     "value.f64",
                                              "unit.u32",     "text.off",     "text.bin",
                                              "subjects.off", "subjects.bin", "subjects.idx"};

struct shard {
    struct ofile col[COL__N];
    char name[32];
    uint64_t events, patients, text_pos, subj_pos;
};

static int shard_open(struct shard *s, const char *root, int k, struct mf_err *err)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "shard-%05d", k);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", root, s->name);
    int rc = mf_fs_mkdir_p(dir, err);
    for (int c = 0; rc == 0 && c < COL__N; c++) {
        char fn[64];
        snprintf(fn, sizeof fn, "%s/%s", s->name, col_names[c]);
        rc = ofile_open(&s->col[c], root, fn, err);
    }
    uint64_t zero = 0;
    if (rc == 0)
        rc = ofile_write(&s->col[COL_TEXTOFF], &zero, 8, err);
    if (rc == 0)
        rc = ofile_write(&s->col[COL_SUBJOFF], &zero, 8, err);
    if (rc == 0)
        rc = ofile_write(&s->col[COL_SUBJIDX], &zero, 8, err);
    return rc;
}

static int shard_close(struct shard *s, cJSON *files, cJSON *shards, struct mf_err *err)
{
    int rc = 0;
    for (int c = 0; rc == 0 && c < COL__N; c++)
        rc = ofile_close(&s->col[c], files, err);
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddNumberToObject(o, "patients", (double)s->patients);
        cJSON_AddNumberToObject(o, "events", (double)s->events);
        cJSON_AddItemToArray(shards, o);
    }
    return rc;
}

static void shard_discard(struct shard *s)
{
    for (int c = 0; c < COL__N; c++)
        ofile_discard(&s->col[c]);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static cJSON *quantiles(uint64_t *v, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    if (n == 0)
        return o;
    qsort(v, n, sizeof *v, cmp_u64);
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"min", 0},   {"p10", .1}, {"p25", .25}, {"p50", .5},
              {"p75", .75}, {"p90", .9}, {"p99", .99}, {"max", 1}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t k = (size_t)(qs[i].q * (double)(n - 1) + 0.5);
        cJSON_AddNumberToObject(o, qs[i].name, (double)v[k]);
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    cJSON_AddNumberToObject(o, "mean", sum / (double)n);
    return o;
}

/* Per-vocabulary counts: the part of each code before its first '/'. */
static cJSON *vocabularies(const struct dict *codes, const uint64_t *counts)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < codes->n; i++) {
        const char *k = codes->keys[i];
        const char *slash = memchr(k, '/', codes->lens[i]);
        size_t vn = slash ? (size_t)(slash - k) : codes->lens[i];
        char vocab[128];
        snprintf(vocab, sizeof vocab, "%.*s", (int)(vn < 127 ? vn : 127), k);
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, vocab);
        if (v == NULL) {
            v = cJSON_AddObjectToObject(o, vocab);
            cJSON_AddNumberToObject(v, "codes", 0);
            cJSON_AddNumberToObject(v, "events", 0);
        }
        cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "codes");
        cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "events");
        if (c == NULL || e == NULL)
            continue; /* only when out of memory */
        cJSON_SetNumberValue(c, c->valuedouble + 1);
        cJSON_SetNumberValue(e, e->valuedouble + (double)counts[i]);
    }
    return o;
}

/* A growable list of per-patient event counts. */
struct counts {
    uint64_t *v;
    size_t n, cap;
};

/* Close the current patient: remember its event count and write its end to subjects.idx. */
static int end_patient(struct shard *sh, struct counts *c, uint64_t events, struct mf_err *err)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        uint64_t *p = realloc(c->v, cap * sizeof *p);
        if (p == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = events;
    return ofile_write(&sh->col[COL_SUBJIDX], &sh->events, 8, err);
}

int mf_store_writer_commit(struct mf_store_writer *w, struct mf_err *err)
{
    int rc = 0;
    struct dict codes = {0}, units = {0};
    struct merger mg = {0};
    struct mf_strlist run_paths = {0};
    uint64_t *code_counts = NULL;
    struct counts counts = {NULL, 0, 0}; /* events of each patient, for the quantiles */
    struct shard sh;
    int shard_open_now = 0, nshards = 0;
    struct ofile cnt = {0};
    cJSON *manifest = cJSON_CreateObject(), *files = cJSON_CreateObject(),
          *shards = cJSON_CreateArray();
    char *text = NULL;
    memset(&sh, 0, sizeof sh);
    if (!manifest || !files || !shards) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }

    /* 1. spill every batch (in parallel: each sorts its own block) */
#pragma omp parallel for schedule(dynamic) reduction(| : rc)
    for (int i = 0; i < w->n_batches; i++) {
        struct mf_err e = {0};
        int r = mf_store_batch_spill_all(&w->batches[i], &e);
        if (r) {
#pragma omp critical
            mf_err_set(err, r, "%s", e.msg);
            rc |= 1;
        }
    }
    if (rc) {
        rc = err && err->code ? err->code : MF_EIO;
        goto out;
    }

    /* 2. dictionaries */
    if (dict_build(&codes, w, 0) != 0 || dict_build(&units, w, 1) != 0) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory building the code dictionary");
        goto out;
    }
    for (int i = 0; i < w->n_batches; i++) {
        mf_strmap_free(&w->batches[i].codes);
        mf_strmap_free(&w->batches[i].units);
        free(w->batches[i].block);
        w->batches[i].block = NULL;
        w->batches[i].cap = 0;
    }
    if ((rc = write_strtab(w->tmp, "codes", codes.keys, codes.lens, codes.n, files, err)) != 0 ||
        (rc = write_strtab(w->tmp, "units", units.keys, units.lens, units.n, files, err)) != 0)
        goto out;
    code_counts = calloc(codes.n ? codes.n : 1, sizeof *code_counts);
    if (code_counts == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }

    /* 3. open the runs, merging in passes first when there are many */
    {
        static const char *const sfx[] = {".run", NULL};
        if ((rc = mf_fs_list(w->runs_dir, sfx, &run_paths, err)) != 0 ||
            (rc = reduce_runs(&run_paths, w->runs_dir, w->merge_fanin, err)) != 0 ||
            (rc = merger_open(&mg, run_paths.items, run_paths.n, err)) != 0)
            goto out;
    }

    /* 4. merge into shards */
    struct mf_buf cur_subj = MF_BUF_INIT;
    uint64_t cur_count = 0, total = 0;
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    const struct rec_view *v;
    while ((v = merger_peek(&mg)) != NULL) {
        int new_patient =
            cur_subj.data == NULL ||
            rec_bytes_cmp(cur_subj.data, (uint32_t)cur_subj.len, v->subj, v->h.subj_len) != 0;
        if (new_patient) {
            if (cur_subj.data != NULL && (rc = end_patient(&sh, &counts, cur_count, err)) != 0)
                break;
            if (shard_open_now && sh.events >= w->shard_events) {
                if ((rc = shard_close(&sh, files, shards, err)) != 0)
                    break;
                shard_open_now = 0;
            }
            if (!shard_open_now) {
                if ((rc = shard_open(&sh, w->tmp, nshards++, err)) != 0)
                    break;
                shard_open_now = 1;
            }
            mf_buf_reset(&cur_subj);
            if (mf_buf_append(&cur_subj, v->subj, v->h.subj_len) != 0) {
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                break;
            }
            sh.subj_pos += v->h.subj_len;
            sh.patients++;
            cur_count = 0;
            if ((rc = ofile_write(&sh.col[COL_SUBJ], v->subj, v->h.subj_len, err)) != 0 ||
                (rc = ofile_write(&sh.col[COL_SUBJOFF], &sh.subj_pos, 8, err)) != 0)
                break;
        }
        uint32_t code_id = (uint32_t)mf_strmap_get(&codes.map, v->code, v->h.code_len)->value;
        uint32_t unit_id =
            v->h.unit_len ? (uint32_t)mf_strmap_get(&units.map, v->unit, v->h.unit_len)->value + 1
                          : 0;
        sh.text_pos += v->h.text_len;
        if ((rc = ofile_write(&sh.col[COL_TIME], &v->h.time, 8, err)) != 0 ||
            (rc = ofile_write(&sh.col[COL_CODE], &code_id, 4, err)) != 0 ||
            (rc = ofile_write(&sh.col[COL_VALUE], &v->h.value, 8, err)) != 0 ||
            (rc = ofile_write(&sh.col[COL_UNIT], &unit_id, 4, err)) != 0 ||
            (rc = ofile_write(&sh.col[COL_TEXT], v->text, v->h.text_len, err)) != 0 ||
            (rc = ofile_write(&sh.col[COL_TEXTOFF], &sh.text_pos, 8, err)) != 0)
            break;
        if (v->h.time != MF_TIME_NONE) {
            if (v->h.time < tmin)
                tmin = v->h.time;
            if (v->h.time > tmax)
                tmax = v->h.time;
        }
        code_counts[code_id]++;
        sh.events++;
        cur_count++;
        total++;
        if ((rc = merger_advance(&mg, err)) != 0)
            break;
    }
    if (rc == 0 && cur_subj.data != NULL)
        rc = end_patient(&sh, &counts, cur_count, err);
    mf_buf_release(&cur_subj);
    if (rc == 0 && shard_open_now) {
        rc = shard_close(&sh, files, shards, err);
        shard_open_now = 0;
    }
    if (rc)
        goto out;
    merger_close(&mg);
    mf_fs_rm_rf(w->runs_dir);

    /* 5. code counts and the manifest */
    if ((rc = ofile_open(&cnt, w->tmp, "codes.cnt", err)) != 0 ||
        (rc = ofile_write(&cnt, code_counts, codes.n * 8, err)) != 0 ||
        (rc = ofile_close(&cnt, files, err)) != 0)
        goto out;
    cJSON_AddStringToObject(manifest, "format", "medfm-event-store");
    cJSON_AddNumberToObject(manifest, "schema_version", MF_STORE_SCHEMA_VERSION);
    cJSON_AddNumberToObject(manifest, "patients", (double)counts.n);
    cJSON_AddNumberToObject(manifest, "events", (double)total);
    cJSON_AddNumberToObject(manifest, "codes", (double)codes.n);
    cJSON_AddNumberToObject(manifest, "units", (double)units.n);
    char t0[32], t1[32];
    mf_time_format(tmin == INT64_MAX ? MF_TIME_NONE : tmin, t0);
    mf_time_format(tmax == INT64_MIN ? MF_TIME_NONE : tmax, t1);
    cJSON *span = cJSON_AddObjectToObject(manifest, "time_span");
    if (t0[0]) {
        cJSON_AddStringToObject(span, "first", t0);
        cJSON_AddStringToObject(span, "last", t1);
    } else {
        cJSON_AddNullToObject(span, "first");
        cJSON_AddNullToObject(span, "last");
    }
    cJSON_AddItemToObject(manifest, "events_per_patient", quantiles(counts.v, counts.n));
    cJSON_AddItemToObject(manifest, "vocabularies", vocabularies(&codes, code_counts));
    cJSON_AddItemToObject(manifest, "sources", w->sources);
    w->sources = NULL;
    cJSON *deid = cJSON_AddObjectToObject(manifest, "deid");
    cJSON_AddBoolToObject(deid, "applied", w->deid_sha256 != NULL);
    if (w->deid_sha256)
        cJSON_AddStringToObject(deid, "config_sha256", w->deid_sha256);
    else
        cJSON_AddNullToObject(deid, "config_sha256");
    cJSON_AddItemToObject(manifest, "shards", shards);
    shards = NULL;
    cJSON_AddItemToObject(manifest, "files", files);
    files = NULL;
    text = cJSON_Print(manifest);
    if (text == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    char mpath[PATH_MAX];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", w->tmp);
    struct mf_buf mb = MF_BUF_INIT;
    if (mf_buf_puts(&mb, text) || mf_buf_putc(&mb, '\n')) {
        mf_buf_release(&mb);
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    rc = mf_fs_write_file_atomic(mpath, mb.data, mb.len, err);
    mf_buf_release(&mb);
    if (rc)
        goto out;
    for (int k = 0; k < nshards; k++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/shard-%05d", w->tmp, k);
        mf_fs_fsync_dir(d);
    }
    mf_fs_fsync_dir(w->tmp);

    /* 6. swap into place */
    if ((rc = mf_fs_replace_dir(w->tmp, w->dst, err)) != 0)
        goto out;
    w->committed = 1;
    w->patients = counts.n;
    {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", w->dst);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
        mf_fs_fsync_dir(slash ? (parent[0] ? parent : "/") : ".");
    }
out:
    if (shard_open_now)
        shard_discard(&sh);
    ofile_discard(&cnt);
    merger_close(&mg);
    mf_strlist_free(&run_paths);
    free(code_counts);
    free(counts.v);
    dict_free(&codes);
    dict_free(&units);
    cJSON_Delete(manifest);
    cJSON_Delete(files);
    cJSON_Delete(shards);
    cJSON_free(text);
    return rc;
}
