/* hash.c - SHA-256 through Nettle, and a table hash (see hash.h).
 *
 * Nettle rather than OpenSSL: both are well kept, but OpenSSL 3 costs milliseconds per process
 * to load and to initialize its providers, which short commands like `medfm inspect` cannot
 * afford (docs/performance.md); Nettle's SHA-256 needs no initialization at all.
 */
#include "core/hash.h"
#include "core/err.h"

#include <stdlib.h>

#include <nettle/sha2.h>

int mf_sha256_init(struct mf_sha256 *h)
{
    struct sha256_ctx *c = malloc(sizeof *c);
    if (c == NULL)
        return MF_ENOMEM;
    sha256_init(c);
    h->ctx = c;
    return 0;
}

int mf_sha256_update(struct mf_sha256 *h, const void *data, size_t n)
{
    sha256_update(h->ctx, n, data);
    return 0;
}

int mf_sha256_final(struct mf_sha256 *h, char hex[65])
{
    static const char digit[] = "0123456789abcdef";
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_digest(h->ctx, sizeof md, md);
    free(h->ctx);
    h->ctx = NULL;
    for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digit[md[i] >> 4];
        hex[2 * i + 1] = digit[md[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

void mf_sha256_discard(struct mf_sha256 *h)
{
    free(h->ctx);
    h->ctx = NULL;
}

int mf_sha256_hex(const void *data, size_t n, char hex[65])
{
    struct mf_sha256 h;
    int rc = mf_sha256_init(&h);
    if (rc)
        return rc;
    mf_sha256_update(&h, data, n);
    return mf_sha256_final(&h, hex);
}

uint64_t mf_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
