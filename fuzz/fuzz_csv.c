/* fuzz_csv.c - libFuzzer target for the CSV reader (src/ingest/csv.c).
 *
 * The input is written to a scratch file (the reader works on files: plain or gzip, so a gzip
 * input exercises the decompressor too) and read to the end with small limits, touching every
 * byte of every field so that the sanitizers see any read out of bounds.  Checks invariants:
 * a record's line and offset never go backwards, and recoverable errors allow reading on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/csv.h"

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch_path("fuzz_csv", ".csv");
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);

    struct mf_csv_opts opts = {64, 4096};
    struct mf_csv c;
    struct mf_err err = {0};
    volatile unsigned sum = 0;
    int64_t last_line = 0, last_offset = -1;
    if (mf_csv_open(&c, path, &opts, &err) == 0 && mf_csv_read_header(&c, &err) == 0) {
        for (size_t k = 0; k < c.n_names; k++) {
            int at = mf_csv_column(&c, c.names[k]);
            if (at < 0 || (size_t)at > k)
                abort();
        }
        for (;;) {
            mf_err_clear(&err);
            int rc = mf_csv_next(&c, &err);
            if (rc == 0)
                break;
            if (c.line < last_line || c.offset < last_offset)
                abort();
            last_line = c.line;
            last_offset = c.offset;
            if (rc < 0) {
                if (!mf_csv_recoverable(&c))
                    break;
                continue;
            }
            if (c.nf == 0 || c.nf > opts.max_fields)
                abort();
            for (size_t i = 0; i < c.nf; i++)
                for (size_t j = 0; j < c.f[i].n; j++)
                    sum += (unsigned char)c.f[i].p[j];
        }
    }
    mf_csv_close(&c);
    unlink(path);
    (void)sum;
    return 0;
}
