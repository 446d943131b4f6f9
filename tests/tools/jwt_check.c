/* jwt_check.c - test tool: check CDS Hooks JWTs with medfm's verifier (src/serve/jwt.c), for
 * tests/integration/jwt_tool_crosscheck.sh, which signs them with an independent signer.
 *
 *     jwt_check CONFIG AUD [--now EPOCH] TOKEN...
 *
 * CONFIG is a trust configuration (docs/serve-jwt.md); a TOKEN of "-" reads tokens from
 * standard input, one a line.  All tokens go through one verifier, so a repeated jti is a
 * replay.  Prints "ok ISS SUB JTI" or "refused: WHY" per token.  Exit 0 when every token was
 * accepted, 1 when one was refused (or the configuration was), 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/jwt.h"

static int usage(void)
{
    fprintf(stderr, "usage: jwt_check CONFIG AUD [--now EPOCH] TOKEN...\n");
    return 2;
}

static int check(struct mf_jwt_verifier *v, const char *tok, size_t len, const char *aud,
                 int64_t now)
{
    struct mf_err err = {0};
    struct mf_jwt_claims cl;
    if (mf_jwt_verify(v, tok, len, aud, now, &cl, &err) != 0) {
        printf("refused: %s\n", err.msg);
        return 1;
    }
    printf("ok %s %s %s\n", cl.iss, cl.sub, cl.jti);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *config = argv[1], *aud = argv[2];
    int64_t now = (int64_t)time(NULL);
    int first = 3;
    if (strcmp(argv[3], "--now") == 0) {
        if (argc < 6)
            return usage();
        char *end;
        errno = 0;
        long long n = strtoll(argv[4], &end, 10);
        if (errno || *end || end == argv[4] || n < 0)
            return usage();
        now = (int64_t)n;
        first = 5;
    }
    struct mf_err err = {0};
    struct mf_jwt_verifier *v = NULL;
    if (mf_jwt_verifier_new(&v, &err) != 0 || mf_jwt_load_config(v, config, &err) != 0) {
        fprintf(stderr, "jwt_check: %s\n", err.msg);
        mf_jwt_verifier_free(v);
        return 1;
    }
    int refused = 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "-") != 0) {
            refused |= check(v, argv[i], strlen(argv[i]), aud, now);
            continue;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n > 0)
                refused |= check(v, line, (size_t)n, aud, now);
        }
        free(line);
    }
    mf_jwt_verifier_free(v);
    return refused ? 1 : 0;
}
