/* fuzz_eval_truth.c - libFuzzer target for the synthetic cohort's truth reader
 * (src/eval/truth.c).
 *
 * The first byte chooses the file kind (risk.csv or effects.csv); the rest is written to a
 * scratch file and read for two outcomes and horizons.  Checks invariants: every kept row has
 * a patient, a probability in [0, 1], and a treatment exactly when reading effects; a failed
 * read still leaves the rows it kept freeable.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/truth.h"

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int effects = data[0] & 1;
    const char *path = scratch_path("fuzz_eval_truth", ".csv");
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) {
        fclose(f);
        return 0;
    }
    fclose(f);
    static const char *const outcomes[2] = {"MEDS_DEATH", "SNOMED/22298006"};
    static const int horizons[2] = {365, 1826};
    for (int k = 0; k < 2; k++) {
        struct mf_truth t = {0};
        struct mf_err err = {0};
        int rc = mf_truth_read(path, effects, outcomes[k], horizons[k], &t, &err);
        if (rc != 0 && err.msg[0] == '\0')
            abort();
        for (size_t i = 0; i < t.n; i++) {
            const struct mf_truth_row *r = &t.rows[i];
            if (r->patient == NULL || r->patient[0] == '\0' || !(r->p >= 0 && r->p <= 1) ||
                (effects != (r->treatment != NULL)))
                abort();
        }
        if (t.read < t.n)
            abort();
        mf_truth_free(&t);
    }
    unlink(path);
    return 0;
}
