/* patient_lookup.c - the in-process cost of `medfm inspect STORE --patient ID`: open the store,
 * find the patient, walk the timeline formatting every event; per call, for each id given.
 * Usage: patient_lookup STORE IDS_FILE   (one id per line).  Prints mean, p50, p99, max in ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "store/store.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: patient_lookup STORE IDS_FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        fprintf(stderr, "patient_lookup: cannot open '%s'\n", argv[2]);
        return 1;
    }
    char id[512];
    double ms[4096];
    int n = 0;
    size_t events = 0;
    while (n < 4096 && fgets(id, sizeof id, f)) {
        id[strcspn(id, "\r\n")] = '\0';
        double t0 = mf_now();
        struct mf_store *s;
        struct mf_err err = {0};
        if (mf_store_open(argv[1], &s, &err) != 0) {
            fprintf(stderr, "patient_lookup: %s\n", err.msg);
            return 1;
        }
        struct mf_timeline tl;
        if (mf_store_find(s, id, strlen(id), &tl) == 0) {
            char t[32];
            size_t sum = 0;
            for (size_t i = 0; i < tl.n; i++) {
                mf_time_format(tl.time[i], t);
                sum += mf_store_code(s, tl.code[i]).n + strlen(t);
            }
            events += tl.n + (sum == 0);
        }
        mf_store_close(s);
        ms[n++] = (mf_now() - t0) * 1e3;
    }
    fclose(f);
    if (n == 0)
        return 1;
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += ms[i] / n;
    qsort(ms, (size_t)n, sizeof *ms, cmp_d);
    printf("lookups %d events %zu mean_ms %.3f p50_ms %.3f p99_ms %.3f max_ms %.3f\n", n, events,
           mean, ms[n / 2], ms[(n * 99) / 100], ms[n - 1]);
    return 0;
}
