/* jwt.h - checking the JSON Web Tokens that CDS Hooks clients send (libjwt).
 *
 * The CDS Hooks specification: the EHR signs a JWT per call with ES384 or RS384, header "kid"
 * naming a key of its JWKS, claims iss (the EHR), sub (its client id), aud (the URL of the
 * service called), exp (at most 5 minutes out), iat, jti (unique per call).  We accept a token
 * when:
 *   - alg is ES384 or RS384 (never "none", never HS*), and kid names a key of the issuer's JWKS
 *     of the matching type (EC P-384 or RSA), or the JWKS has one such key and kid is absent;
 *   - the signature verifies;
 *   - iss is on the allow-list (each entry: an issuer and its JWKS, from a file);
 *   - sub is present (a string);
 *   - aud equals the URL called (a string or an array holding it);
 *   - exp is present and not past, iat present and not in the future, both with 5 minutes of
 *     clock skew allowed, and exp - iat is at most 1 hour;
 *   - jti is present and has not been seen before inside its token's lifetime (a replay cache
 *     that forgets entries after they expire).
 * Also refused: a header with "crit", a header or payload repeating a member name, an nbf more
 * than the skew ahead, tokens over 16 KiB.  The order of the checks: docs/serve-jwt.md.
 * Errors say which check failed, never echoing the token.
 */
#ifndef MF_SERVE_JWT_H
#define MF_SERVE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mf_jwt_verifier;

/* Allowed skew between clocks, seconds. */
#define MF_JWT_SKEW_S 300

/* An empty verifier (no issuer allowed yet). */
int mf_jwt_verifier_new(struct mf_jwt_verifier **out, struct mf_err *err);
void mf_jwt_verifier_free(struct mf_jwt_verifier *v);

/* Allow an issuer, with its JWKS (the JSON text of {"keys": [...]}).  Keys other than EC P-384
 * and RSA (>= 2048 bits) with use "sig" (or no use) are ignored; MF_EINVAL when none is left
 * or the JWKS is malformed.  name is used in errors (e.g. the file it came from). */
int mf_jwt_allow_issuer(struct mf_jwt_verifier *v, const char *iss, const char *jwks_json,
                        size_t len, const char *name, struct mf_err *err);

/* Read the trust configuration: a JSON file {"issuers": [{"iss": "...", "jwks_file": "..."} or
 * {"iss": "...", "jwks": {...}}]}; relative jwks_file paths are relative to the file. */
int mf_jwt_load_config(struct mf_jwt_verifier *v, const char *path, struct mf_err *err);

struct mf_jwt_claims {
    char iss[256];
    char sub[256];
    char jti[256];
    int64_t exp, iat; /* seconds since the epoch */
};

/* Check a token (the text after "Bearer ") for a call to `aud` at time `now` (seconds since
 * the epoch).  0 and the claims when accepted; MF_EINVAL (err says why) when not.
 * Thread-safe (the replay cache is locked); issuers are allowed before verifying starts. */
int mf_jwt_verify(struct mf_jwt_verifier *v, const char *token, size_t len, const char *aud,
                  int64_t now, struct mf_jwt_claims *out, struct mf_err *err);

/* The replay cache holds at most this many unexpired tokens (default 100000); when it is full
 * of them, new tokens are refused ("replay cache full") until some expire.  Set before the
 * first mf_jwt_verify (MF_EINVAL afterwards, or for 0). */
int mf_jwt_set_replay_max(struct mf_jwt_verifier *v, size_t max, struct mf_err *err);
/* Tokens the replay cache holds at time `now` (expired ones are dropped first). */
size_t mf_jwt_replay_count(struct mf_jwt_verifier *v, int64_t now);

#endif
