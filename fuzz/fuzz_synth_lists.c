/* fuzz_synth_lists.c - fuzz target for the synthetic cohort's list loader: the first input byte
 * picks which list file the rest of the input replaces in an otherwise valid list folder; when
 * the lists load, a person and a note are drawn from them. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "synth/synth.h"

static const char *const names[] = {"given-female.tsv",    "given-male.tsv",    "family.tsv",
                                    "street-suffixes.txt", "city-prefixes.txt", "city-suffixes.txt",
                                    "email-domains.txt",   "states.tsv"};
static const char *const valid[] = {"Mary\t0.5\nAnna\t0.25\n",
                                    "John\t0.5\nPeter\t0.2\n",
                                    "Smith\t0.02\nJones\t0.01\n",
                                    "Street\nAvenue\n",
                                    "North\nEast\n",
                                    "ton\nville\n",
                                    "example.org\n",
                                    "MA\t010\t027\nNY\t100\t149\n"};

static char dir[64];

static void write_file(const char *name, const void *data, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/synth/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
}

static void cleanup(void)
{
    mf_fs_rm_rf(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/medfm-fuzz-lists-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        char sub[96];
        snprintf(sub, sizeof sub, "%s/synth", dir);
        mf_fs_mkdir_p(sub, NULL);
        atexit(cleanup);
    }
    size_t pick = size ? data[0] % (sizeof names / sizeof names[0]) : 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        write_file(names[i], valid[i], strlen(valid[i]));
    write_file(names[pick], size ? data + 1 : data, size ? size - 1 : 0);
    struct mf_synth_lists *l = NULL;
    if (mf_synth_lists_load(dir, &l, NULL) == 0) {
        struct mf_rng r;
        mf_rng_seed(&r, size, 1);
        struct mf_synth_person p;
        mf_synth_person_make(l, &r, 1, &p);
        mf_synth_person_make(l, &r, 0, &p);
    }
    mf_synth_lists_free(l);
    return 0;
}
