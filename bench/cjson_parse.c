/* cjson_parse.c - the baseline for the ingest benchmark: cJSON's bare parse of the same files
 * (read each file, cJSON_ParseWithLength with cJSON's own allocator, cJSON_Delete), spread
 * over the same number of threads as medfm ingest.  Prints MB/s.
 * Usage: cjson_parse [--threads N] PATH... */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "core/progress.h"

int main(int argc, char **argv)
{
    int threads = omp_get_max_threads(), first = 1;
    if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
        threads = (int)strtol(argv[2], NULL, 10);
        first = 3;
    }
    struct mf_strlist files = {0};
    static const char *const sfx[] = {".json", NULL};
    for (int i = first; i < argc; i++) {
        struct mf_err err = {0};
        if (mf_fs_list(argv[i], sfx, &files, &err) != 0) {
            fprintf(stderr, "cjson_parse: %s\n", err.msg);
            return 1;
        }
    }
    if (files.n == 0) {
        fprintf(stderr, "usage: cjson_parse [--threads N] PATH...\n");
        return 2;
    }
    long long bytes = 0, failed = 0;
    double t0 = mf_now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : bytes, failed)
    for (size_t i = 0; i < files.n; i++) {
        struct mf_buf b = MF_BUF_INIT;
        if (mf_fs_read_file(files.items[i], (size_t)2 << 30, &b, NULL) != 0) {
            failed++;
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(b.data, b.len);
        if (j == NULL)
            failed++;
        cJSON_Delete(j);
        bytes += (long long)b.len;
        mf_buf_release(&b);
    }
    double s = mf_now() - t0;
    printf("files %zu bytes %lld seconds %.3f MB/s %.1f failed %lld\n", files.n, bytes, s,
           (double)bytes / 1e6 / s, failed);
    mf_strlist_free(&files);
    return failed ? 1 : 0;
}
