/* fuzz_jwt.c - libFuzzer target for the CDS Hooks JWT check (src/serve/jwt.c).
 *
 * The input is a token (the text after "Bearer ").  It is checked by a fresh verifier (so that
 * the replay cache makes no input depend on the ones before) trusting one issuer with a fixed
 * JWKS: an EC P-384 key "es1" and an RSA 2048 key "rs1", whose private halves were thrown away
 * after signing the seed tokens of fuzz/corpus/jwt/ (iat 1700000000, exp 300 s later), at a
 * fixed clock inside their lifetime.  A refusal must be a negative code with a message; an
 * accepted token must carry the trusted issuer and a sane lifetime, and be refused as a replay
 * the second time.  On the first call a known-good token must pass, or the corpus would stop
 * reaching the checks after the signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISS "https://ehr.example.org"
#define AUD "https://cds.example.org/cds-services/medfm-risk"
#define NOW INT64_C(1700000100)

static const char jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"es1\",\"use\":\"sig\",\"alg\":"
    "\"ES384\","
    "\"x\":\"hESWKW0G_bCFLclGFiIC-RDSSa1uP9sYzyJOYPreybIWxlSOflUWl1xtrBpkzbuK\","
    "\"y\":\"WHbCXVJGhAr3Cnj5pwHx9PnuirtUIQYEzy7qWda3v94tZiX3Q_e6x2BKOhPUWMUU\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rs1\",\"use\":\"sig\",\"alg\":\"RS384\",\"e\":\"AQAB\",\"n\":"
    "\"7lI5yIDit5J6r04pijSKwQBKs6I3dzGH5kFJGkCEsYiEUjfgkvzAv4G-7hfxivr3gNAxwmuMMj29gDmGlnXepHTC"
    "zQOuRPi7SNXxp4jgl1kO4oJyFLS3jNCH3Q_gc8CQfKld1p-VpjGOyd2zLHv1K16fHXViHJsfKpRRZhNCTuM0tCwfC"
    "d9ALE-wExKDgdrEbB8IIxVxc7QWgTM99fY-QSV9cOnYmC6IKtyGl39ecxQBstqwV-YvLcnF0qAHmOAUgByzA2Rxl"
    "GsmOcdD1l8qFJhYvKrJl3WKKkAXhfXiuDmS0oPkJ5afdVds5ym9INQgNVj5meGgZBxKjBsb0Lq16w\"}]}";

/* fuzz/corpus/jwt/valid-es384.jwt */
static const char good[] =
    "eyJhbGciOiJFUzM4NCIsImtpZCI6ImVzMSIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL2Voci5leGFtcGxlLm9yZyIsInN1YiI6ImZ1enotY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9jZH"
    "MuZXhhbXBsZS5vcmcvY2RzLXNlcnZpY2VzL21lZGZtLXJpc2siLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMw"
    "MCwianRpIjoic2VlZC0xIn0.xhsHC5Dz5eAWQRvnY-8yA1_lLlCDfWwbxpINLPpYnyoZNdaMe2h6t40-"
    "0DwRwlh5Ua2ed7sFQ0MlnrHcjVt-kXOePP3_bCk63PPKZBCgHF56nBkLp6m-nxeosGxTUtZg";

static struct mf_jwt_verifier *verifier(void)
{
    struct mf_jwt_verifier *v = NULL;
    struct mf_err err = {0};
    if (mf_jwt_verifier_new(&v, &err) != 0 ||
        mf_jwt_allow_issuer(v, ISS, jwks, strlen(jwks), "fuzz", &err) != 0)
        abort();
    return v;
}

static int check(struct mf_jwt_verifier *v, const char *tok, size_t len, struct mf_jwt_claims *cl)
{
    struct mf_err err = {0};
    int rc = mf_jwt_verify(v, tok, len, AUD, NOW, cl, &err);
    if (rc > 0 || (rc < 0 && err.msg[0] == '\0'))
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int checked;
    struct mf_jwt_claims cl;
    if (!checked) {
        struct mf_jwt_verifier *v = verifier();
        if (check(v, good, strlen(good), &cl) != 0)
            abort();
        mf_jwt_verifier_free(v);
        checked = 1;
    }
    struct mf_jwt_verifier *v = verifier();
    const char *tok = (const char *)data;
    if (check(v, tok, size, &cl) == 0) {
        if (strcmp(cl.iss, ISS) != 0 || cl.jti[0] == '\0' || cl.sub[0] == '\0' ||
            cl.exp <= cl.iat || cl.exp - cl.iat > 3600 || cl.iat > NOW + MF_JWT_SKEW_S ||
            NOW >= cl.exp + MF_JWT_SKEW_S)
            abort();
        if (check(v, tok, size, &cl) == 0) /* a replay */
            abort();
    }
    mf_jwt_verifier_free(v);
    return 0;
}
