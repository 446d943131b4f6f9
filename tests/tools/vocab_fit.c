/* vocab_fit.c - test tool: fit the tokenizer's vocabulary on a store and write
 * MODEL_DIR/vocab.json (what `medfm train` does before training), for the integration tests.
 *
 *     vocab_fit STORE MODEL_DIR [--min-count N] [--use-race]
 *
 * Exit 0 ok, 1 failure, 2 usage. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/log.h"
#include "store/store.h"
#include "token/token.h"

static int usage(void)
{
    fprintf(stderr, "usage: vocab_fit STORE MODEL_DIR [--min-count N] [--use-race]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *store = NULL, *dir = NULL;
    struct mf_tok_opts o = MF_TOK_OPTS_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--use-race") == 0) {
            o.use_race = 1;
        } else if (strcmp(argv[i], "--min-count") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || n == 0 || n > UINT32_MAX)
                return usage();
            o.min_count = (uint32_t)n;
        } else if (argv[i][0] == '-') {
            return usage();
        } else if (!store) {
            store = argv[i];
        } else if (!dir) {
            dir = argv[i];
        } else {
            return usage();
        }
    }
    if (!store || !dir)
        return usage();
    mf_log_set_level(MF_LOG_QUIET);
    struct mf_err err = {0};
    struct mf_store *s = NULL;
    struct mf_vocab *v = NULL;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/vocab.json", dir) >= (int)sizeof path)
        return usage();
    int rc = mf_store_open(store, &s, &err);
    if (rc == 0)
        rc = mf_fs_mkdir_p(dir, &err);
    if (rc == 0)
        rc = mf_vocab_fit(s, &o, &v, &err);
    if (rc == 0)
        rc = mf_vocab_save(v, path, &err);
    if (rc)
        fprintf(stderr, "vocab_fit: %s\n", err.msg);
    else
        printf("%u tokens\n", mf_vocab_size(v));
    mf_vocab_free(v);
    mf_store_close(s);
    return rc ? 1 : 0;
}
