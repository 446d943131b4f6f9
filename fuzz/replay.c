/* replay.c - runs a fuzz target over every file of its seed corpus, so the corpus is a test.
 * Usage: replay-<name> DIR_OR_FILE... ; fails when a folder is empty or a file cannot be read
 * (a crash or sanitizer report fails the test by itself). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 1; i < argc; i++) {
        struct mf_strlist files = {0};
        struct mf_err err = {0};
        if (mf_fs_list(argv[i], NULL, &files, &err) != 0) {
            fprintf(stderr, "replay: %s\n", err.msg);
            return 1;
        }
        for (size_t k = 0; k < files.n; k++) {
            struct mf_buf b = MF_BUF_INIT;
            if (mf_fs_read_file(files.items[k], (size_t)64 << 20, &b, &err) != 0) {
                fprintf(stderr, "replay: %s\n", err.msg);
                return 1;
            }
            LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
            mf_buf_release(&b);
            ran++;
        }
        mf_strlist_free(&files);
    }
    if (ran == 0) {
        fprintf(stderr, "replay: no corpus files\n");
        return 1;
    }
    printf("replayed %d inputs\n", ran);
    return 0;
}
