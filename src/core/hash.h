/* hash.h - content hashes (SHA-256 via Nettle) and a fast 64-bit hash for hash tables. */
#ifndef MF_CORE_HASH_H
#define MF_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

struct mf_sha256 {
    void *ctx; /* struct sha256_ctx */
};

int mf_sha256_init(struct mf_sha256 *h);
int mf_sha256_update(struct mf_sha256 *h, const void *data, size_t n);
/* Write the digest as 64 lowercase hex digits plus NUL into hex and free the context. */
int mf_sha256_final(struct mf_sha256 *h, char hex[65]);
/* Free the context without a digest (error paths).  Safe on a zeroed struct. */
void mf_sha256_discard(struct mf_sha256 *h);
/* One-shot digest of a buffer. */
int mf_sha256_hex(const void *data, size_t n, char hex[65]);

/* A 64-bit non-cryptographic hash (FNV-1a with a final mix); not for untrusted keys where
 * collisions matter for security, only for in-process tables. */
uint64_t mf_hash64(const void *data, size_t n);

#endif
