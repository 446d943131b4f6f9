/* strmap.c - string to uint64 hash table with linear probing (see strmap.h). */
#include "core/strmap.h"
#include "core/err.h"
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX

void mf_strmap_init(struct mf_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void mf_strmap_free(struct mf_strmap *m)
{
    free(m->slots);
    mf_buf_release(&m->keys);
    memset(m, 0, sizeof *m);
}

void mf_strmap_clear(struct mf_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].key_off = EMPTY;
    m->n = 0;
    mf_buf_reset(&m->keys);
}

static struct mf_strmap_slot *find(const struct mf_strmap *m, const char *key, size_t len,
                                   uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct mf_strmap_slot *s = &m->slots[i];
        if (s->key_off == EMPTY)
            return s;
        if (s->hash == h && s->key_len == len && memcmp(m->keys.data + s->key_off, key, len) == 0)
            return s;
    }
}

static int rehash(struct mf_strmap *m, size_t cap)
{
    struct mf_strmap_slot *old = m->slots;
    size_t old_cap = m->cap;
    if (cap < 64 || (cap & (cap - 1)) != 0)
        return -1;
    m->slots = malloc(cap * sizeof *m->slots);
    if (m->slots == NULL) {
        m->slots = old;
        return -1;
    }
    for (size_t i = 0; i < cap; i++)
        m->slots[i].key_off = EMPTY;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key_off == EMPTY)
            continue;
        size_t mask = cap - 1;
        size_t j = old[i].hash & mask;
        while (m->slots[j].key_off != EMPTY)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

int mf_strmap_reserve(struct mf_strmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    while ((n + 1) * 4 >= cap * 3)
        cap *= 2;
    return cap == m->cap ? 0 : rehash(m, cap) == 0 ? 0 : MF_ENOMEM;
}

struct mf_strmap_slot *mf_strmap_upsert(struct mf_strmap *m, const char *key, size_t len,
                                        int *added)
{
    if (added)
        *added = 0;
    if ((m->n + 1) * 4 >= m->cap * 3 && rehash(m, m->cap ? m->cap * 2 : 64) != 0)
        return NULL;
    uint64_t h = mf_hash64(key, len);
    struct mf_strmap_slot *s = find(m, key, len, h);
    if (s->key_off != EMPTY)
        return s;
    size_t off = m->keys.len;
    if (mf_buf_append(&m->keys, key, len) != 0)
        return NULL;
    s->hash = h;
    s->key_off = off;
    s->key_len = (uint32_t)len;
    s->value = 0;
    m->n++;
    if (added)
        *added = 1;
    return s;
}

struct mf_strmap_slot *mf_strmap_get(const struct mf_strmap *m, const char *key, size_t len)
{
    if (m->cap == 0)
        return NULL;
    struct mf_strmap_slot *s = find(m, key, len, mf_hash64(key, len));
    return s->key_off == EMPTY ? NULL : s;
}
