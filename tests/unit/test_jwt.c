/* test_jwt.c - unit tests for src/serve/jwt.c: CDS Hooks JWTs.
 *
 * Keys are made at test time with GnuTLS (EC P-384, RSA 2048, and a second P-384 key that is
 * not trusted); the JWKS is written from their public parameters.  Tokens are signed two ways:
 * with libjwt (jwt_encode_str, the usual path) and by hand with GnuTLS (base64url of any header
 * and payload text, then the signature), which lets the tests make tokens libjwt would refuse
 * to build: alg none, HMAC keyed with the public key's PEM, repeated header names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jwt.h>

#include "core/buf.h"
#include "core/fs.h"
#include "serve/jwt.h"

#define ISS  "https://ehr.example.org"
#define ISS2 "https://other-ehr.example.org"
#define AUD  "https://cds.example.org/cds-services/medfm-risk"
#define NOW  INT64_C(1700000000)

static char tmpdir[512];

struct testkey {
    gnutls_privkey_t priv;
    char *priv_pem; /* what libjwt signs with */
    char *pub_pem;  /* the public key as PEM: the HMAC secret of the confusion attack */
    char *jwk;      /* the public JWK as JSON text, without kid */
};

static struct testkey ec_key, rsa_key, other_key;
static char jwks[8192]; /* {"keys": [ec_key as "es1", rsa_key as "rs1"]} */

/* ---- helpers ------------------------------------------------------------------------------- */

static void b64url(const void *data, size_t n, struct mf_buf *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *d = data;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        assert_int_equal(mf_buf_putc(out, abc[(v >> 18) & 63]), 0);
        assert_int_equal(mf_buf_putc(out, abc[(v >> 12) & 63]), 0);
        if (i + 1 < n)
            assert_int_equal(mf_buf_putc(out, abc[(v >> 6) & 63]), 0);
        if (i + 2 < n)
            assert_int_equal(mf_buf_putc(out, abc[v & 63]), 0);
    }
}

static char *datum_str(gnutls_datum_t *d)
{
    char *s = malloc(d->size + 1);
    assert_non_null(s);
    memcpy(s, d->data, d->size);
    s[d->size] = '\0';
    gnutls_free(d->data);
    return s;
}

/* base64url of a big-endian number left-padded with zeros to width bytes (0: as it is). */
static void b64url_num(const gnutls_datum_t *d, size_t width, struct mf_buf *out)
{
    unsigned char buf[1024];
    size_t n = d->size;
    assert_true(n <= sizeof buf && (width == 0 || n <= width));
    size_t pad = width ? width - n : 0;
    memset(buf, 0, pad);
    memcpy(buf + pad, d->data, n);
    b64url(buf, pad + n, out);
}

static void make_key(struct testkey *k, int ec)
{
    assert_int_equal(gnutls_privkey_init(&k->priv), 0);
    if (ec)
        assert_int_equal(gnutls_privkey_generate(k->priv, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1),
                                                 0),
                         0);
    else
        assert_int_equal(gnutls_privkey_generate(k->priv, GNUTLS_PK_RSA, 2048, 0), 0);
    gnutls_x509_privkey_t x;
    gnutls_datum_t d;
    assert_int_equal(gnutls_privkey_export_x509(k->priv, &x), 0);
    assert_int_equal(gnutls_x509_privkey_export2(x, GNUTLS_X509_FMT_PEM, &d), 0);
    k->priv_pem = datum_str(&d);
    gnutls_x509_privkey_deinit(x);
    gnutls_pubkey_t pub;
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_privkey(pub, k->priv, 0, 0), 0);
    assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d), 0);
    k->pub_pem = datum_str(&d);
    gnutls_pubkey_deinit(pub);

    struct mf_buf j = MF_BUF_INIT;
    if (ec) {
        gnutls_ecc_curve_t curve;
        gnutls_datum_t px, py;
        assert_int_equal(gnutls_privkey_export_ecc_raw2(k->priv, &curve, &px, &py, NULL,
                                                        GNUTLS_EXPORT_FLAG_NO_LZ),
                         0);
        assert_int_equal(curve, GNUTLS_ECC_CURVE_SECP384R1);
        mf_buf_puts(&j, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"");
        b64url_num(&px, 48, &j);
        mf_buf_puts(&j, "\",\"y\":\"");
        b64url_num(&py, 48, &j);
        mf_buf_puts(&j, "\"}");
        gnutls_free(px.data);
        gnutls_free(py.data);
    } else {
        gnutls_datum_t n, e;
        assert_int_equal(gnutls_privkey_export_rsa_raw2(k->priv, &n, &e, NULL, NULL, NULL, NULL,
                                                        NULL, NULL, GNUTLS_EXPORT_FLAG_NO_LZ),
                         0);
        mf_buf_puts(&j, "{\"kty\":\"RSA\",\"n\":\"");
        b64url_num(&n, 0, &j);
        mf_buf_puts(&j, "\",\"e\":\"");
        b64url_num(&e, 0, &j);
        mf_buf_puts(&j, "\"}");
        gnutls_free(n.data);
        gnutls_free(e.data);
    }
    k->jwk = mf_buf_detach(&j, NULL);
}

static void free_key(struct testkey *k)
{
    gnutls_privkey_deinit(k->priv);
    free(k->priv_pem);
    free(k->pub_pem);
    free(k->jwk);
}

/* A JWK of k with extra members (text like "\"kid\":\"es1\"") put in front. */
static void jwk_with(struct mf_buf *out, const struct testkey *k, const char *extra)
{
    mf_buf_printf(out, "{%s,%s", extra, k->jwk + 1);
}

enum sig { SIG_EC, SIG_RSA, SIG_HMAC, SIG_NONE };

/* header.payload.signature over the given texts, signed by key (or HMAC with secret). */
static char *sign_raw(const char *header, const char *payload, enum sig how,
                      const struct testkey *key, const char *secret)
{
    struct mf_buf t = MF_BUF_INIT;
    b64url(header, strlen(header), &t);
    mf_buf_putc(&t, '.');
    b64url(payload, strlen(payload), &t);
    gnutls_datum_t data = {(unsigned char *)t.data, (unsigned)t.len};
    mf_buf_putc(&t, '.');
    data.data = (unsigned char *)t.data; /* t may have moved */
    if (how == SIG_EC || how == SIG_RSA) {
        gnutls_datum_t sig;
        assert_int_equal(gnutls_privkey_sign_data2(key->priv,
                                                   how == SIG_EC ? GNUTLS_SIGN_ECDSA_SHA384
                                                                 : GNUTLS_SIGN_RSA_SHA384,
                                                   0, &data, &sig),
                         0);
        if (how == SIG_EC) {
            gnutls_datum_t r, s;
            assert_int_equal(gnutls_decode_rs_value(&sig, &r, &s), 0);
            unsigned char raw[96] = {0};
            /* r and s may carry a leading zero byte (DER integers) or be short */
            const unsigned char *rp = r.data, *sp = s.data;
            size_t rn = r.size, sn = s.size;
            while (rn > 48 && *rp == 0) {
                rp++;
                rn--;
            }
            while (sn > 48 && *sp == 0) {
                sp++;
                sn--;
            }
            assert_true(rn <= 48 && sn <= 48);
            memcpy(raw + 48 - rn, rp, rn);
            memcpy(raw + 96 - sn, sp, sn);
            b64url(raw, sizeof raw, &t);
            gnutls_free(r.data);
            gnutls_free(s.data);
        } else {
            b64url(sig.data, sig.size, &t);
        }
        gnutls_free(sig.data);
    } else if (how == SIG_HMAC) {
        unsigned char mac[48];
        assert_int_equal(
            gnutls_hmac_fast(GNUTLS_MAC_SHA384, secret, strlen(secret), data.data, data.size, mac),
            0);
        b64url(mac, sizeof mac, &t);
    }
    return mf_buf_detach(&t, NULL);
}

struct tok {
    const char *alg; /* "ES384" (default) or "RS384" */
    const struct testkey *key;
    const char *kid; /* NULL: "es1"/"rs1" after alg; "" : no kid */
    const char *iss, *sub, *aud, *jti;
    int64_t iat, exp;
    int no_iss, no_sub, no_aud, no_jti, no_iat, no_exp;
};

static unsigned jti_counter;

/* A token signed by libjwt; fields left zero get defaults (a fresh jti, iat NOW, exp NOW+300). */
static char *sign_jwt(struct tok t)
{
    char jti[64];
    if (t.alg == NULL)
        t.alg = "ES384";
    int ec = strcmp(t.alg, "ES384") == 0;
    if (t.key == NULL)
        t.key = ec ? &ec_key : &rsa_key;
    if (t.kid == NULL)
        t.kid = ec ? "es1" : "rs1";
    if (t.iss == NULL)
        t.iss = ISS;
    if (t.sub == NULL)
        t.sub = "ehr-client";
    if (t.aud == NULL)
        t.aud = AUD;
    if (t.jti == NULL) {
        snprintf(jti, sizeof jti, "jti-%u-%ld", ++jti_counter, (long)getpid());
        t.jti = jti;
    }
    if (t.iat == 0)
        t.iat = NOW;
    if (t.exp == 0)
        t.exp = t.iat + 300;
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_set_alg(j, ec ? JWT_ALG_ES384 : JWT_ALG_RS384,
                                 (const unsigned char *)t.key->priv_pem,
                                 (int)strlen(t.key->priv_pem)),
                     0);
    if (t.kid[0])
        assert_int_equal(jwt_add_header(j, "kid", t.kid), 0);
    if (!t.no_iss)
        assert_int_equal(jwt_add_grant(j, "iss", t.iss), 0);
    if (!t.no_sub)
        assert_int_equal(jwt_add_grant(j, "sub", t.sub), 0);
    if (!t.no_aud)
        assert_int_equal(jwt_add_grant(j, "aud", t.aud), 0);
    if (!t.no_jti)
        assert_int_equal(jwt_add_grant(j, "jti", t.jti), 0);
    if (!t.no_iat)
        assert_int_equal(jwt_add_grant_int(j, "iat", (long)t.iat), 0);
    if (!t.no_exp)
        assert_int_equal(jwt_add_grant_int(j, "exp", (long)t.exp), 0);
    char *s = jwt_encode_str(j);
    assert_non_null(s);
    jwt_free(j);
    if (!ec)
        return s; /* libjwt allocates with malloc (no allocator set) */
    /* libjwt 1.10's GnuTLS signer writes ES384's r and s as 66 bytes each (P-521's size, zero
     * padded); RFC 7518 asks for 48 each, which the verifier insists on: trim them. */
    char *dot = strrchr(s, '.');
    struct mf_buf sig = MF_BUF_INIT, out = MF_BUF_INIT;
    assert_int_equal(mf_base64_decode(dot + 1, strlen(dot + 1), &sig), 0);
    const unsigned char *b = (const unsigned char *)sig.data;
    if (sig.len == 132) {
        for (size_t i = 0; i < 18; i++)
            assert_true(b[i] == 0 && b[66 + i] == 0);
        unsigned char raw[96];
        memcpy(raw, b + 18, 48);
        memcpy(raw + 48, b + 66 + 18, 48);
        mf_buf_append(&out, s, (size_t)(dot - s) + 1);
        b64url(raw, sizeof raw, &out);
    } else {
        assert_int_equal(sig.len, 96);
        mf_buf_puts(&out, s);
    }
    mf_buf_release(&sig);
    free(s);
    return mf_buf_detach(&out, NULL);
}

/* A standard payload's text with a fresh jti. */
static void std_payload(char *buf, size_t n)
{
    snprintf(buf, n,
             "{\"iss\":\"" ISS "\",\"sub\":\"ehr-client\",\"aud\":\"" AUD
             "\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"raw-%u\"}",
             (long long)NOW, (long long)NOW + 300, ++jti_counter);
}

static struct mf_jwt_verifier *new_verifier(void)
{
    struct mf_jwt_verifier *v = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    if (mf_jwt_allow_issuer(v, ISS, jwks, strlen(jwks), "test", &err) != 0)
        fail_msg("allow_issuer: %s", err.msg);
    return v;
}

static int verify_at(struct mf_jwt_verifier *v, const char *tok, int64_t now,
                     struct mf_jwt_claims *cl, struct mf_err *err)
{
    mf_err_clear(err);
    return mf_jwt_verify(v, tok, strlen(tok), AUD, now, cl, err);
}

static void expect_ok(struct mf_jwt_verifier *v, const char *tok, int64_t now)
{
    struct mf_err err = {0};
    struct mf_jwt_claims cl;
    if (verify_at(v, tok, now, &cl, &err) != 0)
        fail_msg("refused: %s", err.msg);
}

/* Refused with MF_EINVAL and a message holding `why` and none of the token's text. */
static void expect_refused_at(struct mf_jwt_verifier *v, const char *tok, size_t len, int64_t now,
                              const char *why)
{
    struct mf_err err = {0};
    struct mf_jwt_claims cl;
    memset(&cl, 0x55, sizeof cl);
    int rc = mf_jwt_verify(v, tok, len, AUD, now, &cl, &err);
    if (rc != MF_EINVAL)
        fail_msg("expected a refusal (%s), got %d (%s)", why, rc, err.msg);
    if (strstr(err.msg, why) == NULL)
        fail_msg("expected '%s' in '%s'", why, err.msg);
    assert_int_equal(cl.iss[0], 0); /* claims cleared */
    /* never the token's text: no run of 12 of its characters appears in the message */
    for (size_t i = 0; len >= 12 && i + 12 <= len; i += 6) {
        char piece[13];
        memcpy(piece, tok + i, 12);
        piece[12] = '\0';
        if (memchr(piece, '\0', 12) == NULL && strstr(err.msg, piece) != NULL)
            fail_msg("the message echoes the token: %s", err.msg);
    }
}

static void expect_refused(struct mf_jwt_verifier *v, const char *tok, const char *why)
{
    expect_refused_at(v, tok, strlen(tok), NOW, why);
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_jwt-%ld", base && *base ? base : "/tmp",
             (long)getpid());
    struct mf_err err = {0};
    if (mf_fs_mkdir_p(tmpdir, &err) != 0)
        return -1;
    if (gnutls_global_init() < 0)
        return -1;
    make_key(&ec_key, 1);
    make_key(&rsa_key, 0);
    make_key(&other_key, 1);
    struct mf_buf j = MF_BUF_INIT;
    mf_buf_puts(&j, "{\"keys\":[");
    jwk_with(&j, &ec_key, "\"kid\":\"es1\",\"use\":\"sig\",\"alg\":\"ES384\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &rsa_key, "\"kid\":\"rs1\"");
    mf_buf_puts(&j, "]}");
    if (j.len >= sizeof jwks)
        return -1;
    memcpy(jwks, j.data, j.len + 1);
    mf_buf_release(&j);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_key(&ec_key);
    free_key(&rsa_key);
    free_key(&other_key);
    gnutls_global_deinit();
    mf_fs_rm_rf(tmpdir);
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void accepts_es384_and_rs384(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    struct mf_err err = {0};
    struct mf_jwt_claims cl;
    char *t = sign_jwt((struct tok){.alg = "ES384", .jti = "call-1", .sub = "client-7"});
    if (verify_at(v, t, NOW + 10, &cl, &err) != 0)
        fail_msg("ES384 refused: %s", err.msg);
    assert_string_equal(cl.iss, ISS);
    assert_string_equal(cl.sub, "client-7");
    assert_string_equal(cl.jti, "call-1");
    assert_int_equal(cl.iat, NOW);
    assert_int_equal(cl.exp, NOW + 300);
    free(t);
    t = sign_jwt((struct tok){.alg = "RS384", .jti = "call-2"});
    if (verify_at(v, t, NOW, &cl, &err) != 0)
        fail_msg("RS384 refused: %s", err.msg);
    assert_string_equal(cl.jti, "call-2");
    free(t);
    /* no kid: the issuer has one key of each type, so the choice is clear */
    t = sign_jwt((struct tok){.alg = "ES384", .kid = ""});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.alg = "RS384", .kid = ""});
    expect_ok(v, t, NOW);
    free(t);
    /* aud as an array holding the URL; times with a fraction; extra claims and headers */
    char p[512];
    snprintf(p, sizeof p,
             "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"https://x.example\",\"" AUD
             "\"],\"iat\":%lld.5,\"exp\":%lld.25,\"jti\":\"arr-1\",\"tenant\":\"t1\"}",
             (long long)NOW, (long long)NOW + 60);
    t = sign_raw("{\"alg\":\"ES384\",\"kid\":\"es1\",\"typ\":\"JWT\",\"jku\":\"https://x/j\"}", p,
                 SIG_EC, &ec_key, NULL);
    if (verify_at(v, t, NOW, &cl, &err) != 0)
        fail_msg("aud array refused: %s", err.msg);
    assert_int_equal(cl.iat, NOW);
    assert_int_equal(cl.exp, NOW + 60);
    free(t);
    /* and the same aud array without the URL */
    snprintf(p, sizeof p,
             "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"https://x.example\",\"" AUD
             "/\"],\"iat\":%lld,\"exp\":%lld,\"jti\":\"arr-2\"}",
             (long long)NOW, (long long)NOW + 60);
    t = sign_raw("{\"alg\":\"ES384\",\"kid\":\"es1\"}", p, SIG_EC, &ec_key, NULL);
    expect_refused(v, t, "aud");
    free(t);
    mf_jwt_verifier_free(v);
}

/* Many hand-made ES384 signatures: r or s with leading zero bytes (about one token in 128) must
 * verify too, and RS384 ones from GnuTLS directly. */
static void accepts_many_signatures(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    char p[512];
    /* at least 200 tokens, and on until 3 had an r or s below 2^376 (a leading zero byte) */
    int zeros = 0, i;
    for (i = 0; i < 20000 && (i < 200 || zeros < 3); i++) {
        std_payload(p, sizeof p);
        char *t = sign_raw("{\"alg\":\"ES384\",\"kid\":\"es1\"}", p, SIG_EC, &ec_key, NULL);
        struct mf_buf sig = MF_BUF_INIT;
        const char *dot = strrchr(t, '.');
        assert_int_equal(mf_base64_decode(dot + 1, strlen(dot + 1), &sig), 0);
        assert_int_equal(sig.len, 96);
        zeros += sig.data[0] == 0 || sig.data[48] == 0;
        mf_buf_release(&sig);
        expect_ok(v, t, NOW);
        free(t);
    }
    assert_true(zeros >= 3);
    for (i = 0; i < 10; i++) {
        std_payload(p, sizeof p);
        char *t = sign_raw("{\"alg\":\"RS384\",\"kid\":\"rs1\"}", p, SIG_RSA, &rsa_key, NULL);
        expect_ok(v, t, NOW);
        free(t);
    }
    mf_jwt_verifier_free(v);
}

static void refuses_bad_claims(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    char *t;
#define REFUSE(tokspec, why)                                                                       \
    do {                                                                                           \
        t = sign_jwt(tokspec);                                                                     \
        expect_refused(v, t, why);                                                                 \
        free(t);                                                                                   \
    } while (0)
    REFUSE(((struct tok){.aud = "https://cds.example.org/cds-services/other"}), "aud");
    REFUSE(((struct tok){.aud = AUD "/"}), "aud");
    REFUSE(((struct tok){.alg = "RS384", .aud = "https://evil.example/"}), "aud");
    REFUSE(((struct tok){.iss = "https://evil.example.org"}), "not a trusted issuer");
    REFUSE(((struct tok){.iss = ISS "/"}), "not a trusted issuer");
    /* expired: exp + skew reached */
    REFUSE(((struct tok){.iat = NOW - 900, .exp = NOW - MF_JWT_SKEW_S}), "expired");
    REFUSE(((struct tok){.iat = NOW - 4000, .exp = NOW - 3600}), "expired");
    /* issued in the future beyond the skew */
    REFUSE(((struct tok){.iat = NOW + MF_JWT_SKEW_S + 1, .exp = NOW + 900}), "future");
    /* lifetime over an hour, or exp not after iat */
    REFUSE(((struct tok){.iat = NOW, .exp = NOW + 3601}), "at most 3600");
    REFUSE(((struct tok){.iat = NOW, .exp = NOW}), "after iat");
    REFUSE(((struct tok){.iat = NOW + 10, .exp = NOW + 5}), "after iat");
    /* missing claims */
    REFUSE(((struct tok){.no_jti = 1}), "jti");
    REFUSE(((struct tok){.no_exp = 1}), "exp is missing");
    REFUSE(((struct tok){.no_iat = 1}), "iat is missing");
    REFUSE(((struct tok){.no_iss = 1}), "iss is missing");
    REFUSE(((struct tok){.no_sub = 1}), "sub is missing");
    REFUSE(((struct tok){.no_aud = 1}), "aud");
    REFUSE(((struct tok){.jti = ""}), "jti");
    /* a jti over 255 bytes */
    char longjti[300];
    memset(longjti, 'j', sizeof longjti - 1);
    longjti[sizeof longjti - 1] = '\0';
    REFUSE(((struct tok){.jti = longjti}), "jti");
#undef REFUSE

    /* the skew's edges: just inside is accepted */
    t = sign_jwt((struct tok){.iat = NOW - 600, .exp = NOW - MF_JWT_SKEW_S + 1});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.iat = NOW + MF_JWT_SKEW_S, .exp = NOW + MF_JWT_SKEW_S + 60});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.iat = NOW, .exp = NOW + 3600});
    expect_ok(v, t, NOW);
    free(t);

    /* claims of the wrong types, and nbf */
    const char *payloads[][2] = {
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":\"1700000000\",\"exp\":1700000300,\"jti\":\"w1\"}",
         "iat is missing or not a time"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":-5,\"jti\":\"w2\"}",
         "exp is missing or not a time"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":1e300,\"jti\":\"w3\"}",
         "exp is missing or not a time"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":1700000300,\"jti\":7}",
         "jti"},
        {"{\"iss\":\"" ISS "\",\"sub\":[\"s\"],\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":1700000300,\"jti\":\"w5\"}",
         "sub"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":7,\"iat\":1700000000,\"exp\":1700000300,"
         "\"jti\":\"w6\"}",
         "aud"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":1700000300,\"nbf\":1700001000,\"jti\":\"w7\"}",
         "nbf"},
        {"{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
         "\",\"iat\":1700000000,\"exp\":1700000300,\"jti\":\"w8\",\"jti\":\"w9\"}",
         "repeated names"},
        {"[\"" ISS "\"]", "payload is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        t = sign_raw("{\"alg\":\"ES384\",\"kid\":\"es1\"}", payloads[i][0], SIG_EC, &ec_key, NULL);
        expect_refused(v, t, payloads[i][1]);
        free(t);
    }
    /* nothing refused above went into the replay cache */
    assert_int_equal(mf_jwt_replay_count(v, NOW), 3);
    mf_jwt_verifier_free(v);
}

static void refuses_replays(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    struct mf_err err = {0};
    char *t = sign_jwt((struct tok){.jti = "once"});
    expect_ok(v, t, NOW);
    expect_refused(v, t, "already used");
    expect_refused_at(v, t, strlen(t), NOW + 200, "already used");
    free(t);
    /* the same jti signed again (a new token) is a replay too; another jti is not */
    t = sign_jwt((struct tok){.jti = "once", .alg = "RS384", .iat = NOW + 1});
    expect_refused(v, t, "already used");
    free(t);
    t = sign_jwt((struct tok){.jti = "twice"});
    expect_ok(v, t, NOW);
    free(t);
    /* the jti is per issuer */
    assert_int_equal(mf_jwt_allow_issuer(v, ISS2, jwks, strlen(jwks), "iss2", &err), 0);
    t = sign_jwt((struct tok){.jti = "once", .iss = ISS2});
    expect_ok(v, t, NOW);
    free(t);
    assert_int_equal(mf_jwt_replay_count(v, NOW), 3);
    /* entries go once exp + skew has passed */
    assert_int_equal(mf_jwt_replay_count(v, NOW + 300 + MF_JWT_SKEW_S - 1), 3);
    assert_int_equal(mf_jwt_replay_count(v, NOW + 300 + MF_JWT_SKEW_S), 0);
    mf_jwt_verifier_free(v);
}

static void replay_cache_is_bounded(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    struct mf_err err = {0};
    assert_int_equal(mf_jwt_set_replay_max(v, 3, &err), 0);
    assert_int_equal(mf_jwt_set_replay_max(v, 0, &err), MF_EINVAL);
    char *t;
    for (int i = 0; i < 3; i++) {
        t = sign_jwt((struct tok){.iat = NOW + i * 100, .exp = NOW + i * 100 + 60});
        expect_ok(v, t, NOW);
        free(t);
    }
    t = sign_jwt((struct tok){.iat = NOW, .exp = NOW + 1000});
    expect_refused(v, t, "replay cache full");
    /* once the first one's exp + skew is over, there is room again */
    expect_ok(v, t, NOW + 60 + MF_JWT_SKEW_S);
    free(t);
    assert_int_equal(mf_jwt_replay_count(v, NOW + 60 + MF_JWT_SKEW_S), 3);
    /* the size is fixed once tokens came in */
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_set_replay_max(v, 10, &err), MF_EINVAL);
    mf_jwt_verifier_free(v);

    /* many tokens, expiring in a scrambled order: the heap keeps the right ones */
    v = new_verifier();
    assert_int_equal(mf_jwt_set_replay_max(v, 200, &err), 0);
    char p[512];
    for (int i = 0; i < 200; i++) {
        int64_t exp = NOW + 10 + (i * 37) % 200;
        snprintf(p, sizeof p,
                 "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
                 "\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"h%d\"}",
                 (long long)NOW, (long long)exp, i);
        t = sign_raw("{\"alg\":\"ES384\"}", p, SIG_EC, &ec_key, NULL);
        expect_ok(v, t, NOW);
        free(t);
    }
    for (int64_t d = 0; d <= 200; d += 20)
        assert_int_equal(mf_jwt_replay_count(v, NOW + 10 + MF_JWT_SKEW_S + d),
                         (size_t)(d + 1 < 200 ? 200 - (d + 1) : 0));
    mf_jwt_verifier_free(v);
}

static void refuses_bad_algorithms(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    char p[512];
    char *t;
    /* alg none, with and without a signature part */
    std_payload(p, sizeof p);
    t = sign_raw("{\"alg\":\"none\"}", p, SIG_NONE, NULL, NULL);
    expect_refused(v, t, "unsigned");
    free(t);
    t = sign_raw("{\"alg\":\"none\",\"kid\":\"es1\"}", p, SIG_HMAC, NULL, "x");
    expect_refused(v, t, "alg \"none\" is not accepted");
    free(t);
    /* the classic confusion: HS384 keyed with the public key's PEM text */
    t = sign_raw("{\"alg\":\"HS384\",\"kid\":\"rs1\"}", p, SIG_HMAC, NULL, rsa_key.pub_pem);
    {
        /* libjwt alone would take it: it trusts the header's alg */
        jwt_t *j = NULL;
        int jrc =
            jwt_decode(&j, t, (const unsigned char *)rsa_key.pub_pem, (int)strlen(rsa_key.pub_pem));
        if (jrc == 0)
            jwt_free(j);
        print_message("libjwt alone %s the HS384 token keyed with the PEM\n",
                      jrc == 0 ? "accepts" : "refuses");
    }
    expect_refused(v, t, "alg \"HS384\" is not accepted");
    free(t);
    t = sign_raw("{\"alg\":\"HS256\",\"kid\":\"es1\"}", p, SIG_HMAC, NULL, ec_key.pub_pem);
    expect_refused(v, t, "alg \"HS256\"");
    free(t);
    /* other asymmetric algorithms, a missing alg, alg of the wrong type */
    const char *headers[][2] = {
        {"{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "alg \"RS256\""},
        {"{\"alg\":\"ES256\",\"kid\":\"es1\"}", "alg \"ES256\""},
        {"{\"alg\":\"PS384\",\"kid\":\"rs1\"}", "alg \"PS384\""},
        {"{\"alg\":\"es384\",\"kid\":\"es1\"}", "alg (unknown)"},
        {"{\"kid\":\"es1\"}", "alg (missing)"},
        {"{\"alg\":384,\"kid\":\"es1\"}", "alg (missing)"},
        {"{\"alg\":\"ES384\",\"kid\":\"es1\",\"crit\":[\"exp\"]}", "crit"},
        {"{\"alg\":\"ES384\",\"kid\":7}", "kid is not a string"},
        {"[\"ES384\"]", "header is not a JSON object"},
        {"{\"alg\":\"ES384\",\"kid\":\"es1\"} x", "header is not a JSON object"},
        {"{\"alg\":\"ES384\",\"kid\":\"es1\"", "header is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        t = sign_raw(headers[i][0], p, SIG_EC, &ec_key, NULL);
        expect_refused(v, t, headers[i][1]);
        free(t);
    }
    /* a repeated alg: cJSON reads the first, jansson (in libjwt) the last */
    t = sign_raw("{\"alg\":\"RS384\",\"kid\":\"rs1\",\"alg\":\"HS384\"}", p, SIG_HMAC, NULL,
                 rsa_key.pub_pem);
    expect_refused(v, t, "repeated names");
    free(t);
    t = sign_raw("{\"alg\":\"HS384\",\"kid\":\"rs1\",\"alg\":\"RS384\"}", p, SIG_RSA, &rsa_key,
                 NULL);
    expect_refused(v, t, "repeated names");
    free(t);
    mf_jwt_verifier_free(v);
}

static void refuses_bad_signatures_and_keys(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    char p[512];
    char *t;
    /* tampered payload: another payload under a valid signature */
    t = sign_jwt((struct tok){.sub = "client-a"});
    char *good = sign_jwt((struct tok){.sub = "client-b"});
    const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    const char *g1 = strchr(good, '.'), *g2 = strrchr(good, '.');
    struct mf_buf mix = MF_BUF_INIT;
    mf_buf_append(&mix, t, (size_t)(d1 - t) + 1);
    mf_buf_append(&mix, g1 + 1, (size_t)(g2 - g1 - 1));
    mf_buf_puts(&mix, d2);
    expect_refused(v, mix.data, "signature does not verify");
    /* a flipped signature byte */
    mf_buf_reset(&mix);
    mf_buf_puts(&mix, good);
    char *last = mix.data + (strrchr(mix.data, '.') - mix.data) + 5;
    *last = *last == 'A' ? 'B' : 'A';
    expect_refused(v, mix.data, "signature does not verify");
    mf_buf_release(&mix);
    free(t);
    expect_ok(v, good, NOW); /* the untouched one still passes */
    free(good);
    /* signed by a key the issuer does not have, under its kid */
    t = sign_jwt((struct tok){.key = &other_key, .kid = "es1"});
    expect_refused(v, t, "signature does not verify");
    free(t);
    t = sign_jwt((struct tok){.key = &other_key, .kid = ""});
    expect_refused(v, t, "signature does not verify");
    free(t);
    /* a kid naming no key */
    t = sign_jwt((struct tok){.kid = "es2"});
    expect_refused(v, t, "kid names no key");
    free(t);
    /* the EC key named for an RS384 token (and the RSA key for ES384) */
    t = sign_jwt((struct tok){.alg = "RS384", .kid = "es1"});
    expect_refused(v, t, "not an RSA key");
    free(t);
    t = sign_jwt((struct tok){.alg = "ES384", .key = &ec_key, .kid = "rs1"});
    expect_refused(v, t, "not an EC P-384 key");
    free(t);
    /* libjwt's own ES384 signature, r and s padded to 66 bytes: RFC 7518 says 48 */
    {
        jwt_t *j = NULL;
        assert_int_equal(jwt_new(&j), 0);
        assert_int_equal(jwt_set_alg(j, JWT_ALG_ES384, (const unsigned char *)ec_key.priv_pem,
                                     (int)strlen(ec_key.priv_pem)),
                         0);
        std_payload(p, sizeof p);
        assert_int_equal(jwt_add_grants_json(j, p), 0);
        t = jwt_encode_str(j);
        jwt_free(j);
        assert_non_null(t);
        if (strlen(strrchr(t, '.') + 1) != 128) /* not 96 bytes: refused */
            expect_refused(v, t, "wrong length");
        free(t);
    }
    /* an RS384 signature of the right length under an ES384 header */
    std_payload(p, sizeof p);
    t = sign_raw("{\"alg\":\"ES384\",\"kid\":\"es1\"}", p, SIG_RSA, &rsa_key, NULL);
    expect_refused(v, t, "wrong length");
    free(t);
    mf_jwt_verifier_free(v);

    /* no kid and two keys of the type: ambiguous */
    struct mf_err err = {0};
    struct mf_buf j = MF_BUF_INIT;
    mf_buf_puts(&j, "{\"keys\":[");
    jwk_with(&j, &ec_key, "\"kid\":\"a\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &other_key, "\"kid\":\"b\"");
    mf_buf_puts(&j, "]}");
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "two", &err), 0);
    t = sign_jwt((struct tok){.kid = ""});
    expect_refused(v, t, "several");
    free(t);
    t = sign_jwt((struct tok){.key = &other_key, .kid = "b"});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.alg = "RS384", .kid = ""});
    expect_refused(v, t, "has no RSA key");
    free(t);
    mf_buf_release(&j);
    mf_jwt_verifier_free(v);
}

static void refuses_malformed_tokens(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    char *good = sign_jwt((struct tok){0});
    const char *cases[][2] = {
        {"", "empty"},
        {"garbage", "three dot-separated"},
        {"a.b", "three dot-separated"},
        {"a.b.c.d", "three dot-separated"},
        {"..", "empty header"},
        {"eyJhbGciOiJFUzM4NCJ9..c2ln", "empty header or payload"},
        {"eyJhbGciOiJFUzM4NCJ9.e30.", "unsigned"},
        {"eyJhbGciOiJFUzM4NCJ9.e30=.c2ln", "not base64url"},
        {"eyJhbGciOiJFUzM4NCJ9.e3+.c2ln", "not base64url"},
        {"eyJhbGciOiJFUzM4NCJ9.e31.c2ln", "not base64url"}, /* non-canonical last bits */
        {"eyJhbGciOiJFUzM4NCJ9.e30.c", "not base64url"},    /* a length of 1 mod 4 */
        {"eyJhbGciOiJFUzM4NCJ9 .e30.c2ln", "not base64url"},
        {"bm90IGpzb24.e30.c2ln", "header is not a JSON object"},
        {"eyJhbGciOiJFUzM4NCJ9.bm90IGpzb24.c2ln", "payload is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(v, cases[i][0], cases[i][1]);
    /* a NUL inside the token, and the token cut short */
    size_t n = strlen(good);
    char *copy = strdup(good);
    copy[10] = '\0';
    expect_refused_at(v, copy, n, NOW, "not base64url");
    free(copy);
    expect_refused_at(v, good, n - 4, NOW, "signature does not verify");
    expect_refused_at(v, good, (size_t)(strchr(good, '.') - good), NOW, "three dot-separated");
    /* oversized */
    size_t big = 16385;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'A', big);
    huge[big] = '\0';
    memcpy(huge, good, n);
    expect_refused_at(v, huge, big, NOW, "token over 16384 bytes");
    free(huge);
    /* a payload that is not JSON but base64url of a header with a NUL in it */
    char *t = sign_raw("{\"alg\":\"ES384\"}", "{\"iss\":\"a\\u0000b\"}", SIG_EC, &ec_key, NULL);
    expect_refused(v, t, "iss");
    free(t);
    /* a clock out of range, and missing arguments */
    struct mf_err err = {0};
    assert_int_equal(mf_jwt_verify(v, good, n, AUD, -1, NULL, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_verify(v, good, n, NULL, NOW, NULL, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_verify(v, NULL, 0, AUD, NOW, NULL, &err), MF_EINVAL);
    /* and the good one, untouched all along, passes (claims may be NULL) */
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_verify(v, good, n, AUD, NOW, NULL, &err), 0);
    free(good);
    mf_jwt_verifier_free(v);
}

static void jwks_checks(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    struct mf_buf j = MF_BUF_INIT;
    /* no usable key: the wrong curve, a small RSA key, use enc, another alg, other kinds */
    mf_buf_puts(&j, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"},"
                    "{\"kty\":\"RSA\",\"n\":\"");
    unsigned char small[128];
    memset(small, 0xc5, sizeof small);
    b64url(small, sizeof small, &j);
    mf_buf_puts(&j, "\",\"e\":\"AQAB\"},{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
                    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},");
    jwk_with(&j, &ec_key, "\"use\":\"enc\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &ec_key, "\"alg\":\"ES256\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &rsa_key, "\"key_ops\":[\"encrypt\"]");
    mf_buf_puts(&j, "]}");
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "nokeys.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "nokeys.json"));
    assert_non_null(strstr(err.msg, "no usable key"));
    /* malformed */
    const char *bad[][2] = {
        {"", "not valid JSON"},
        {"{\"keys\":[]", "not valid JSON"},
        {"[]", "\"keys\" array"},
        {"{\"keys\":{}}", "\"keys\" array"},
        {"{\"keys\":[]}", "no usable key"},
        {"{\"keys\":[7]}", "keys[0] is not an object"},
        {"{\"keys\":[{\"crv\":\"P-384\"}]}", "no \"kty\""},
        {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
         "must be 48 bytes"},
        {"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"y\":\"AAAA\"}]}", "no \"x\""},
        {"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AA+A\",\"e\":\"AQAB\"}]}", "not base64url"},
        {"{\"keys\":[{\"kty\":\"EC\",\"kid\":5}]}", "\"kid\" is not a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mf_err_clear(&err);
        assert_int_equal(
            mf_jwt_allow_issuer(v, ISS, bad[i][0], strlen(bad[i][0]), "bad.json", &err), MF_EINVAL);
        if (strstr(err.msg, bad[i][1]) == NULL || strstr(err.msg, "bad.json") == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i][1]);
    }
    /* a point off the curve; a private key; a bad exponent; two keys sharing a kid */
    mf_buf_reset(&j);
    unsigned char coord[48];
    memset(coord, 0x11, sizeof coord);
    mf_buf_puts(&j, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"");
    b64url(coord, sizeof coord, &j);
    mf_buf_puts(&j, "\",\"y\":\"");
    b64url(coord, sizeof coord, &j);
    mf_buf_puts(&j, "\"}]}");
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "off.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "not a point of P-384"));
    mf_buf_reset(&j);
    mf_buf_puts(&j, "{\"keys\":[");
    jwk_with(&j, &ec_key, "\"d\":\"AAAA\"");
    mf_buf_puts(&j, "]}");
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "priv.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "private key"));
    mf_buf_reset(&j);
    mf_buf_puts(&j, "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"Ag\",\"n\":\"");
    unsigned char big[256];
    memset(big, 0xc5, sizeof big);
    b64url(big, sizeof big, &j);
    mf_buf_puts(&j, "\"}]}");
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "e.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "exponent"));
    mf_buf_reset(&j);
    mf_buf_puts(&j, "{\"keys\":[");
    jwk_with(&j, &ec_key, "\"kid\":\"k\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &other_key, "\"kid\":\"k\"");
    mf_buf_puts(&j, "]}");
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "dup.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "share a kid"));
    /* an EC and an RSA key may share a kid; an issuer is allowed once */
    mf_buf_reset(&j);
    mf_buf_puts(&j, "{\"keys\":[");
    jwk_with(&j, &ec_key, "\"kid\":\"k\"");
    mf_buf_putc(&j, ',');
    jwk_with(&j, &rsa_key, "\"kid\":\"k\"");
    mf_buf_puts(&j, "]}");
    mf_err_clear(&err);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "mixed.json", &err), 0);
    assert_int_equal(mf_jwt_allow_issuer(v, ISS, j.data, j.len, "again.json", &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "already allowed"));
    char *t = sign_jwt((struct tok){.alg = "RS384", .kid = "k"});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.alg = "ES384", .kid = "k"});
    expect_ok(v, t, NOW);
    free(t);
    mf_buf_release(&j);
    mf_jwt_verifier_free(v);
}

static const char *put(const char *name, const char *text)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void config_files(void **state)
{
    (void)state;
    struct mf_err err = {0};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/conf", tmpdir);
    assert_int_equal(mf_fs_mkdir_p(dir, &err), 0);
    put("conf/ehr1-jwks.json", jwks);
    /* one issuer by a relative jwks_file, one inline (only the RSA key) */
    struct mf_buf c = MF_BUF_INIT;
    mf_buf_printf(&c, "{\"issuers\":[{\"iss\":\"" ISS "\",\"jwks_file\":\"ehr1-jwks.json\"},"
                      "{\"iss\":\"" ISS2 "\",\"jwks\":{\"keys\":[");
    jwk_with(&c, &rsa_key, "\"kid\":\"rs1\"");
    mf_buf_puts(&c, "]}}]}");
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", put("conf/jwt.json", c.data));
    mf_buf_release(&c);
    struct mf_jwt_verifier *v = NULL;
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    if (mf_jwt_load_config(v, cfg, &err) != 0)
        fail_msg("load_config: %s", err.msg);
    char *t = sign_jwt((struct tok){.alg = "ES384"});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.alg = "RS384", .iss = ISS2});
    expect_ok(v, t, NOW);
    free(t);
    t = sign_jwt((struct tok){.alg = "ES384", .iss = ISS2});
    expect_refused(v, t, "kid names no key");
    free(t);
    mf_jwt_verifier_free(v);

    /* a relative config path works too */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    int rc = mf_jwt_load_config(v, "conf/jwt.json", &err);
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("relative load_config: %s", err.msg);
    mf_jwt_verifier_free(v);

    /* malformed configurations: the error names the file */
    const char *bad[][2] = {
        {"not json", "not valid JSON"},
        {"{}", "no \"issuers\""},
        {"{\"issuers\":[]}", "no \"issuers\""},
        {"{\"issuers\":[7]}", "issuers[0] is not an object"},
        {"{\"issuers\":[{\"jwks_file\":\"ehr1-jwks.json\"}]}", "no \"iss\""},
        {"{\"issuers\":[{\"iss\":\"x\"}]}", "exactly one of"},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks\":{\"keys\":[]},\"jwks_file\":\"a\"}]}",
         "exactly one of"},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks_file\":\"missing.json\"}]}", "missing.json"},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks\":[]}]}", "\"jwks\" is not an object"},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks\":{\"keys\":[]}}]}", "no usable key"},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks_file\":\"ehr1-jwks.json\",\"kid\":\"a\"}]}",
         "unknown member \"kid\""},
        {"{\"issuers\":[{\"iss\":\"x\",\"jwks_file\":\"ehr1-jwks.json\"},"
         "{\"iss\":\"x\",\"jwks_file\":\"ehr1-jwks.json\"}]}",
         "already allowed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = put("conf/bad.json", bad[i][0]);
        assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
        mf_err_clear(&err);
        assert_true(mf_jwt_load_config(v, path, &err) < 0);
        if (strstr(err.msg, bad[i][1]) == NULL || strstr(err.msg, "conf/bad.json") == NULL)
            fail_msg("case %zu: '%s' lacks '%s' or the file", i, err.msg, bad[i][1]);
        mf_jwt_verifier_free(v);
    }
    assert_int_equal(mf_jwt_verifier_new(&v, &err), 0);
    mf_err_clear(&err);
    snprintf(dir, sizeof dir, "%s/conf/none.json", tmpdir);
    assert_true(mf_jwt_load_config(v, dir, &err) < 0);
    assert_non_null(strstr(err.msg, "none.json"));
    mf_jwt_verifier_free(v);
}

/* ---- threads --------------------------------------------------------------------------------- */

#define N_THREADS  6
#define PER_THREAD 25

struct worker {
    struct mf_jwt_verifier *v;
    char **tokens;
    size_t n;
    pthread_barrier_t *barrier;
    int ok, refused_replay, refused_other;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    if (w->barrier)
        pthread_barrier_wait(w->barrier);
    for (size_t i = 0; i < w->n; i++) {
        struct mf_err err = {0};
        struct mf_jwt_claims cl;
        int rc = mf_jwt_verify(w->v, w->tokens[i], strlen(w->tokens[i]), AUD, NOW, &cl, &err);
        if (rc == 0)
            w->ok++;
        else if (strstr(err.msg, "already used"))
            w->refused_replay++;
        else
            w->refused_other++;
    }
    return NULL;
}

static void threads_share_the_cache(void **state)
{
    (void)state;
    struct mf_jwt_verifier *v = new_verifier();
    /* distinct jti's: all pass */
    static char *tokens[N_THREADS][PER_THREAD];
    struct worker w[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        for (int k = 0; k < PER_THREAD; k++)
            tokens[i][k] = sign_jwt((struct tok){.alg = (k % 5 == 0) ? "RS384" : "ES384"});
        w[i] = (struct worker){v, tokens[i], PER_THREAD, NULL, 0, 0, 0};
    }
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].ok, PER_THREAD);
        for (int k = 0; k < PER_THREAD; k++)
            free(tokens[i][k]);
    }
    assert_int_equal(mf_jwt_replay_count(v, NOW), N_THREADS * PER_THREAD);

    /* one token from two threads at once, many times over: exactly one passes each time */
    for (int round = 0; round < 20; round++) {
        char *t = sign_jwt((struct tok){.alg = round % 2 ? "RS384" : "ES384"});
        char *one[1] = {t};
        pthread_barrier_t b;
        assert_int_equal(pthread_barrier_init(&b, NULL, 2), 0);
        struct worker a = {v, one, 1, &b, 0, 0, 0}, c = {v, one, 1, &b, 0, 0, 0};
        pthread_t ta, tc;
        assert_int_equal(pthread_create(&ta, NULL, work, &a), 0);
        assert_int_equal(pthread_create(&tc, NULL, work, &c), 0);
        pthread_join(ta, NULL);
        pthread_join(tc, NULL);
        pthread_barrier_destroy(&b);
        assert_int_equal(a.ok + c.ok, 1);
        assert_int_equal(a.refused_replay + c.refused_replay, 1);
        assert_int_equal(a.refused_other + c.refused_other, 0);
        free(t);
    }
    mf_jwt_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_es384_and_rs384),
        cmocka_unit_test(accepts_many_signatures),
        cmocka_unit_test(refuses_bad_claims),
        cmocka_unit_test(refuses_replays),
        cmocka_unit_test(replay_cache_is_bounded),
        cmocka_unit_test(refuses_bad_algorithms),
        cmocka_unit_test(refuses_bad_signatures_and_keys),
        cmocka_unit_test(refuses_malformed_tokens),
        cmocka_unit_test(jwks_checks),
        cmocka_unit_test(config_files),
        cmocka_unit_test(threads_share_the_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
