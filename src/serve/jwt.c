/* jwt.c - checking CDS Hooks JWTs (see jwt.h and docs/serve-jwt.md).
 *
 * libjwt checks the signature; everything around it is done here, before libjwt sees the token:
 * the token's shape and base64url, the header (alg on a two-entry allow-list, never "none" or
 * HMAC, no "crit"), the issuer and the key (by kid, of the type alg asks for), and after the
 * signature the claims and the replay cache.  JWKS keys become PEM public keys with GnuTLS,
 * once, when the issuer is allowed.
 *
 * The header and the payload are parsed twice, by cJSON here and by jansson inside libjwt; so
 * that both read the same thing, members may not repeat (jansson keeps the last of a repeated
 * name, cJSON the first) and after jwt_decode the algorithm libjwt used is compared with ours.
 */
#include "serve/jwt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jwt.h>
#include <nettle/sha2.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"

#define MAX_TOKEN          16384      /* bytes of a token */
#define MAX_JWKS           (1u << 20) /* bytes of a JWKS or of the configuration */
#define MAX_KEYS           256        /* entries of a JWKS's "keys" */
#define MAX_MEMBERS        128        /* members of a token's header or payload */
#define MAX_NAME           255        /* iss, sub, jti, kid */
#define MAX_LIFETIME_S     3600       /* exp - iat */
#define MAX_TIME           (INT64_C(1) << 40)
#define EC_COORD_BYTES     48 /* P-384 */
#define RSA_MIN_BITS       2048
#define RSA_MAX_BITS       16384
#define REPLAY_MAX_DEFAULT 100000

enum key_kind { KEY_EC = 1, KEY_RSA = 2 };

struct key {
    char *kid; /* NULL when the JWK has none */
    enum key_kind kind;
    size_t sig_len; /* bytes of a signature: 96 for ES384, the modulus length for RS384 */
    char *pem;
    size_t pem_len;
};

struct issuer {
    char *iss;
    struct key *keys;
    size_t n;
};

/* One (iss, jti) seen: the salted SHA-256 of both, kept until expiry (exp + skew). */
struct rentry {
    uint8_t key[SHA256_DIGEST_SIZE];
    int64_t expiry;
    size_t heap_i;
    struct rentry *next; /* in its bucket */
};

struct replay {
    pthread_mutex_t mu;
    uint8_t salt[16];
    struct rentry **buckets; /* made on the first insert */
    size_t mask;
    struct rentry **heap; /* a min-heap on expiry */
    size_t n, cap, max;
};

struct mf_jwt_verifier {
    struct issuer *iss;
    size_t n_iss;
    struct replay rp;
    int gnutls_ok;
};

/* ---- base64url and JSON ------------------------------------------------------------------ */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decode s[0..n), base64url without padding in its canonical form (unused low bits zero), into
 * out (replacing its contents, NUL-terminated).  0, MF_EPARSE, or a buffer error. */
static int b64url_decode(const char *s, size_t n, struct mf_buf *out)
{
    mf_buf_reset(out);
    if (n % 4 == 1)
        return MF_EPARSE;
    int rc = mf_buf_grow(out, n / 4 * 3 + 3);
    if (rc != 0)
        return rc;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return MF_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xff);
        }
        acc &= (UINT32_C(1) << bits) - 1;
    }
    out->data[out->len] = '\0';
    return acc == 0 ? 0 : MF_EPARSE;
}

/* Parse the JSON text s[0..n) (s[n] must be NUL): the whole of it, nothing after the value.
 * Release with cJSON_Delete. */
static cJSON *parse_exact(const char *s, size_t n)
{
    if (memchr(s, '\0', n) != NULL)
        return NULL;
    return cJSON_ParseWithLengthOpts(s, n + 1, NULL, 1);
}

/* Whether an object repeats a member name or has more than max members. */
static int bad_members(const cJSON *obj, size_t max)
{
    size_t count = 0;
    for (const cJSON *a = obj->child; a; a = a->next) {
        if (++count > max || a->string == NULL)
            return 1;
        for (const cJSON *b = a->next; b; b = b->next) {
            if (b->string && strcmp(a->string, b->string) == 0)
                return 1;
        }
    }
    return 0;
}

/* ---- JWKS ----------------------------------------------------------------------------------- */

static void free_issuer(struct issuer *is)
{
    for (size_t i = 0; i < is->n; i++) {
        free(is->keys[i].kid);
        free(is->keys[i].pem);
    }
    free(is->keys);
    free(is->iss);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* The big-endian number in b, leading zero bytes dropped. */
static void strip_zeros(const struct mf_buf *b, const unsigned char **p, size_t *n)
{
    *p = (const unsigned char *)b->data;
    *n = b->len;
    while (*n > 0 && **p == 0) {
        (*p)++;
        (*n)--;
    }
}

/* Export pub as PEM into k. */
static int export_pem(gnutls_pubkey_t pub, struct key *k)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d) < 0)
        return MF_EINVAL;
    k->pem = malloc((size_t)d.size + 1);
    if (k->pem == NULL) {
        gnutls_free(d.data);
        return MF_ENOMEM;
    }
    memcpy(k->pem, d.data, d.size);
    k->pem[d.size] = '\0';
    k->pem_len = d.size;
    gnutls_free(d.data);
    return 0;
}

/* Decode the base64url member `name` of a JWK into b.  0, or an error naming the key. */
static int jwk_bytes(const cJSON *jwk, const char *name, struct mf_buf *b, const char *where,
                     size_t idx, struct mf_err *err)
{
    const char *s = mf_json_str(jwk, name);
    if (s == NULL)
        return mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: no \"%s\"", where, idx, name);
    int rc = b64url_decode(s, strlen(s), b);
    if (rc == MF_ENOMEM)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc != 0)
        return mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: \"%s\" is not base64url", where, idx,
                          name);
    return 0;
}

/* Turn one JWK into k.  1 when it is a usable key, 0 when it is of a kind we ignore, negative on
 * a malformed key. */
static int jwk_to_key(const cJSON *jwk, struct key *k, const char *where, size_t idx,
                      struct mf_err *err)
{
    memset(k, 0, sizeof *k);
    if (!cJSON_IsObject(jwk))
        return mf_err_set(err, MF_EINVAL, "%s: keys[%zu] is not an object", where, idx);
    const char *kty = mf_json_str(jwk, "kty");
    if (kty == NULL)
        return mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: no \"kty\"", where, idx);
    if (cJSON_GetObjectItemCaseSensitive(jwk, "d") != NULL)
        return mf_err_set(err, MF_EINVAL,
                          "%s: keys[%zu] holds a private key (\"d\"); give public keys only", where,
                          idx);
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
    if (kid != NULL && (!cJSON_IsString(kid) || strlen(kid->valuestring) > MAX_NAME))
        return mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: \"kid\" is not a string of <= %d bytes",
                          where, idx, MAX_NAME);
    enum key_kind kind;
    if (strcmp(kty, "EC") == 0)
        kind = KEY_EC;
    else if (strcmp(kty, "RSA") == 0)
        kind = KEY_RSA;
    else
        return 0;
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
    if (use != NULL && !(cJSON_IsString(use) && strcmp(use->valuestring, "sig") == 0))
        return 0;
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(jwk, "key_ops");
    if (ops != NULL) {
        int verify = 0;
        const cJSON *op;
        cJSON_ArrayForEach(op, ops)
        {
            if (cJSON_IsString(op) && strcmp(op->valuestring, "verify") == 0)
                verify = 1;
        }
        if (!verify)
            return 0;
    }
    const char *alg = mf_json_str(jwk, "alg");
    if (cJSON_GetObjectItemCaseSensitive(jwk, "alg") != NULL &&
        (alg == NULL || strcmp(alg, kind == KEY_EC ? "ES384" : "RS384") != 0))
        return 0;
    if (kind == KEY_EC) {
        const char *crv = mf_json_str(jwk, "crv");
        if (crv == NULL || strcmp(crv, "P-384") != 0)
            return 0;
    }

    struct mf_buf a = MF_BUF_INIT, b = MF_BUF_INIT;
    gnutls_pubkey_t pub = NULL;
    int rc;
    if (gnutls_pubkey_init(&pub) < 0) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    if (kind == KEY_EC) {
        if ((rc = jwk_bytes(jwk, "x", &a, where, idx, err)) != 0 ||
            (rc = jwk_bytes(jwk, "y", &b, where, idx, err)) != 0)
            goto out;
        if (a.len != EC_COORD_BYTES || b.len != EC_COORD_BYTES) {
            rc = mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: P-384 \"x\" and \"y\" must be %d bytes",
                            where, idx, EC_COORD_BYTES);
            goto out;
        }
        gnutls_datum_t x = {(unsigned char *)a.data, (unsigned)a.len};
        gnutls_datum_t y = {(unsigned char *)b.data, (unsigned)b.len};
        if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP384R1, &x, &y) < 0 ||
            gnutls_pubkey_verify_params(pub) < 0) {
            rc = mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: not a point of P-384", where, idx);
            goto out;
        }
        k->sig_len = 2 * EC_COORD_BYTES;
    } else {
        if ((rc = jwk_bytes(jwk, "n", &a, where, idx, err)) != 0 ||
            (rc = jwk_bytes(jwk, "e", &b, where, idx, err)) != 0)
            goto out;
        const unsigned char *n, *e;
        size_t nn, ne;
        strip_zeros(&a, &n, &nn);
        strip_zeros(&b, &e, &ne);
        size_t bits = nn == 0 ? 0 : nn * 8;
        for (unsigned char top = nn ? n[0] : 0; bits > 0 && !(top & 0x80); top <<= 1)
            bits--;
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
            rc = 0; /* too small (or absurdly large): ignored */
            goto out;
        }
        if (ne == 0 || ne > 8 || !(e[ne - 1] & 1) || (ne == 1 && e[0] < 3)) {
            rc = mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: bad RSA exponent", where, idx);
            goto out;
        }
        gnutls_datum_t dn = {(unsigned char *)n, (unsigned)nn};
        gnutls_datum_t de = {(unsigned char *)e, (unsigned)ne};
        if (gnutls_pubkey_import_rsa_raw(pub, &dn, &de) < 0) {
            rc = mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: not a usable RSA key", where, idx);
            goto out;
        }
        k->sig_len = nn;
    }
    k->kind = kind;
    if ((rc = export_pem(pub, k)) != 0) {
        rc = mf_err_set(err, rc, "%s: keys[%zu]: cannot convert the key to PEM", where, idx);
        goto out;
    }
    if (kid != NULL && (k->kid = dup_str(kid->valuestring)) == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    rc = 1;
out:
    if (rc != 1) {
        free(k->pem);
        free(k->kid);
        memset(k, 0, sizeof *k);
    }
    if (pub)
        gnutls_pubkey_deinit(pub);
    mf_buf_release(&a);
    mf_buf_release(&b);
    return rc;
}

/* ---- the verifier ---------------------------------------------------------------------------- */

int mf_jwt_verifier_new(struct mf_jwt_verifier **out, struct mf_err *err)
{
    *out = NULL;
    struct mf_jwt_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if (pthread_mutex_init(&v->rp.mu, NULL) != 0) {
        free(v);
        return mf_err_set(err, MF_ENOMEM, "cannot make a mutex");
    }
    if (gnutls_global_init() < 0) {
        pthread_mutex_destroy(&v->rp.mu);
        free(v);
        return mf_err_set(err, MF_EINVAL, "GnuTLS cannot start");
    }
    v->gnutls_ok = 1;
    if (gnutls_rnd(GNUTLS_RND_NONCE, v->rp.salt, sizeof v->rp.salt) < 0) {
        mf_jwt_verifier_free(v);
        return mf_err_set(err, MF_EINVAL, "no random numbers for the replay cache");
    }
    v->rp.max = REPLAY_MAX_DEFAULT;
    /* Have core/json.c install its cJSON allocator now, before threads verify tokens (the
     * header and payload are parsed with cJSON's own calls). */
    mf_json_release(mf_json_parse("{}", 2, NULL));
    *out = v;
    return 0;
}

void mf_jwt_verifier_free(struct mf_jwt_verifier *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n_iss; i++)
        free_issuer(&v->iss[i]);
    free(v->iss);
    for (size_t i = 0; i < v->rp.n; i++)
        free(v->rp.heap[i]);
    free(v->rp.heap);
    free(v->rp.buckets);
    pthread_mutex_destroy(&v->rp.mu);
    if (v->gnutls_ok)
        gnutls_global_deinit();
    free(v);
}

static const struct issuer *find_issuer(const struct mf_jwt_verifier *v, const char *iss)
{
    for (size_t i = 0; i < v->n_iss; i++) {
        if (strcmp(v->iss[i].iss, iss) == 0)
            return &v->iss[i];
    }
    return NULL;
}

int mf_jwt_allow_issuer(struct mf_jwt_verifier *v, const char *iss, const char *jwks_json,
                        size_t len, const char *name, struct mf_err *err)
{
    if (name == NULL)
        name = "JWKS";
    if (v == NULL || iss == NULL || jwks_json == NULL)
        return mf_err_set(err, MF_EINVAL, "%s: no issuer or no JWKS", name);
    if (iss[0] == '\0' || strlen(iss) > MAX_NAME)
        return mf_err_set(err, MF_EINVAL, "%s: the issuer must be 1 to %d bytes", name, MAX_NAME);
    if (find_issuer(v, iss) != NULL)
        return mf_err_set(err, MF_EINVAL, "%s: issuer '%s' is already allowed", name, iss);
    if (len > MAX_JWKS)
        return mf_err_set(err, MF_EINVAL, "%s: the JWKS is over %u bytes", name, MAX_JWKS);

    struct mf_buf text = MF_BUF_INIT;
    if (mf_buf_append(&text, jwks_json, len) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    cJSON *root = parse_exact(text.data ? text.data : "", text.len);
    mf_buf_release(&text);
    if (root == NULL)
        return mf_err_set(err, MF_EINVAL, "%s: the JWKS is not valid JSON", name);
    int rc = 0;
    struct issuer is = {0};
    const cJSON *keys = mf_json_arr(root, "keys");
    if (!cJSON_IsObject(root) || keys == NULL) {
        rc = mf_err_set(err, MF_EINVAL, "%s: a JWKS is an object with a \"keys\" array", name);
        goto out;
    }
    int nkeys = cJSON_GetArraySize(keys);
    if (nkeys > MAX_KEYS) {
        rc = mf_err_set(err, MF_EINVAL, "%s: over %d keys", name, MAX_KEYS);
        goto out;
    }
    if ((is.keys = calloc(nkeys > 0 ? (size_t)nkeys : 1, sizeof *is.keys)) == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    size_t idx = 0;
    const cJSON *jwk;
    cJSON_ArrayForEach(jwk, keys)
    {
        rc = jwk_to_key(jwk, &is.keys[is.n], name, idx++, err);
        if (rc < 0)
            goto out;
        if (rc == 0)
            continue;
        rc = 0;
        const struct key *k = &is.keys[is.n];
        for (size_t j = 0; j < is.n; j++) {
            const struct key *o = &is.keys[j];
            if (o->kind == k->kind && ((o->kid == NULL && k->kid == NULL) ||
                                       (o->kid && k->kid && strcmp(o->kid, k->kid) == 0))) {
                is.n++; /* freed with the rest */
                rc = mf_err_set(err, MF_EINVAL, "%s: keys[%zu]: two keys of one type share a kid",
                                name, idx - 1);
                goto out;
            }
        }
        is.n++;
    }
    if (is.n == 0) {
        rc = mf_err_set(err, MF_EINVAL,
                        "%s: no usable key (EC P-384 or RSA of %d to %d bits, for signatures)",
                        name, RSA_MIN_BITS, RSA_MAX_BITS);
        goto out;
    }
    if ((is.iss = dup_str(iss)) == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    struct issuer *grown = realloc(v->iss, (v->n_iss + 1) * sizeof *grown);
    if (grown == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    v->iss = grown;
    v->iss[v->n_iss++] = is;
    memset(&is, 0, sizeof is);
out:
    free_issuer(&is);
    cJSON_Delete(root);
    return rc;
}

/* ---- configuration --------------------------------------------------------------------------- */

static int config_entry(struct mf_jwt_verifier *v, const char *path, size_t i, const cJSON *e,
                        struct mf_err *err)
{
    if (!cJSON_IsObject(e))
        return mf_err_set(err, MF_EINVAL, "'%s': issuers[%zu] is not an object", path, i);
    const cJSON *m;
    cJSON_ArrayForEach(m, e)
    {
        if (strcmp(m->string, "iss") != 0 && strcmp(m->string, "jwks") != 0 &&
            strcmp(m->string, "jwks_file") != 0)
            return mf_err_set(err, MF_EINVAL, "'%s': issuers[%zu]: unknown member \"%s\"", path, i,
                              m->string);
    }
    const char *iss = mf_json_str(e, "iss");
    if (iss == NULL || iss[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "'%s': issuers[%zu]: no \"iss\"", path, i);
    const cJSON *jwks = cJSON_GetObjectItemCaseSensitive(e, "jwks");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "jwks_file");
    if ((jwks == NULL) == (file == NULL))
        return mf_err_set(err, MF_EINVAL,
                          "'%s': issuers[%zu]: give exactly one of \"jwks\" and \"jwks_file\"",
                          path, i);
    struct mf_buf text = MF_BUF_INIT;
    char name[PATH_MAX + 64];
    int rc;
    if (jwks != NULL) {
        if (!cJSON_IsObject(jwks))
            return mf_err_set(err, MF_EINVAL, "'%s': issuers[%zu]: \"jwks\" is not an object", path,
                              i);
        if (mf_json_print(jwks, &text) != 0) {
            mf_buf_release(&text);
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        }
        snprintf(name, sizeof name, "'%s': issuers[%zu].jwks", path, i);
    } else {
        if (!cJSON_IsString(file) || file->valuestring[0] == '\0')
            return mf_err_set(err, MF_EINVAL,
                              "'%s': issuers[%zu]: \"jwks_file\" is not a file name", path, i);
        const char *f = file->valuestring;
        char full[PATH_MAX];
        const char *slash = strrchr(path, '/');
        int n;
        if (f[0] == '/' || slash == NULL)
            n = snprintf(full, sizeof full, "%s", f);
        else
            n = snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, f);
        if (n < 0 || (size_t)n >= sizeof full)
            return mf_err_set(err, MF_EINVAL, "'%s': issuers[%zu]: \"jwks_file\" is too long", path,
                              i);
        struct mf_err ferr = {0};
        if ((rc = mf_fs_read_file(full, MAX_JWKS, &text, &ferr)) != 0) {
            mf_buf_release(&text);
            return mf_err_set(err, rc, "'%s': issuers[%zu]: %s", path, i, ferr.msg);
        }
        snprintf(name, sizeof name, "'%s' (issuers[%zu] of '%s')", full, i, path);
    }
    rc = mf_jwt_allow_issuer(v, iss, text.data ? text.data : "", text.len, name, err);
    mf_buf_release(&text);
    return rc;
}

int mf_jwt_load_config(struct mf_jwt_verifier *v, const char *path, struct mf_err *err)
{
    if (v == NULL || path == NULL)
        return mf_err_set(err, MF_EINVAL, "no JWT configuration given");
    struct mf_buf text = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, MAX_JWKS, &text, err);
    if (rc != 0) {
        mf_buf_release(&text);
        return rc;
    }
    cJSON *root = parse_exact(text.data ? text.data : "", text.len);
    mf_buf_release(&text);
    if (root == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': not valid JSON", path);
    const cJSON *list = mf_json_arr(root, "issuers");
    if (!cJSON_IsObject(root) || list == NULL || cJSON_GetArraySize(list) == 0) {
        rc = mf_err_set(err, MF_EINVAL, "'%s': no \"issuers\" list (see docs/serve-jwt.md)", path);
    } else {
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, list)
        {
            if ((rc = config_entry(v, path, i++, e, err)) != 0)
                break;
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- the replay cache ------------------------------------------------------------------------ */

static void heap_set(struct replay *rp, size_t i, struct rentry *e)
{
    rp->heap[i] = e;
    e->heap_i = i;
}

static void heap_up(struct replay *rp, size_t i)
{
    struct rentry *e = rp->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (rp->heap[p]->expiry <= e->expiry)
            break;
        heap_set(rp, i, rp->heap[p]);
        i = p;
    }
    heap_set(rp, i, e);
}

static void heap_down(struct replay *rp, size_t i)
{
    struct rentry *e = rp->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= rp->n)
            break;
        if (c + 1 < rp->n && rp->heap[c + 1]->expiry < rp->heap[c]->expiry)
            c++;
        if (e->expiry <= rp->heap[c]->expiry)
            break;
        heap_set(rp, i, rp->heap[c]);
        i = c;
    }
    heap_set(rp, i, e);
}

static size_t bucket_of(const struct replay *rp, const uint8_t key[SHA256_DIGEST_SIZE])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & rp->mask;
}

/* Forget the entries whose time is over. */
static void replay_prune(struct replay *rp, int64_t now)
{
    while (rp->n > 0 && rp->heap[0]->expiry <= now) {
        struct rentry *e = rp->heap[0];
        struct rentry **pp = &rp->buckets[bucket_of(rp, e->key)];
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        rp->n--;
        if (rp->n > 0) {
            heap_set(rp, 0, rp->heap[rp->n]);
            heap_down(rp, 0);
        }
        free(e);
    }
}

/* Record (iss, jti) until expiry; MF_EINVAL when it is already there or the cache is full. */
static int replay_check(struct replay *rp, const char *iss, const char *jti, int64_t expiry,
                        int64_t now, struct mf_err *err)
{
    uint8_t key[SHA256_DIGEST_SIZE];
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, sizeof rp->salt, rp->salt);
    sha256_update(&h, strlen(iss) + 1, (const uint8_t *)iss);
    sha256_update(&h, strlen(jti), (const uint8_t *)jti);
    sha256_digest(&h, sizeof key, key);

    int rc = 0;
    pthread_mutex_lock(&rp->mu);
    if (rp->buckets == NULL) {
        size_t nb = 16;
        while (nb < rp->max / 2 && nb < ((size_t)1 << 24))
            nb *= 2;
        if ((rp->buckets = calloc(nb, sizeof(struct rentry *))) == NULL) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            goto out;
        }
        rp->mask = nb - 1;
    }
    replay_prune(rp, now);
    size_t b = bucket_of(rp, key);
    for (const struct rentry *e = rp->buckets[b]; e; e = e->next) {
        if (memcmp(e->key, key, sizeof key) == 0) {
            rc = mf_err_set(err, MF_EINVAL, "jti was already used (a replayed token)");
            goto out;
        }
    }
    if (rp->n >= rp->max) {
        rc = mf_err_set(err, MF_EINVAL, "replay cache full (%zu unexpired tokens); try again later",
                        rp->n);
        goto out;
    }
    if (rp->n == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 64;
        if (cap > rp->max)
            cap = rp->max;
        struct rentry **heap = realloc(rp->heap, cap * sizeof(struct rentry *));
        if (heap == NULL) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            goto out;
        }
        rp->heap = heap;
        rp->cap = cap;
    }
    struct rentry *e = malloc(sizeof *e);
    if (e == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(e->key, key, sizeof key);
    e->expiry = expiry;
    e->next = rp->buckets[b];
    rp->buckets[b] = e;
    heap_set(rp, rp->n++, e);
    heap_up(rp, rp->n - 1);
out:
    pthread_mutex_unlock(&rp->mu);
    return rc;
}

int mf_jwt_set_replay_max(struct mf_jwt_verifier *v, size_t max, struct mf_err *err)
{
    if (v == NULL || max == 0)
        return mf_err_set(err, MF_EINVAL, "the replay cache needs room for one token at least");
    int rc = 0;
    pthread_mutex_lock(&v->rp.mu);
    if (v->rp.buckets != NULL)
        rc = mf_err_set(err, MF_EINVAL, "the replay cache's size is set before the first token");
    else
        v->rp.max = max;
    pthread_mutex_unlock(&v->rp.mu);
    return rc;
}

size_t mf_jwt_replay_count(struct mf_jwt_verifier *v, int64_t now)
{
    pthread_mutex_lock(&v->rp.mu);
    if (v->rp.buckets != NULL)
        replay_prune(&v->rp, now);
    size_t n = v->rp.n;
    pthread_mutex_unlock(&v->rp.mu);
    return n;
}

/* ---- checking a token ------------------------------------------------------------------------ */

/* A NumericDate claim: 1 and *out when present and sane, 0 when absent, -1 when not a number in
 * [0, 2^40). */
static int time_claim(const cJSON *payload, const char *name, int64_t *out)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(payload, name);
    if (c == NULL)
        return 0;
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble < 0 ||
        c->valuedouble >= (double)MAX_TIME)
        return -1;
    *out = (int64_t)floor(c->valuedouble);
    return 1;
}

/* A string claim of 1..MAX_NAME bytes copied into out: 1, 0 absent, -1 not such a string. */
static int name_claim(const cJSON *payload, const char *name, char out[MAX_NAME + 1])
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(payload, name);
    if (c == NULL)
        return 0;
    if (!cJSON_IsString(c))
        return -1;
    size_t n = strlen(c->valuestring);
    if (n == 0 || n > MAX_NAME)
        return -1;
    memcpy(out, c->valuestring, n + 1);
    return 1;
}

static int audience_matches(const cJSON *aud, const char *want)
{
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    if (!cJSON_IsArray(aud))
        return 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, aud)
    {
        if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
            return 1;
    }
    return 0;
}

/* The name of a refused alg when it is a well-known one (never echo arbitrary token text). */
static const char *known_alg(const char *alg)
{
    static const char *const names[] = {"none",  "HS256", "HS384", "HS512", "RS256", "RS512",
                                        "ES256", "ES512", "PS256", "PS384", "PS512", "EdDSA"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(alg, names[i]) == 0)
            return names[i];
    }
    return NULL;
}

struct parts {
    struct mf_buf tok, head, body, sig;
    cJSON *h, *p;
};

static void parts_free(struct parts *t)
{
    mf_buf_release(&t->tok);
    mf_buf_release(&t->head);
    mf_buf_release(&t->body);
    mf_buf_release(&t->sig);
    cJSON_Delete(t->h);
    cJSON_Delete(t->p);
}

/* Choose the issuer's key for alg's kind and the header's kid (NULL: none given). */
static int pick_key(const struct issuer *is, enum key_kind kind, const char *kid,
                    const struct key **out, struct mf_err *err)
{
    const struct key *found = NULL;
    size_t of_kind = 0;
    int other_kind = 0;
    for (size_t i = 0; i < is->n; i++) {
        const struct key *k = &is->keys[i];
        if (kid != NULL) {
            if (k->kid == NULL || strcmp(k->kid, kid) != 0)
                continue;
            if (k->kind != kind) {
                other_kind = 1;
                continue;
            }
            found = k;
            break;
        }
        if (k->kind == kind) {
            of_kind++;
            found = k;
        }
    }
    const char *want = kind == KEY_EC ? "EC P-384 key (alg ES384)" : "RSA key (alg RS384)";
    if (kid != NULL && found == NULL && other_kind)
        return mf_err_set(err, MF_EINVAL, "the key named by kid is not an %s", want);
    if (kid != NULL && found == NULL)
        return mf_err_set(err, MF_EINVAL, "kid names no key of the issuer");
    if (kid == NULL && of_kind == 0)
        return mf_err_set(err, MF_EINVAL, "the issuer has no %s", want);
    if (kid == NULL && of_kind > 1)
        return mf_err_set(err, MF_EINVAL, "no kid, and the issuer has several of that kind (%s)",
                          want);
    *out = found;
    return 0;
}

int mf_jwt_verify(struct mf_jwt_verifier *v, const char *token, size_t len, const char *aud,
                  int64_t now, struct mf_jwt_claims *out, struct mf_err *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (v == NULL || aud == NULL || (token == NULL && len > 0))
        return mf_err_set(err, MF_EINVAL, "no verifier, token or audience");
    if (len == 0)
        return mf_err_set(err, MF_EINVAL, "empty token");
    if (len > MAX_TOKEN)
        return mf_err_set(err, MF_EINVAL, "token over %d bytes", MAX_TOKEN);
    if (now < 0 || now >= MAX_TIME)
        return mf_err_set(err, MF_EINVAL, "the clock is out of range");

    /* 1. shape: three base64url segments */
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return mf_err_set(err, MF_EINVAL, "not a signed JWT (three dot-separated parts)");
    size_t hn = (size_t)(d1 - token), pn = (size_t)(d2 - d1 - 1),
           sn = len - (size_t)(d2 + 1 - token);
    if (hn == 0 || pn == 0)
        return mf_err_set(err, MF_EINVAL, "not a signed JWT (an empty header or payload)");
    if (sn == 0)
        return mf_err_set(err, MF_EINVAL, "unsigned token (empty signature)");

    struct parts t = {MF_BUF_INIT, MF_BUF_INIT, MF_BUF_INIT, MF_BUF_INIT, NULL, NULL};
    int rc;
    if ((rc = b64url_decode(token, hn, &t.head)) != 0 ||
        (rc = b64url_decode(d1 + 1, pn, &t.body)) != 0 ||
        (rc = b64url_decode(d2 + 1, sn, &t.sig)) != 0) {
        rc = rc == MF_ENOMEM ? mf_err_set(err, rc, "out of memory")
                             : mf_err_set(err, MF_EINVAL, "a part of the token is not base64url");
        goto out;
    }

    /* 2. header: alg ES384 or RS384, optional kid, no crit */
    t.h = parse_exact(t.head.data, t.head.len);
    if (!cJSON_IsObject(t.h) || bad_members(t.h, MAX_MEMBERS)) {
        rc = mf_err_set(err, MF_EINVAL, "the header is not a JSON object (without repeated names)");
        goto out;
    }
    const char *alg = mf_json_str(t.h, "alg");
    enum key_kind kind;
    jwt_alg_t jalg;
    if (alg != NULL && strcmp(alg, "ES384") == 0) {
        kind = KEY_EC;
        jalg = JWT_ALG_ES384;
    } else if (alg != NULL && strcmp(alg, "RS384") == 0) {
        kind = KEY_RSA;
        jalg = JWT_ALG_RS384;
    } else {
        const char *known = alg ? known_alg(alg) : NULL;
        rc = mf_err_set(err, MF_EINVAL, "alg %s%s%s is not accepted (only ES384 and RS384)",
                        known ? "\"" : "", known ? known : (alg ? "(unknown)" : "(missing)"),
                        known ? "\"" : "");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(t.h, "crit") != NULL) {
        rc = mf_err_set(err, MF_EINVAL, "the header has \"crit\" extensions, none are supported");
        goto out;
    }
    const cJSON *kidj = cJSON_GetObjectItemCaseSensitive(t.h, "kid");
    if (kidj != NULL && (!cJSON_IsString(kidj) || strlen(kidj->valuestring) > MAX_NAME)) {
        rc = mf_err_set(err, MF_EINVAL, "kid is not a string of at most %d bytes", MAX_NAME);
        goto out;
    }

    /* 3. issuer (read before the signature, to find the keys) and key */
    t.p = parse_exact(t.body.data, t.body.len);
    if (!cJSON_IsObject(t.p) || bad_members(t.p, MAX_MEMBERS)) {
        rc =
            mf_err_set(err, MF_EINVAL, "the payload is not a JSON object (without repeated names)");
        goto out;
    }
    struct mf_jwt_claims cl;
    memset(&cl, 0, sizeof cl);
    if (name_claim(t.p, "iss", cl.iss) != 1) {
        rc =
            mf_err_set(err, MF_EINVAL, "iss is missing or not a string of 1 to %d bytes", MAX_NAME);
        goto out;
    }
    const struct issuer *is = find_issuer(v, cl.iss);
    if (is == NULL) {
        rc = mf_err_set(err, MF_EINVAL, "iss is not a trusted issuer");
        goto out;
    }
    const struct key *key = NULL;
    if ((rc = pick_key(is, kind, kidj ? kidj->valuestring : NULL, &key, err)) != 0 || key == NULL) {
        rc = rc ? rc : MF_EINVAL;
        goto out;
    }
    if (t.sig.len != key->sig_len) {
        rc = mf_err_set(err, MF_EINVAL, "the signature does not verify (wrong length)");
        goto out;
    }

    /* 4. signature (libjwt) */
    if (mf_buf_append(&t.tok, token, len) != 0) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    jwt_t *j = NULL;
    int jrc = jwt_decode(&j, t.tok.data, (const unsigned char *)key->pem, (int)key->pem_len);
    jwt_alg_t got = j ? jwt_get_alg(j) : JWT_ALG_INVAL;
    if (j)
        jwt_free(j);
    if (jrc != 0 || j == NULL) {
        rc =
            mf_err_set(err, jrc == ENOMEM ? MF_ENOMEM : MF_EINVAL, "the signature does not verify");
        goto out;
    }
    if (got != jalg) {
        rc = mf_err_set(err, MF_EINVAL, "the signature does not verify (algorithm mismatch)");
        goto out;
    }

    /* 5. claims */
    if (name_claim(t.p, "sub", cl.sub) != 1) {
        rc =
            mf_err_set(err, MF_EINVAL, "sub is missing or not a string of 1 to %d bytes", MAX_NAME);
        goto out;
    }
    if (!audience_matches(cJSON_GetObjectItemCaseSensitive(t.p, "aud"), aud)) {
        rc = mf_err_set(err, MF_EINVAL, "aud is not the URL of the service called");
        goto out;
    }
    int64_t nbf = 0;
    int he = time_claim(t.p, "exp", &cl.exp), hi = time_claim(t.p, "iat", &cl.iat),
        has_nbf = time_claim(t.p, "nbf", &nbf);
    if (he != 1 || hi != 1 || has_nbf < 0) {
        rc = mf_err_set(err, MF_EINVAL, "%s is missing or not a time in seconds",
                        he != 1 ? "exp" : (hi != 1 ? "iat" : "nbf"));
        goto out;
    }
    if (now >= cl.exp + MF_JWT_SKEW_S) {
        rc = mf_err_set(err, MF_EINVAL, "the token has expired (exp)");
        goto out;
    }
    if (cl.iat > now + MF_JWT_SKEW_S) {
        rc = mf_err_set(err, MF_EINVAL, "the token was issued in the future (iat)");
        goto out;
    }
    if (has_nbf == 1 && nbf > now + MF_JWT_SKEW_S) {
        rc = mf_err_set(err, MF_EINVAL, "the token is not valid yet (nbf)");
        goto out;
    }
    if (cl.exp <= cl.iat || cl.exp - cl.iat > MAX_LIFETIME_S) {
        rc = mf_err_set(err, MF_EINVAL, "exp must be after iat, by at most %d seconds",
                        MAX_LIFETIME_S);
        goto out;
    }
    if (name_claim(t.p, "jti", cl.jti) != 1) {
        rc =
            mf_err_set(err, MF_EINVAL, "jti is missing or not a string of 1 to %d bytes", MAX_NAME);
        goto out;
    }

    /* 6. replay */
    if ((rc = replay_check(&v->rp, cl.iss, cl.jti, cl.exp + MF_JWT_SKEW_S, now, err)) != 0)
        goto out;
    if (out)
        *out = cl;
out:
    parts_free(&t);
    return rc;
}
