/* reader.c - memory-mapped reading of an event store (layout in store.h).
 *
 * Opening reads manifest.json and maps every column; sizes are checked against the manifest's
 * counts so that a damaged or hostile store fails at open rather than at a later read.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "store/record.h"
#include "store/writer_int.h"

struct map {
    const void *p;
    size_t n;
    int heap; /* malloc'd (an in-memory store), not mapped */
};

struct strtab {
    struct map off, bin;
    uint64_t count;
};

struct shard {
    struct strtab subjects;
    struct map idx, time, code, value, unit, text_off, text;
    uint64_t patients, events;
};

struct mf_store {
    char *path;
    cJSON *manifest;
    char manifest_sha[65]; /* computed on first use: hashing is not free at start-up */
    char *manifest_text;
    size_t manifest_len;
    struct strtab codes, units;
    struct map code_counts;
    struct shard *shards;
    size_t n_shards;
    uint64_t patients, events;
};

static const char empty_map[8];

static int map_file(const char *root, const char *name, struct map *m, struct mf_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: cannot open '%s'", root, name);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = mf_err_set(err, MF_EIO, "cannot stat '%s'", path);
        goto out;
    }
    m->n = (size_t)st.st_size;
    if (m->n == 0) {
        m->p = empty_map;
        goto out;
    }
    void *p = mmap(NULL, m->n, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        rc = mf_err_set(err, MF_EIO, "cannot map '%s': %s", path, strerror(errno));
        goto out;
    }
    m->p = p;
out:
    close(fd);
    return rc;
}

static void unmap(struct map *m)
{
    if (m->heap)
        free((void *)m->p);
    else if (m->p && m->p != empty_map)
        munmap((void *)m->p, m->n);
    m->p = NULL;
}

/* Map NAME.off / NAME.bin and check the offsets are sound: n + 1 entries, starting at 0,
 * never decreasing, ending at the size of the bytes. */
static int map_strtab(const char *root, const char *name, uint64_t count, struct strtab *t,
                      struct mf_err *err)
{
    char fn[PATH_MAX];
    snprintf(fn, sizeof fn, "%s.off", name);
    int rc = map_file(root, fn, &t->off, err);
    if (rc)
        return rc;
    snprintf(fn, sizeof fn, "%s.bin", name);
    if ((rc = map_file(root, fn, &t->bin, err)) != 0)
        return rc;
    t->count = count;
    if (t->off.n != (count + 1) * 8)
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: '%s.off' has the wrong size",
                          root, name);
    const uint64_t *o = t->off.p;
    if (o == NULL || o[0] != 0 || o[count] != t->bin.n)
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad offsets in '%s.off'", root,
                          name);
    for (uint64_t i = 0; i < count; i++)
        if (o[i] > o[i + 1])
            return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad offsets in '%s.off'",
                              root, name);
    return 0;
}

static struct mf_str strtab_get(const struct strtab *t, uint64_t i)
{
    struct mf_str r = {NULL, 0};
    if (i >= t->count)
        return r;
    const uint64_t *o = t->off.p;
    r.p = (const char *)t->bin.p + o[i];
    r.n = (size_t)(o[i + 1] - o[i]);
    return r;
}

static int get_count(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int open_shard(const char *root, const cJSON *desc, struct shard *sh, struct mf_err *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(desc, "name");
    if (!cJSON_IsString(name) || strchr(name->valuestring, '/') ||
        strncmp(name->valuestring, "shard-", 6) != 0 ||
        get_count(desc, "patients", &sh->patients) || get_count(desc, "events", &sh->events))
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad shard entry", root);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", root, name->valuestring);
    int rc;
    if ((rc = map_strtab(dir, "subjects", sh->patients, &sh->subjects, err)) != 0 ||
        (rc = map_file(dir, "subjects.idx", &sh->idx, err)) != 0 ||
        (rc = map_file(dir, "time.i64", &sh->time, err)) != 0 ||
        (rc = map_file(dir, "code.u32", &sh->code, err)) != 0 ||
        (rc = map_file(dir, "value.f64", &sh->value, err)) != 0 ||
        (rc = map_file(dir, "unit.u32", &sh->unit, err)) != 0 ||
        (rc = map_file(dir, "text.off", &sh->text_off, err)) != 0 ||
        (rc = map_file(dir, "text.bin", &sh->text, err)) != 0)
        return rc;
    uint64_t n = sh->events;
    if (sh->idx.n != (sh->patients + 1) * 8 || sh->time.n != n * 8 || sh->code.n != n * 4 ||
        sh->value.n != n * 8 || sh->unit.n != n * 4 || sh->text_off.n != (n + 1) * 8)
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: column sizes disagree in '%s'",
                          root, name->valuestring);
    const uint64_t *idx = sh->idx.p, *to = sh->text_off.p;
    if (idx[0] != 0 || idx[sh->patients] != n || to[0] != 0 || to[n] != sh->text.n)
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad index in '%s'", root,
                          name->valuestring);
    for (uint64_t i = 0; i < sh->patients; i++)
        if (idx[i] > idx[i + 1])
            return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad index in '%s'", root,
                              name->valuestring);
    return 0;
}

int mf_store_open(const char *path, struct mf_store **out, struct mf_err *err)
{
    *out = NULL;
    struct mf_buf mb = MF_BUF_INIT;
    struct mf_store *s = calloc(1, sizeof *s);
    int rc = 0;
    if (s == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    s->path = strdup(path);
    char mpath[PATH_MAX];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", path);
    if (!mf_fs_is_dir(path)) {
        rc = mf_err_set(err, MF_ENOTFOUND, "no store at '%s'", path);
        goto out;
    }
    if ((rc = mf_fs_read_file(mpath, (size_t)64 << 20, &mb, err)) != 0)
        goto out;
    s->manifest = cJSON_ParseWithLength(mb.data, mb.len);
    s->manifest_text = mf_buf_detach(&mb, &s->manifest_len);
    if (s->manifest == NULL) {
        rc = mf_err_set(err, MF_EPARSE, "store '%s' is damaged: manifest.json is not JSON", path);
        goto out;
    }
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->manifest, "format"));
    uint64_t version = 0, ncodes = 0, nunits = 0;
    if (fmt == NULL || strcmp(fmt, "medfm-event-store") != 0 ||
        get_count(s->manifest, "schema_version", &version)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s' is not a medfm event store", path);
        goto out;
    }
    if (version != MF_STORE_SCHEMA_VERSION) {
        rc = mf_err_set(err, MF_EUNSUPPORTED, "store '%s' has schema version %llu, expected %d",
                        path, (unsigned long long)version, MF_STORE_SCHEMA_VERSION);
        goto out;
    }
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(s->manifest, "shards");
    if (get_count(s->manifest, "codes", &ncodes) || get_count(s->manifest, "units", &nunits) ||
        get_count(s->manifest, "patients", &s->patients) ||
        get_count(s->manifest, "events", &s->events) || !cJSON_IsArray(shards)) {
        rc = mf_err_set(err, MF_EPARSE, "store '%s' is damaged: manifest lacks counts", path);
        goto out;
    }
    if ((rc = map_strtab(path, "codes", ncodes, &s->codes, err)) != 0 ||
        (rc = map_strtab(path, "units", nunits, &s->units, err)) != 0 ||
        (rc = map_file(path, "codes.cnt", &s->code_counts, err)) != 0)
        goto out;
    if (s->code_counts.n != ncodes * 8) {
        rc =
            mf_err_set(err, MF_EPARSE, "store '%s' is damaged: codes.cnt has the wrong size", path);
        goto out;
    }
    s->n_shards = (size_t)cJSON_GetArraySize(shards);
    s->shards = calloc(s->n_shards ? s->n_shards : 1, sizeof *s->shards);
    if (s->shards == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t tp = 0, te = 0;
    for (size_t k = 0; k < s->n_shards; k++) {
        if ((rc = open_shard(path, cJSON_GetArrayItem(shards, (int)k), &s->shards[k], err)) != 0)
            goto out;
        tp += s->shards[k].patients;
        te += s->shards[k].events;
    }
    if (tp != s->patients || te != s->events) {
        rc = mf_err_set(err, MF_EPARSE, "store '%s' is damaged: shard counts disagree", path);
        goto out;
    }
out:
    mf_buf_release(&mb);
    if (rc) {
        mf_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void mf_store_close(struct mf_store *s)
{
    if (s == NULL)
        return;
    for (size_t k = 0; s->shards && k < s->n_shards; k++) {
        struct shard *sh = &s->shards[k];
        struct map *maps[] = {&sh->subjects.off, &sh->subjects.bin, &sh->idx,
                              &sh->time,         &sh->code,         &sh->value,
                              &sh->unit,         &sh->text_off,     &sh->text};
        for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
            unmap(maps[i]);
    }
    unmap(&s->codes.off);
    unmap(&s->codes.bin);
    unmap(&s->units.off);
    unmap(&s->units.bin);
    unmap(&s->code_counts);
    free(s->shards);
    cJSON_Delete(s->manifest);
    free(s->manifest_text);
    free(s->path);
    free(s);
}

int mf_store_verify(const struct mf_store *s, struct mf_err *err)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(s->manifest, "files");
    if (!cJSON_IsObject(files))
        return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: manifest lacks file hashes",
                          s->path);
    const cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        if (!cJSON_IsString(f) || strstr(f->string, ".."))
            return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: bad file entry", s->path);
        struct map m = {0};
        int rc = map_file(s->path, f->string, &m, err);
        if (rc)
            return rc;
        char hex[65];
        rc = mf_sha256_hex(m.p, m.n, hex);
        unmap(&m);
        if (rc)
            return mf_err_set(err, rc, "cannot hash '%s'", f->string);
        if (strcmp(hex, f->valuestring) != 0)
            return mf_err_set(err, MF_EPARSE, "store '%s' is damaged: '%s' does not match its hash",
                              s->path, f->string);
    }
    return 0;
}

const cJSON *mf_store_manifest(const struct mf_store *s)
{
    return s->manifest;
}

const char *mf_store_manifest_sha256(const struct mf_store *s)
{
    /* a cache filled on first use: the store is logically unchanged */
    struct mf_store *m = (struct mf_store *)s;
    if (m->manifest_sha[0] == '\0' &&
        mf_sha256_hex(m->manifest_text, m->manifest_len, m->manifest_sha) != 0)
        m->manifest_sha[0] = '\0';
    return m->manifest_sha;
}

uint64_t mf_store_n_patients(const struct mf_store *s)
{
    return s->patients;
}

uint64_t mf_store_n_events(const struct mf_store *s)
{
    return s->events;
}

uint32_t mf_store_n_codes(const struct mf_store *s)
{
    return (uint32_t)s->codes.count;
}

struct mf_str mf_store_code(const struct mf_store *s, uint32_t id)
{
    return strtab_get(&s->codes, id);
}

uint64_t mf_store_code_count(const struct mf_store *s, uint32_t id)
{
    return id < s->codes.count ? ((const uint64_t *)s->code_counts.p)[id] : 0;
}

static int str_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : an < bn ? -1 : an > bn;
}

/* Binary search of a sorted string table; -1 when absent. */
static int64_t strtab_find(const struct strtab *t, const char *key, size_t len)
{
    uint64_t lo = 0, hi = t->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        struct mf_str m = strtab_get(t, mid);
        int c = str_cmp(m.p, m.n, key, len);
        if (c == 0)
            return (int64_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int64_t mf_store_code_id(const struct mf_store *s, const char *code, size_t len)
{
    return strtab_find(&s->codes, code, len);
}

struct mf_str mf_store_unit(const struct mf_store *s, uint32_t id)
{
    struct mf_str none = {NULL, 0};
    return id == 0 ? none : strtab_get(&s->units, id - 1);
}

size_t mf_store_n_shards(const struct mf_store *s)
{
    return s->n_shards;
}

uint64_t mf_store_shard_patients(const struct mf_store *s, size_t shard)
{
    return shard < s->n_shards ? s->shards[shard].patients : 0;
}

int mf_store_shard_timeline(const struct mf_store *s, size_t shard, uint64_t i,
                            struct mf_timeline *out)
{
    if (shard >= s->n_shards || i >= s->shards[shard].patients)
        return MF_ENOTFOUND;
    const struct shard *sh = &s->shards[shard];
    const uint64_t *idx = sh->idx.p;
    uint64_t a = idx[i], b = idx[i + 1];
    out->subject = strtab_get(&sh->subjects, i);
    out->n = (size_t)(b - a);
    out->time = (const int64_t *)sh->time.p + a;
    out->code = (const uint32_t *)sh->code.p + a;
    out->value = (const double *)sh->value.p + a;
    out->unit = (const uint32_t *)sh->unit.p + a;
    out->text_off = (const uint64_t *)sh->text_off.p + a;
    out->text = sh->text.p;
    out->text_size = sh->text.n;
    return 0;
}

int mf_store_find(const struct mf_store *s, const char *id, size_t len, struct mf_timeline *out)
{
    for (size_t k = 0; k < s->n_shards; k++) {
        int64_t i = strtab_find(&s->shards[k].subjects, id, len);
        if (i >= 0)
            return mf_store_shard_timeline(s, k, (uint64_t)i, out);
    }
    return MF_ENOTFOUND;
}

/* In-memory stores */

static size_t rec_size(const struct rec_hdr *h)
{
    return (sizeof *h + h->subj_len + h->code_len + h->unit_len + h->text_len + 7) & ~(size_t)7;
}

static int cmp_rec_ptr(const void *a, const void *b)
{
    struct rec_view x, y;
    rec_view_at(&x, *(const char *const *)a);
    rec_view_at(&y, *(const char *const *)b);
    return rec_cmp(&x, &y);
}

static int cmp_str(const void *a, const void *b)
{
    const struct mf_str *x = a, *y = b;
    return str_cmp(x->p, x->n, y->p, y->n);
}

/* A heap map of n bytes (at least 8, so that an empty column has an address). */
static void *heap_map(struct map *m, size_t n)
{
    m->heap = 1;
    m->n = n;
    m->p = calloc(1, n ? n : 8);
    return (void *)m->p;
}

/* Sort and deduplicate strs[0..*n) and write them as a string table. */
static int heap_strtab(struct mf_str *strs, size_t *n, struct strtab *t)
{
    if (*n)
        qsort(strs, *n, sizeof *strs, cmp_str);
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || cmp_str(&strs[k - 1], &strs[i]) != 0) {
            strs[k++] = strs[i];
            bytes += strs[i].n;
        }
    *n = k;
    uint64_t *off = heap_map(&t->off, (k + 1) * 8);
    char *bin = heap_map(&t->bin, bytes);
    if (off == NULL || bin == NULL)
        return MF_ENOMEM;
    t->bin.n = bytes;
    t->count = k;
    for (size_t i = 0; i < k; i++) {
        memcpy(bin + off[i], strs[i].p, strs[i].n);
        off[i + 1] = off[i] + strs[i].n;
    }
    return 0;
}

int mf_store_from_batch(const struct mf_store_batch *b, struct mf_store **out, struct mf_err *err)
{
    *out = NULL;
    size_t n = b->n;
    struct mf_store *s = calloc(1, sizeof *s);
    const char **recs = malloc((n ? n : 1) * sizeof *recs);
    struct mf_str *strs = malloc((n ? n : 1) * sizeof *strs);
    int rc = MF_ENOMEM;
    if (s == NULL || recs == NULL || strs == NULL)
        goto out;
    s->path = strdup("(memory)");
    s->n_shards = 1;
    s->shards = calloc(1, sizeof *s->shards);
    if (s->path == NULL || s->shards == NULL)
        goto out;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct rec_hdr h;
        memcpy(&h, b->block + off, sizeof h);
        recs[i] = b->block + off;
        off += rec_size(&h);
    }
    if (n)
        qsort(recs, n, sizeof *recs, cmp_rec_ptr);
    /* dictionaries: codes, units (ids from 1), subjects */
    size_t nc = 0, nu = 0, np = 0;
    struct rec_view v;
    for (size_t i = 0; i < n; i++) {
        rec_view_at(&v, recs[i]);
        strs[nc++] = (struct mf_str){v.code, v.h.code_len};
    }
    if (heap_strtab(strs, &nc, &s->codes) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        rec_view_at(&v, recs[i]);
        if (v.h.unit_len)
            strs[nu++] = (struct mf_str){v.unit, v.h.unit_len};
    }
    if (heap_strtab(strs, &nu, &s->units) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        rec_view_at(&v, recs[i]);
        strs[np++] = (struct mf_str){v.subj, v.h.subj_len};
    }
    struct shard *sh = &s->shards[0];
    if (heap_strtab(strs, &np, &sh->subjects) != 0)
        goto out;
    sh->patients = s->patients = np;
    sh->events = s->events = n;
    uint64_t *counts = heap_map(&s->code_counts, nc * 8);
    uint64_t *idx = heap_map(&sh->idx, (np + 1) * 8);
    int64_t *time = heap_map(&sh->time, n * 8);
    uint32_t *code = heap_map(&sh->code, n * 4);
    double *value = heap_map(&sh->value, n * 8);
    uint32_t *unit = heap_map(&sh->unit, n * 4);
    uint64_t *toff = heap_map(&sh->text_off, (n + 1) * 8);
    size_t text_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        rec_view_at(&v, recs[i]);
        text_bytes += v.h.text_len;
    }
    char *text = heap_map(&sh->text, text_bytes);
    if (!counts || !idx || !time || !code || !value || !unit || !toff || !text)
        goto out;
    sh->text.n = text_bytes;
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        rec_view_at(&v, recs[i]);
        if (i > 0) {
            struct rec_view w;
            rec_view_at(&w, recs[i - 1]);
            if (rec_bytes_cmp(v.subj, v.h.subj_len, w.subj, w.h.subj_len) != 0)
                idx[++p] = i;
        }
        time[i] = v.h.time;
        value[i] = v.h.value;
        code[i] = (uint32_t)strtab_find(&s->codes, v.code, v.h.code_len);
        counts[code[i]]++;
        unit[i] = v.h.unit_len ? (uint32_t)strtab_find(&s->units, v.unit, v.h.unit_len) + 1 : 0;
        memcpy(text + toff[i], v.text, v.h.text_len);
        toff[i + 1] = toff[i] + v.h.text_len;
    }
    idx[np] = n;
    /* a manifest like a stored one's (counts only), so that readers of it work alike */
    s->manifest = cJSON_CreateObject();
    if (s->manifest == NULL ||
        !cJSON_AddStringToObject(s->manifest, "format", "medfm-event-store") ||
        !cJSON_AddNumberToObject(s->manifest, "schema_version", MF_STORE_SCHEMA_VERSION) ||
        !cJSON_AddNumberToObject(s->manifest, "patients", (double)np) ||
        !cJSON_AddNumberToObject(s->manifest, "events", (double)n) ||
        !cJSON_AddNumberToObject(s->manifest, "codes", (double)nc) ||
        !cJSON_AddNumberToObject(s->manifest, "units", (double)nu) ||
        !cJSON_AddArrayToObject(s->manifest, "sources"))
        goto out;
    s->manifest_text = cJSON_PrintUnformatted(s->manifest);
    if (s->manifest_text == NULL)
        goto out;
    s->manifest_len = strlen(s->manifest_text);
    rc = 0;
out:
    free(recs);
    free(strs);
    if (rc) {
        mf_store_close(s);
        return mf_err_set(err, rc, "out of memory building a store of %zu events", n);
    }
    *out = s;
    return 0;
}
