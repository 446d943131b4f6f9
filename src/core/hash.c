/* hash.c - SHA-256 through OpenSSL's EVP interface, and a table hash (see hash.h). */
#include "core/hash.h"
#include "core/err.h"

#include <openssl/evp.h>

int mf_sha256_init(struct mf_sha256 *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return MF_ENOMEM;
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return MF_EIO;
    }
    h->ctx = c;
    return 0;
}

int mf_sha256_update(struct mf_sha256 *h, const void *data, size_t n)
{
    return EVP_DigestUpdate(h->ctx, data, n) == 1 ? 0 : MF_EIO;
}

int mf_sha256_final(struct mf_sha256 *h, char hex[65])
{
    static const char digit[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex(h->ctx, md, &len) == 1;
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    if (!ok || len != 32)
        return MF_EIO;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digit[md[i] >> 4];
        hex[2 * i + 1] = digit[md[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

void mf_sha256_discard(struct mf_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int mf_sha256_hex(const void *data, size_t n, char hex[65])
{
    struct mf_sha256 h;
    int rc = mf_sha256_init(&h);
    if (rc)
        return rc;
    rc = mf_sha256_update(&h, data, n);
    if (rc) {
        mf_sha256_discard(&h);
        return rc;
    }
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
