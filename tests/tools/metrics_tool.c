/* metrics_tool.c - test tool: every metric and curve of src/eval/metrics.h on cases read from
 * a file, printed with %.17g for tests/integration/metrics_sklearn.py to compare with
 * scikit-learn and numpy.
 *
 *     metrics_tool FILE
 *
 * FILE holds blocks, each a header line and its rows (whitespace-separated):
 *
 *     metrics NAME WEIGHTED N N_BINS N_T T1 .. T_NT    then N rows "p y w" (w ignored, NULL
 *                                                     weights, when WEIGHTED is 0)
 *     pct NAME LEVEL M                                then M values (nan and inf allowed)
 *     boot NAME N K SEED B                            then N cluster ids
 *
 * For a metrics block it prints "case NAME", then lines "KEY v1 v2 ...": each single metric
 * (auroc auprc brier ece cal_rc cal_slope cal_intercept), "thr T sens spec ppv nb" per
 * threshold, the curves "roc", "pr", "calcurve" (flattened points), and "all" (mf_metrics_all
 * with the order given); the metrics are computed once without and once with the order, and
 * must agree exactly (else exit 1).  A pct block prints "case NAME" and "pct LO HI", a boot
 * block "case NAME" and "boot W1 .. WN".  Exit 0 ok, 1 failure, 2 usage. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"

static FILE *in;

static int next_token(char *tok, size_t cap)
{
    int c;
    do
        c = fgetc(in);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    if (c == EOF)
        return 0;
    size_t n = 0;
    while (c != EOF && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        if (n + 1 < cap)
            tok[n++] = (char)c;
        c = fgetc(in);
    }
    tok[n] = 0;
    return 1;
}

static int read_double(double *v)
{
    char tok[128], *end;
    if (!next_token(tok, sizeof tok))
        return -1;
    errno = 0;
    *v = strtod(tok, &end);
    return errno == ERANGE && *v != 0 ? -1 : *end || end == tok ? -1 : 0;
}

static int read_size(size_t *v)
{
    char tok[64], *end;
    if (!next_token(tok, sizeof tok) || tok[0] == '-')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(tok, &end, 10);
    if (errno || *end || end == tok)
        return -1;
    *v = (size_t)x;
    return 0;
}

static void print_vec(const char *key, const double *v, size_t n)
{
    printf("%s", key);
    for (size_t i = 0; i < n; i++)
        printf(" %.17g", v[i]);
    printf("\n");
}

static void print_curve(const char *key, size_t k, double *xy, size_t dim)
{
    if (k == (size_t)-1) {
        fprintf(stderr, "metrics_tool: out of memory\n");
        exit(1);
    }
    print_vec(key, xy, k * dim);
    free(xy);
}

/* The single metrics and curves of s, into v (for comparing runs); printed when print. */
static size_t singles(const struct mf_scored *s, int n_bins, const double *t, size_t n_t, double *v,
                      int print)
{
    size_t m = 0;
    v[m++] = mf_auroc(s);
    v[m++] = mf_auprc(s);
    v[m++] = mf_brier(s);
    v[m++] = mf_ece(s, n_bins);
    double slope, intercept;
    v[m++] = mf_calibration(s, &slope, &intercept);
    v[m++] = slope;
    v[m++] = intercept;
    if (print) {
        static const char *const keys[] = {"auroc",  "auprc",     "brier",        "ece",
                                           "cal_rc", "cal_slope", "cal_intercept"};
        for (size_t i = 0; i < m; i++)
            printf("%s %.17g\n", keys[i], v[i]);
    }
    for (size_t j = 0; j < n_t; j++) {
        struct mf_confusion c = mf_at_threshold(s, t[j]);
        double row[5] = {t[j], c.sensitivity, c.specificity, c.ppv, c.net_benefit};
        if (print)
            print_vec("thr", row, 5);
        memcpy(v + m, row + 1, 4 * sizeof *v);
        m += 4;
    }
    return m;
}

static int same(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))))
            return 0;
    return 1;
}

static int do_metrics(const char *name)
{
    size_t weighted, n, n_bins, n_t;
    if (read_size(&weighted) || read_size(&n) || read_size(&n_bins) || read_size(&n_t) ||
        n_bins < 1 || n_bins > 1000 || n_t > 100)
        return -1;
    double t[100];
    for (size_t j = 0; j < n_t; j++)
        if (read_double(&t[j]))
            return -1;
    double *p = malloc((n + 1) * sizeof *p), *w = malloc((n + 1) * sizeof *w);
    int *y = malloc((n + 1) * sizeof *y);
    double *v1 = malloc((7 + 4 * n_t) * sizeof *v1), *v2 = malloc((7 + 4 * n_t) * sizeof *v2);
    size_t len = mf_metrics_len(n_t);
    double *all = malloc(len * sizeof *all), *all2 = malloc(len * sizeof *all2);
    int rc = -1;
    uint32_t *order = NULL;
    if (!p || !w || !y || !v1 || !v2 || !all || !all2)
        goto out;
    for (size_t i = 0; i < n; i++) {
        double yy;
        if (read_double(&p[i]) || read_double(&yy) || read_double(&w[i]))
            goto out;
        y[i] = yy != 0;
    }
    printf("case %s\n", name);
    struct mf_scored s = {p, y, weighted ? w : NULL, n, NULL};
    size_t m = singles(&s, (int)n_bins, t, n_t, v1, 1);
    double *xy;
    size_t k = mf_roc_curve(&s, &xy);
    print_curve("roc", k, xy, 2);
    k = mf_pr_curve(&s, &xy);
    print_curve("pr", k, xy, 2);
    k = mf_calibration_curve(&s, (int)n_bins, &xy);
    print_curve("calcurve", k, xy, 3);
    mf_metrics_all(&s, t, n_t, all2);
    if (mf_metrics_order(p, n, &order) != 0)
        goto out;
    s.order = order;
    singles(&s, (int)n_bins, t, n_t, v2, 0);
    mf_metrics_all(&s, t, n_t, all);
    print_vec("all", all, len);
    if (!same(v1, v2, m) || !same(all, all2, len)) {
        fprintf(stderr, "metrics_tool: %s: results differ with the order given\n", name);
        goto out;
    }
    rc = 0;
out:
    free(p);
    free(w);
    free(y);
    free(v1);
    free(v2);
    free(all);
    free(all2);
    free(order);
    return rc;
}

static int do_pct(const char *name)
{
    double level;
    size_t m;
    if (read_double(&level) || read_size(&m))
        return -1;
    double *v = malloc((m + 1) * sizeof *v);
    if (v == NULL)
        return -1;
    for (size_t i = 0; i < m; i++)
        if (read_double(&v[i])) {
            free(v);
            return -1;
        }
    double lo, hi;
    mf_percentile_interval(v, m, level, &lo, &hi);
    printf("case %s\npct %.17g %.17g\n", name, lo, hi);
    free(v);
    return 0;
}

static int do_boot(const char *name)
{
    size_t n, k, seed, b;
    if (read_size(&n) || read_size(&k) || read_size(&seed) || read_size(&b) || k > UINT32_MAX ||
        b > UINT32_MAX)
        return -1;
    uint32_t *c = malloc((n + 1) * sizeof *c);
    double *w = malloc((n + 1) * sizeof *w);
    int rc = -1;
    if (c == NULL || w == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t x;
        if (read_size(&x) || x >= k)
            goto out;
        c[i] = (uint32_t)x;
    }
    mf_bootstrap_weights(c, n, (uint32_t)k, (uint64_t)seed, (uint32_t)b, w);
    printf("case %s\n", name);
    print_vec("boot", w, n);
    rc = 0;
out:
    free(c);
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: metrics_tool FILE\n");
        return 2;
    }
    in = fopen(argv[1], "r");
    if (in == NULL) {
        fprintf(stderr, "metrics_tool: cannot open '%s'\n", argv[1]);
        return 1;
    }
    char kind[16], name[256];
    int rc = 0;
    while (rc == 0 && next_token(kind, sizeof kind)) {
        if (!next_token(name, sizeof name)) {
            rc = -1;
            break;
        }
        if (strcmp(kind, "metrics") == 0)
            rc = do_metrics(name);
        else if (strcmp(kind, "pct") == 0)
            rc = do_pct(name);
        else if (strcmp(kind, "boot") == 0)
            rc = do_boot(name);
        else
            rc = -1;
        if (rc)
            fprintf(stderr, "metrics_tool: '%s': bad block '%s'\n", argv[1], name);
    }
    fclose(in);
    return rc ? 1 : 0;
}
