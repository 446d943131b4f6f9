/* truth.c - reading a synthetic cohort's ground truth (see truth.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/timeutil.h"
#include "eval/truth.h"
#include "ingest/csv.h"

int mf_truth_path(const char *dir, const char *name, char *out, size_t cap)
{
    struct stat st;
    int n = snprintf(out, cap, "%s/truth/%s", dir, name);
    if (n > 0 && (size_t)n < cap && stat(out, &st) == 0)
        return 0;
    n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap && stat(out, &st) == 0 ? 0 : -1;
}

static char *dup_field(struct mf_csv_field f, const char *prefix)
{
    size_t pn = prefix ? strlen(prefix) : 0;
    char *s = malloc(pn + f.n + 1);
    if (s) {
        if (pn)
            memcpy(s, prefix, pn);
        memcpy(s + pn, f.p, f.n);
        s[pn + f.n] = 0;
    }
    return s;
}

static int field_eq(struct mf_csv_field f, const char *s)
{
    return f.n == strlen(s) && memcmp(f.p, s, f.n) == 0;
}

/* A number field: strtod of a NUL-terminated copy, the whole field used. */
static int field_num(struct mf_csv_field f, double *out)
{
    char tmp[64];
    if (f.n == 0 || f.n >= sizeof tmp)
        return -1;
    memcpy(tmp, f.p, f.n);
    tmp[f.n] = 0;
    char *end;
    errno = 0;
    *out = strtod(tmp, &end);
    return errno || *end || !isfinite(*out) ? -1 : 0;
}

static int all_digits(struct mf_csv_field f)
{
    if (f.n == 0)
        return 0;
    for (size_t i = 0; i < f.n; i++)
        if (f.p[i] < '0' || f.p[i] > '9')
            return 0;
    return 1;
}

int mf_truth_read(const char *path, int effects, const char *outcome, int horizon_days,
                  struct mf_truth *t, struct mf_err *err)
{
    struct mf_csv c;
    int rc = mf_csv_open(&c, path, NULL, err);
    if (rc)
        return rc;
    if ((rc = mf_csv_read_header(&c, err)) != 0) {
        mf_csv_close(&c);
        return rc;
    }
    const char *cols[] = {"patient_id",   "index_time",  "outcome",
                          "horizon_days", "probability", "treatment"};
    int ix[6];
    for (int k = 0; k < 6; k++) {
        ix[k] = mf_csv_column(&c, cols[k]);
        if ((k < 5 || effects) && ix[k] < 0) {
            mf_csv_close(&c);
            return mf_err_set(err, MF_EINVAL, "%s: the header has no column '%s'", path, cols[k]);
        }
    }
    while ((rc = mf_csv_next(&c, err)) == 1) {
        long long line = (long long)c.line;
        struct mf_csv_field pid = mf_csv_get(&c, ix[0]), it = mf_csv_get(&c, ix[1]);
        struct mf_csv_field oc = mf_csv_get(&c, ix[2]), hz = mf_csv_get(&c, ix[3]);
        struct mf_csv_field pr = mf_csv_get(&c, ix[4]);
        t->read++;
        rc = 0;
        double h = 0, p = 0;
        int64_t at = 0;
        if (pid.n == 0)
            rc = mf_err_set(err, MF_EINVAL, "%s:%lld: empty patient_id", path, line);
        else if (mf_time_parse(it.p, it.n, &at) != 0)
            rc = mf_err_set(err, MF_EINVAL, "%s:%lld: index_time is not an ISO 8601 time", path,
                            line);
        else if (field_num(hz, &h) != 0 || h != floor(h) || h < 1 || h > 36600)
            rc = mf_err_set(err, MF_EINVAL, "%s:%lld: horizon_days must be a whole number of days",
                            path, line);
        else if (field_num(pr, &p) != 0 || p < 0 || p > 1)
            rc = mf_err_set(err, MF_EINVAL, "%s:%lld: probability must be a number in [0, 1]", path,
                            line);
        if (rc)
            break;
        if ((int)h != horizon_days || !field_eq(oc, outcome))
            continue;
        char *tr = NULL;
        if (effects) {
            struct mf_csv_field tf = mf_csv_get(&c, ix[5]);
            if (tf.n == 0) {
                rc = mf_err_set(err, MF_EINVAL, "%s:%lld: empty treatment", path, line);
                break;
            }
            tr = dup_field(tf, all_digits(tf) ? "RxNorm/" : NULL);
        }
        if (t->n == t->cap) {
            size_t nc = t->cap ? 2 * t->cap : 1024;
            struct mf_truth_row *r = realloc(t->rows, nc * sizeof *r);
            if (r == NULL) {
                free(tr);
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                break;
            }
            t->rows = r;
            t->cap = nc;
        }
        char *ps = dup_field(pid, NULL);
        if (ps == NULL || (effects && tr == NULL)) {
            free(ps);
            free(tr);
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
        t->rows[t->n++] = (struct mf_truth_row){ps, at, tr, p};
    }
    mf_csv_close(&c);
    return rc;
}

void mf_truth_free(struct mf_truth *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].patient);
        free(t->rows[i].treatment);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}
