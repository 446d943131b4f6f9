/* writer_int.h - the store writer's state, shared by writer.c (batches, spilling) and merge.c
 * (the commit).  Internal to src/store. */
#ifndef MF_STORE_WRITER_INT_H
#define MF_STORE_WRITER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/strmap.h"

struct cJSON;

struct mf_store_batch {
    struct mf_store_writer *w;
    int index;
    char *block; /* records, each 8-byte aligned: struct rec_hdr then the strings */
    size_t len, cap, limit;
    size_t n; /* records in block */
    int runs;
    struct mf_strmap codes, units; /* seen in spilled records */
};

struct mf_store_writer {
    char *dst, *tmp, *runs_dir;
    int n_batches;
    struct mf_store_batch *batches;
    uint64_t shard_events;
    size_t merge_fanin;
    struct cJSON *sources;
    char *deid_sha256;
    int committed;
    uint64_t patients; /* after a commit */
};

/* Sort and write whatever the batch holds as one more run (nothing when empty). */
int mf_store_batch_spill_all(struct mf_store_batch *b, struct mf_err *err);

#endif
