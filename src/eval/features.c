/* features.c - the baselines' features of a record up to a time (see baseline.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "eval/baseline.h"
#include "store/demog.h"

/* MEDS_BIRTH and MEDS_DEATH are not features: the birth is the age, a death ends the record. */
static int is_feature_code(struct mf_str c)
{
    return !(c.n == 10 &&
             (memcmp(c.p, "MEDS_BIRTH", 10) == 0 || memcmp(c.p, "MEDS_DEATH", 10) == 0));
}

struct cand {
    uint32_t code;
    uint64_t rows;
};

static int by_rows_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->rows != y->rows)
        return x->rows > y->rows ? -1 : 1;
    return x->code < y->code ? -1 : x->code > y->code;
}

int mf_features_choose(const struct mf_store *s, const struct mf_feature_row *rows, size_t n,
                       size_t min_rows, size_t max_cols, struct mf_features *out,
                       struct mf_err *err)
{
    memset(out, 0, sizeof *out);
    uint32_t nc = mf_store_n_codes(s);
    uint64_t *count = calloc(nc ? nc : 1, sizeof *count);
    int fail = count == NULL;
#pragma omp parallel if (n > 64)
    {
        uint64_t *mine = calloc(nc ? nc : 1, sizeof *mine);
        uint64_t *stamp = calloc(nc ? nc : 1, sizeof *stamp);
        if (mine == NULL || stamp == NULL) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < n; i++) {
            if (mine == NULL || stamp == NULL)
                continue;
            const struct mf_timeline *tl = rows[i].tl;
            for (size_t k = 0; k < tl->n && tl->time[k] <= rows[i].at; k++) {
                uint32_t c = tl->code[k];
                if (tl->time[k] == MF_TIME_NONE || c >= nc || stamp[c] == i + 1)
                    continue;
                stamp[c] = i + 1;
                mine[c]++;
            }
        }
        if (mine && stamp && count) {
#pragma omp critical
            for (uint32_t c = 0; c < nc; c++)
                count[c] += mine[c];
        }
        free(mine);
        free(stamp);
    }
    struct cand *cd = NULL;
    size_t m = 0;
    if (!fail) {
        cd = malloc((nc ? nc : 1) * sizeof *cd);
        fail = cd == NULL;
    }
    for (uint32_t c = 0; !fail && c < nc; c++)
        if (count[c] >= (min_rows ? min_rows : 1) && is_feature_code(mf_store_code(s, c)))
            cd[m++] = (struct cand){c, count[c]};
    if (!fail) {
        qsort(cd, m, sizeof *cd, by_rows_desc);
        if (max_cols && m > max_cols)
            m = max_cols;
        out->col = malloc((nc ? nc : 1) * sizeof *out->col);
        out->names = calloc(m ? m : 1, sizeof *out->names);
        fail = out->col == NULL || out->names == NULL;
    }
    if (!fail) {
        out->n_codes = nc;
        for (uint32_t c = 0; c < nc; c++)
            out->col[c] = -1;
        for (size_t j = 0; j < m && !fail; j++) {
            struct mf_str t = mf_store_code(s, cd[j].code);
            out->names[j] = malloc(t.n + 1);
            if (out->names[j] == NULL) {
                fail = 1;
                break;
            }
            memcpy(out->names[j], t.p, t.n);
            out->names[j][t.n] = 0;
            out->col[cd[j].code] = (int32_t)j;
            out->n_code_cols = j + 1;
        }
    }
    free(count);
    free(cd);
    if (fail) {
        mf_features_free(out);
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    return 0;
}

int mf_features_rebind(struct mf_features *f, const struct mf_store *s, struct mf_err *err)
{
    uint32_t nc = mf_store_n_codes(s);
    int32_t *col = malloc((nc ? nc : 1) * sizeof *col);
    if (col == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (uint32_t c = 0; c < nc; c++)
        col[c] = -1;
    for (size_t j = 0; j < f->n_code_cols; j++) {
        int64_t id = mf_store_code_id(s, f->names[j], strlen(f->names[j]));
        if (id >= 0)
            col[id] = (int32_t)j;
    }
    free(f->col);
    f->col = col;
    f->n_codes = nc;
    return 0;
}

void mf_features_free(struct mf_features *f)
{
    for (size_t j = 0; f->names && j < f->n_code_cols; j++)
        free(f->names[j]);
    free(f->names);
    free(f->col);
    memset(f, 0, sizeof *f);
}

int mf_features_build(const struct mf_features *f, const struct mf_store *s,
                      const struct mf_feature_row *rows, size_t n, float *X, struct mf_err *err)
{
    const size_t dim = mf_features_dim(f);
#pragma omp parallel for schedule(dynamic, 64) if (n > 64)
    for (size_t i = 0; i < n; i++) {
        float *x = X + i * dim;
        memset(x, 0, dim * sizeof *x);
        const struct mf_timeline *tl = rows[i].tl;
        for (size_t k = 0; k < tl->n && tl->time[k] <= rows[i].at; k++) {
            uint32_t c = tl->code[k];
            if (tl->time[k] != MF_TIME_NONE && c < f->n_codes && f->col[c] >= 0)
                x[f->col[c]] += 1;
        }
        for (size_t j = 0; j < f->n_code_cols; j++)
            x[j] = log1pf(x[j]);
        struct mf_demog d;
        mf_demog_of(s, tl, &d);
        double age = mf_demog_age(&d, rows[i].at);
        x[f->n_code_cols] = age >= 0 ? (float)age : 0;
        x[f->n_code_cols + 1] = d.sex.n && (d.sex.p[0] == 'F' || d.sex.p[0] == 'f');
        x[f->n_code_cols + 2] = d.sex.n && (d.sex.p[0] == 'M' || d.sex.p[0] == 'm');
    }
    (void)err;
    return 0;
}
