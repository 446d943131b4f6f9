/* strmap.h - a hash table from byte strings to uint64 values (open addressing).
 *
 * Keys are copied into one growable buffer owned by the map.  Used for code and unit
 * dictionaries, whose size is bounded by the vocabulary, not by the number of patients.
 */
#ifndef MF_CORE_STRMAP_H
#define MF_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct mf_strmap_slot {
    uint64_t hash;
    uint64_t key_off; /* offset of the key in keys; UINT64_MAX marks an empty slot */
    uint32_t key_len;
    uint64_t value;
};

struct mf_strmap {
    struct mf_strmap_slot *slots;
    size_t cap, n;
    struct mf_buf keys;
};

void mf_strmap_init(struct mf_strmap *m);
void mf_strmap_free(struct mf_strmap *m);
/* Make room for n keys without growing again.  0 or MF_ENOMEM. */
int mf_strmap_reserve(struct mf_strmap *m, size_t n);
/* Remove every key, keeping the memory for reuse. */
void mf_strmap_clear(struct mf_strmap *m);
/* The slot of key, inserted with value 0 when absent (*added set to 1).  The pointer is valid
 * until the next insertion.  NULL when out of memory. */
struct mf_strmap_slot *mf_strmap_upsert(struct mf_strmap *m, const char *key, size_t len,
                                        int *added);
/* The slot of key, or NULL. */
struct mf_strmap_slot *mf_strmap_get(const struct mf_strmap *m, const char *key, size_t len);
/* The key bytes of a slot. */
static inline const char *mf_strmap_key(const struct mf_strmap *m, const struct mf_strmap_slot *s)
{
    return m->keys.data + s->key_off;
}

#endif
