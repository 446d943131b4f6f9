/* json.c - cJSON parsing into a per-thread arena (see json.h). */
#include "core/json.h"
#include "core/err.h"
#include "core/fs.h"

#include <limits.h>
#include <stdio.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
    int depth; /* live trees; the arena is reset when the last one is released */
};

static _Thread_local struct arena arena;
static _Thread_local int active;
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Frees a thread's arena when the thread exits (worker pools shrink and grow). */
static pthread_key_t arena_key;

static void arena_destroy(void *unused)
{
    (void)unused;
    struct chunk *c = arena.head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    arena.head = NULL;
    arena.depth = 0;
}

/* Whether p lies in one of this thread's arena chunks. */
static int in_arena(const void *p)
{
    for (const struct chunk *c = arena.head; c; c = c->next) {
        const char *b = (const char *)c->data;
        if ((const char *)p >= b && (const char *)p < b + c->cap)
            return 1;
    }
    return 0;
}

static void *arena_alloc(size_t n)
{
    if (!active && arena.depth == 0)
        return malloc(n);
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    struct chunk *c = arena.head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ((size_t)1 << 20) ? n : (size_t)1 << 20;
        struct chunk *nc = malloc(sizeof *nc + cap);
        if (nc == NULL)
            return NULL;
        nc->next = c;
        nc->used = 0;
        nc->cap = cap;
        arena.head = c = nc;
        pthread_setspecific(arena_key, &arena);
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(void *p)
{
    if (p != NULL && !in_arena(p))
        free(p);
}

static void install(void)
{
    pthread_key_create(&arena_key, arena_destroy);
    cJSON_Hooks h = {arena_alloc, arena_free};
    cJSON_InitHooks(&h);
}

cJSON *mf_json_parse(const char *data, size_t len, size_t *err_offset)
{
    pthread_once(&once, install);
    active = 1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    active = 0;
    if (root == NULL) {
        if (err_offset)
            *err_offset = end && end >= data ? (size_t)(end - data) : 0;
        if (arena.depth == 0)
            mf_json_release(NULL);
        return NULL;
    }
    arena.depth++;
    return root;
}

void mf_json_release(cJSON *root)
{
    if (root != NULL && arena.depth > 0)
        arena.depth--;
    if (arena.depth > 0)
        return;
    /* One chunk left: reuse it.  Several: replace them by one as large as all of them, so the
     * next document of the same size parses without growing (at most 256 MiB is kept). */
    struct chunk *c = arena.head;
    if (c == NULL)
        return;
    if (c->next == NULL) {
        c->used = 0;
        return;
    }
    size_t total = 0;
    while (c) {
        struct chunk *n = c->next;
        total += c->cap;
        free(c);
        c = n;
    }
    arena.head = NULL;
    if (total > ((size_t)256 << 20))
        return;
    c = malloc(sizeof *c + total);
    if (c == NULL)
        return;
    c->next = NULL;
    c->used = 0;
    c->cap = total;
    arena.head = c;
    pthread_setspecific(arena_key, &arena);
}

cJSON *mf_json_read_file(const char *path, size_t max, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    if (mf_fs_read_file(path, max, &b, err) != 0) {
        mf_buf_release(&b);
        return NULL;
    }
    size_t off = 0;
    cJSON *root = mf_json_parse(b.data ? b.data : "", b.len, &off);
    mf_buf_release(&b);
    if (root == NULL)
        mf_err_set(err, MF_EPARSE, "'%s': not valid JSON (at byte %zu)", path, off);
    return root;
}

const char *mf_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *mf_json_obj(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *mf_json_arr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsArray(v) ? v : NULL;
}

/* Append one byte, growing only when full (the printer's hot path). */
static inline int put1(struct mf_buf *b, char c)
{
    if (b->len + 1 >= b->cap && mf_buf_grow(b, 1) != 0)
        return MF_ENOMEM;
    b->data[b->len++] = c;
    return 0;
}

static int print_item(const cJSON *item, struct mf_buf *out)
{
    int rc = 0;
    switch (item->type & 0xff) {
    case cJSON_False:
        return mf_buf_append(out, "false", 5);
    case cJSON_True:
        return mf_buf_append(out, "true", 4);
    case cJSON_NULL:
        return mf_buf_append(out, "null", 4);
    case cJSON_Number:
        return mf_buf_put_double(out, item->valuedouble);
    case cJSON_String:
        if (item->valuestring == NULL)
            return mf_buf_append(out, "\"\"", 2);
        if ((rc = put1(out, '"')) != 0 ||
            (rc = mf_buf_json_escape(out, item->valuestring, strlen(item->valuestring))) != 0)
            return rc;
        return put1(out, '"');
    case cJSON_Raw:
        return mf_buf_puts(out, item->valuestring ? item->valuestring : "null");
    case cJSON_Array:
    case cJSON_Object: {
        int obj = (item->type & 0xff) == cJSON_Object;
        rc = put1(out, obj ? '{' : '[');
        for (const cJSON *c = item->child; c && rc == 0; c = c->next) {
            if (c != item->child)
                rc = put1(out, ',');
            if (rc == 0 && obj) {
                const char *k = c->string ? c->string : "";
                if ((rc = put1(out, '"')) == 0 &&
                    (rc = mf_buf_json_escape(out, k, strlen(k))) == 0 && (rc = put1(out, '"')) == 0)
                    rc = put1(out, ':');
            }
            if (rc == 0)
                rc = print_item(c, out);
        }
        return rc ? rc : put1(out, obj ? '}' : ']');
    }
    default:
        return mf_buf_append(out, "null", 4);
    }
}

int mf_json_print(const cJSON *item, struct mf_buf *out)
{
    int rc = print_item(item, out);
    if (rc == 0 && (rc = mf_buf_grow(out, 0)) == 0)
        out->data[out->len] = '\0'; /* as every mf_buf append leaves it */
    return rc;
}

int mf_json_bulk_export_files(const char *dir, struct mf_strlist *files, struct mf_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/export.json", dir);
    if (!mf_fs_exists(path))
        return 0;
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, (size_t)64 << 20, &b, err);
    if (rc)
        return rc;
    cJSON *m = cJSON_ParseWithLength(b.data, b.len);
    mf_buf_release(&b);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(m, "output");
    if (!cJSON_IsArray(out)) {
        cJSON_Delete(m);
        return mf_err_set(err, MF_EPARSE, "'%s': not a Bulk Data manifest (no output list)", path);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, out)
    {
        const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "url"));
        const char *base = url ? strrchr(url, '/') : NULL;
        base = base ? base + 1 : url;
        if (base == NULL || base[0] == '\0' || base[0] == '.') {
            rc = mf_err_set(err, MF_EPARSE, "'%s': an output entry has no usable url", path);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, base);
        if (!mf_fs_exists(path)) {
            rc =
                mf_err_set(err, MF_ENOTFOUND, "'%s/export.json' lists a file that is missing", dir);
            break;
        }
        if (mf_strlist_push(files, path) != 0) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
    }
    cJSON_Delete(m);
    return rc ? rc : 1;
}
