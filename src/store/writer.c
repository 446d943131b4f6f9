/* writer.c - event store writer: per-thread batches, sorted runs spilled to disk, a k-way merge
 * into columnar shards, a manifest, and an atomic swap into place (layout in store.h).
 *
 * Memory is bounded by the batches' limit plus one read buffer per run, the code and unit
 * dictionaries, and one 8-byte count per patient (for the events-per-patient quantiles).
 */
#define _GNU_SOURCE
#include "store/store.h"
#include "store/record.h"
#include "store/writer_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/strmap.h"

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Remove temporary folders and files of earlier runs for the same destination whose process is
 * gone (killed runs), and our own leftovers. */
static void clean_stale(const char *dst)
{
    char dir[PATH_MAX], base[PATH_MAX];
    const char *slash = strrchr(dst, '/');
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - dst), dst);
        snprintf(base, sizeof base, "%s", slash + 1);
    } else {
        snprintf(dir, sizeof dir, ".");
        snprintf(base, sizeof base, "%s", dst);
    }
    if (dir[0] == '\0')
        snprintf(dir, sizeof dir, "/");
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char prefix[PATH_MAX + 8];
    snprintf(prefix, sizeof prefix, "%s.tmp-", base);
    size_t pn = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, pn) != 0)
            continue;
        /* <base>.tmp-<pid> (the folder) or <base>.tmp-<pid>.<suffix> (files beside it) */
        char *end;
        long pid = strtol(de->d_name + pn, &end, 10);
        if ((*end != '\0' && *end != '.') || pid <= 0)
            continue;
        if (pid != (long)getpid() && kill((pid_t)pid, 0) == 0)
            continue; /* another live writer */
        char path[2 * PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
            mf_fs_rm_rf(path);
    }
    closedir(d);
}

int mf_store_writer_open(struct mf_store_writer **out, const char *dst, int n_batches,
                         const struct mf_store_writer_opts *opts, struct mf_err *err)
{
    *out = NULL;
    if (n_batches < 1 || dst == NULL || dst[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "bad store writer arguments");
    if (mf_fs_exists(dst) && !mf_fs_is_dir(dst))
        return mf_err_set(err, MF_EEXIST, "'%s' exists and is not a folder", dst);
    struct mf_store_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    int rc = 0;
    size_t mem = opts && opts->mem_limit ? opts->mem_limit : (size_t)64 << 20;
    w->merge_fanin = opts && opts->merge_fanin >= 2 ? opts->merge_fanin : 64;
    w->shard_events = opts && opts->shard_events ? opts->shard_events : (uint64_t)4 << 20;
    w->n_batches = n_batches;
    w->dst = strdup(dst);
    size_t tn = strlen(dst) + 32;
    w->tmp = malloc(tn);
    w->runs_dir = malloc(tn + 8);
    w->batches = calloc((size_t)n_batches, sizeof *w->batches);
    w->sources = cJSON_CreateArray();
    if (!w->dst || !w->tmp || !w->runs_dir || !w->batches || !w->sources) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(w->tmp, tn, "%s.tmp-%ld", dst, (long)getpid());
    snprintf(w->runs_dir, tn + 8, "%s/runs", w->tmp);
    clean_stale(dst);
    mf_fs_rm_rf(w->tmp);
    if ((rc = mf_fs_mkdir_p(w->runs_dir, err)) != 0)
        goto out;
    for (int i = 0; i < n_batches; i++) {
        struct mf_store_batch *b = &w->batches[i];
        b->w = w;
        b->index = i;
        b->limit = mem / (size_t)n_batches;
        if (b->limit < ((size_t)1 << 20))
            b->limit = (size_t)1 << 20;
        mf_strmap_init(&b->codes);
        mf_strmap_init(&b->units);
    }
out:
    if (rc) {
        mf_store_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

struct mf_store_batch *mf_store_writer_batch(struct mf_store_writer *w, int i)
{
    return i >= 0 && i < w->n_batches ? &w->batches[i] : NULL;
}

int mf_store_batch_add(struct mf_store_batch *b, const struct mf_event *ev)
{
    if (ev->subject_len == 0 || ev->code_len == 0 || ev->subject_len > MF_MAX_SUBJECT_LEN ||
        ev->code_len > MF_MAX_CODE_LEN || ev->unit_len > MF_MAX_UNIT_LEN ||
        ev->text_len > MF_MAX_TEXT_LEN)
        return MF_EINVAL;
    size_t unit_len = ev->unit ? ev->unit_len : 0, text_len = ev->text ? ev->text_len : 0;
    size_t need =
        align8(sizeof(struct rec_hdr) + ev->subject_len + ev->code_len + unit_len + text_len);
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : (size_t)1 << 16;
        while (cap < b->len + need)
            cap *= 2;
        char *p = realloc(b->block, cap);
        if (p == NULL)
            return MF_ENOMEM;
        b->block = p;
        b->cap = cap;
    }
    char *p = b->block + b->len;
    struct rec_hdr h = {ev->time,
                        isnan(ev->value) ? NAN
                        : ev->value == 0 ? 0.0
                                         : ev->value,
                        (uint32_t)ev->subject_len,
                        (uint32_t)ev->code_len,
                        (uint32_t)unit_len,
                        (uint32_t)text_len};
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, ev->subject, ev->subject_len);
    p += ev->subject_len;
    memcpy(p, ev->code, ev->code_len);
    p += ev->code_len;
    if (unit_len)
        memcpy(p, ev->unit, unit_len);
    p += unit_len;
    if (text_len)
        memcpy(p, ev->text, text_len);
    b->len += need;
    b->n++;
    return 0;
}

size_t mf_store_batch_mark(const struct mf_store_batch *b)
{
    return b->len;
}

void mf_store_batch_rollback(struct mf_store_batch *b, size_t mark)
{
    /* count the records being dropped */
    size_t off = mark;
    while (off < b->len) {
        struct rec_hdr h;
        memcpy(&h, b->block + off, sizeof h);
        off += align8(sizeof h + h.subj_len + h.code_len + h.unit_len + h.text_len);
        b->n--;
    }
    b->len = mark;
}

static int cmp_ptr(const void *a, const void *b)
{
    struct rec_view x, y;
    rec_view_at(&x, *(const char *const *)a);
    rec_view_at(&y, *(const char *const *)b);
    return rec_cmp(&x, &y);
}

/* Sort the batch and write it as run file <runs>/b<batch>-r<k>.run. */
static int spill(struct mf_store_batch *b, struct mf_err *err)
{
    if (b->n == 0)
        return 0;
    int rc = 0;
    FILE *f = NULL;
    const char **ptrs = malloc(b->n * sizeof *ptrs);
    if (ptrs == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory sorting events");
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++) {
        ptrs[i] = b->block + off;
        struct rec_hdr h;
        memcpy(&h, ptrs[i], sizeof h);
        off += align8(sizeof h + h.subj_len + h.code_len + h.unit_len + h.text_len);
    }
    qsort(ptrs, b->n, sizeof *ptrs, cmp_ptr);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/b%d-r%d.run", b->w->runs_dir, b->index, b->runs);
    f = fopen(path, "wb");
    if (f == NULL) {
        rc = mf_err_set(err, MF_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
    for (size_t i = 0; i < b->n; i++) {
        struct rec_view v;
        rec_view_at(&v, ptrs[i]);
        size_t sz =
            sizeof(struct rec_hdr) + v.h.subj_len + v.h.code_len + v.h.unit_len + v.h.text_len;
        if (fwrite(ptrs[i], 1, sz, f) != sz) {
            rc = mf_err_set(err, MF_EIO, "cannot write '%s'", path);
            goto out;
        }
        if (mf_strmap_upsert(&b->codes, v.code, v.h.code_len, NULL) == NULL ||
            (v.h.unit_len && mf_strmap_upsert(&b->units, v.unit, v.h.unit_len, NULL) == NULL)) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = mf_err_set(err, MF_EIO, "cannot write '%s'", path);
        goto out;
    }
    f = NULL;
    b->runs++;
    b->len = 0;
    b->n = 0;
out:
    if (f)
        fclose(f);
    free(ptrs);
    return rc;
}

int mf_store_batch_spill_all(struct mf_store_batch *b, struct mf_err *err)
{
    return spill(b, err);
}

int mf_store_batch_maybe_spill(struct mf_store_batch *b, struct mf_err *err)
{
    return b->w && b->len >= b->limit ? spill(b, err) : 0;
}

struct mf_store_batch *mf_store_batch_new(void)
{
    struct mf_store_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->limit = SIZE_MAX;
    mf_strmap_init(&b->codes);
    mf_strmap_init(&b->units);
    return b;
}

void mf_store_batch_free(struct mf_store_batch *b)
{
    if (b == NULL || b->w)
        return;
    free(b->block);
    mf_strmap_free(&b->codes);
    mf_strmap_free(&b->units);
    free(b);
}

size_t mf_store_batch_count(const struct mf_store_batch *b)
{
    return b->n;
}

void mf_store_writer_add_source(struct mf_store_writer *w, cJSON *obj)
{
    if (obj)
        cJSON_AddItemToArray(w->sources, obj);
}

void mf_store_writer_set_deid(struct mf_store_writer *w, const char *config_sha256)
{
    free(w->deid_sha256);
    w->deid_sha256 = config_sha256 ? strdup(config_sha256) : NULL;
}

uint64_t mf_store_writer_patients(const struct mf_store_writer *w)
{
    return w->committed ? w->patients : 0;
}

void mf_store_writer_free(struct mf_store_writer *w)
{
    if (w == NULL)
        return;
    if (!w->committed && w->tmp)
        mf_fs_rm_rf(w->tmp);
    for (int i = 0; w->batches && i < w->n_batches; i++) {
        free(w->batches[i].block);
        mf_strmap_free(&w->batches[i].codes);
        mf_strmap_free(&w->batches[i].units);
    }
    free(w->batches);
    cJSON_Delete(w->sources);
    free(w->deid_sha256);
    free(w->dst);
    free(w->tmp);
    free(w->runs_dir);
    free(w);
}

/* mf_store_writer_commit lives in merge.c. */
