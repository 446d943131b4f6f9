/* report.c - checking metrics.json and drawing report.html from it (see report.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "eval/report.h"

/* ---- checking ------------------------------------------------------------------------------ */

/* A JSON path being checked, for error messages ("tasks[0].predictors[1].metrics"). */
struct jpath {
    char s[256];
    size_t n;
};

static size_t jp_push(struct jpath *p, const char *fmt, ...)
{
    size_t was = p->n;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->s + p->n, sizeof p->s - p->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        p->n = p->n + (size_t)k < sizeof p->s ? p->n + (size_t)k : sizeof p->s - 1;
    return was;
}

static void jp_pop(struct jpath *p, size_t was)
{
    p->n = was;
    p->s[was] = 0;
}

static int bad(struct mf_err *err, const char *name, const struct jpath *p, const char *key,
               const char *what)
{
    return mf_err_set(err, MF_EPARSE, "%s: %s%s%s: %s", name, p->s, p->n && key ? "." : "",
                      key ? key : "", what);
}

enum kind { K_STR, K_NUM, K_NUM_OR_NULL, K_BOOL, K_OBJ, K_ARR, K_EST, K_EST_OR_ABSENT };

static int is_est(const cJSON *e)
{
    static const char *const k[3] = {"value", "lo", "hi"};
    if (!cJSON_IsObject(e))
        return 0;
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, k[i]);
        if (!cJSON_IsNumber(x) && !cJSON_IsNull(x))
            return 0;
    }
    return 1;
}

static int need(const cJSON *o, const char *key, enum kind k, const char *name, struct jpath *p,
                struct mf_err *err)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    switch (k) {
    case K_STR:
        return cJSON_IsString(x) ? 0 : bad(err, name, p, key, "expected a string");
    case K_NUM:
        return cJSON_IsNumber(x) ? 0 : bad(err, name, p, key, "expected a number");
    case K_NUM_OR_NULL:
        return cJSON_IsNumber(x) || cJSON_IsNull(x)
                   ? 0
                   : bad(err, name, p, key, "expected a number or null");
    case K_BOOL:
        return cJSON_IsBool(x) ? 0 : bad(err, name, p, key, "expected true or false");
    case K_OBJ:
        return cJSON_IsObject(x) ? 0 : bad(err, name, p, key, "expected an object");
    case K_ARR:
        return cJSON_IsArray(x) ? 0 : bad(err, name, p, key, "expected an array");
    case K_EST:
        return is_est(x) ? 0 : bad(err, name, p, key, "expected an object {value, lo, hi}");
    case K_EST_OR_ABSENT:
        return x == NULL || is_est(x)
                   ? 0
                   : bad(err, name, p, key, "expected an object {value, lo, hi}");
    }
    return 0;
}

static const char *const METRIC_KEYS[] = {
    "auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept", "mean_risk"};
static const char *const THRESHOLD_KEYS[] = {"sensitivity", "specificity", "ppv", "net_benefit"};
static const char *const CURVE_KEYS[] = {"roc", "pr", "calibration", "decision"};

/* An array of points: arrays of 2 or 3 numbers (or nulls). */
static int check_points(const cJSON *a, const char *key, const char *name, struct jpath *p,
                        struct mf_err *err)
{
    const cJSON *pt;
    cJSON_ArrayForEach(pt, a)
    {
        int n = cJSON_GetArraySize(pt);
        if (!cJSON_IsArray(pt) || n < 2 || n > 3)
            return bad(err, name, p, key, "expected points [x, y] or [x, y, n]");
        const cJSON *v;
        cJSON_ArrayForEach(v, pt)
        {
            if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
                return bad(err, name, p, key, "expected numbers in the points");
        }
    }
    return 0;
}

static int check_predictor(const cJSON *pr, const char *name, struct jpath *p, struct mf_err *err)
{
    int rc = 0;
    const char *const s[] = {"id", "name"};
    for (size_t i = 0; i < 2 && rc == 0; i++)
        rc = need(pr, s[i], K_STR, name, p, err);
    if (rc == 0)
        rc = need(pr, "n", K_NUM, name, p, err);
    if (rc == 0)
        rc = need(pr, "metrics", K_OBJ, name, p, err);
    if (rc)
        return rc;
    size_t was = jp_push(p, ".metrics");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(pr, "metrics");
    for (size_t i = 0; i < sizeof METRIC_KEYS / sizeof METRIC_KEYS[0] && rc == 0; i++)
        rc = need(m, METRIC_KEYS[i], K_EST, name, p, err);
    jp_pop(p, was);
    if (rc || (rc = need(pr, "thresholds", K_ARR, name, p, err)) != 0)
        return rc;
    const cJSON *t;
    int i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(pr, "thresholds"))
    {
        was = jp_push(p, ".thresholds[%d]", i++);
        rc = need(t, "threshold", K_NUM, name, p, err);
        for (size_t k = 0; k < 4 && rc == 0; k++)
            rc = need(t, THRESHOLD_KEYS[k], K_EST, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    if ((rc = need(pr, "curves", K_OBJ, name, p, err)) != 0)
        return rc;
    was = jp_push(p, ".curves");
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(pr, "curves");
    for (size_t k = 0; k < 4 && rc == 0; k++) {
        rc = need(cv, CURVE_KEYS[k], K_ARR, name, p, err);
        if (rc == 0)
            rc = check_points(cJSON_GetObjectItemCaseSensitive(cv, CURVE_KEYS[k]), CURVE_KEYS[k],
                              name, p, err);
    }
    jp_pop(p, was);
    if (rc || (rc = need(pr, "subgroups", K_ARR, name, p, err)) != 0 ||
        (rc = need(pr, "gaps", K_ARR, name, p, err)) != 0)
        return rc;
    i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(pr, "subgroups"))
    {
        was = jp_push(p, ".subgroups[%d]", i++);
        const char *const ks[] = {"attribute", "group"}, *const ke[] = {"auroc", "brier", "ece"};
        for (size_t k = 0; k < 2 && rc == 0; k++)
            rc = need(t, ks[k], K_STR, name, p, err);
        if (rc == 0)
            rc = need(t, "n", K_NUM, name, p, err);
        if (rc == 0)
            rc = need(t, "positives", K_NUM, name, p, err);
        for (size_t k = 0; k < 3 && rc == 0; k++)
            rc = need(t, ke[k], K_EST, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(pr, "gaps"))
    {
        was = jp_push(p, ".gaps[%d]", i++);
        const char *const ks[] = {"attribute", "metric", "best", "worst"};
        for (size_t k = 0; k < 4 && rc == 0; k++)
            rc = need(t, ks[k], K_STR, name, p, err);
        if (rc == 0)
            rc = need(t, "gap", K_EST, name, p, err);
        if (rc == 0)
            rc = need(t, "flagged", K_BOOL, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(pr, "oracle_fraction");
    if (of) {
        if (!cJSON_IsObject(of))
            return bad(err, name, p, "oracle_fraction", "expected an object");
        was = jp_push(p, ".oracle_fraction");
        rc = need(of, "auroc", K_EST, name, p, err);
        if (rc == 0)
            rc = need(of, "brier", K_EST, name, p, err);
        jp_pop(p, was);
    }
    return rc;
}

static int check_effects(const cJSON *e, const char *name, struct jpath *p, struct mf_err *err)
{
    if (e == NULL || cJSON_IsNull(e))
        return 0;
    if (!cJSON_IsObject(e))
        return bad(err, name, p, "effects", "expected an object or null");
    size_t was = jp_push(p, ".effects");
    int rc = need(e, "pairs", K_NUM, name, p, err);
    if (rc == 0)
        rc = need(e, "pearson", K_EST, name, p, err);
    if (rc == 0)
        rc = need(e, "sign_agreement", K_NUM_OR_NULL, name, p, err);
    if (rc == 0)
        rc = need(e, "per_treatment", K_ARR, name, p, err);
    const cJSON *t;
    int i = 0;
    cJSON_ArrayForEach(t, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(e, "per_treatment")))
    {
        size_t w2 = jp_push(p, ".per_treatment[%d]", i++);
        rc = need(t, "treatment", K_STR, name, p, err);
        if (rc == 0)
            rc = need(t, "true_mean_difference", K_NUM_OR_NULL, name, p, err);
        if (rc == 0)
            rc = need(t, "model_mean_difference", K_NUM_OR_NULL, name, p, err);
        jp_pop(p, w2);
        if (rc)
            break;
    }
    jp_pop(p, was);
    return rc;
}

int mf_report_check(const cJSON *m, const char *name, struct mf_err *err)
{
    struct jpath p = {{0}, 0};
    if (!cJSON_IsObject(m))
        return mf_err_set(err, MF_EPARSE, "%s: expected a JSON object", name);
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "format"));
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
    if (fmt == NULL || strcmp(fmt, "medfm-eval") != 0)
        return bad(err, name, &p, "format", "expected \"medfm-eval\"");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        return bad(err, name, &p, "version", "expected 1 (a report of another medfm version)");
    int rc = need(m, "model", K_OBJ, name, &p, err);
    if (rc == 0)
        rc = need(m, "store", K_OBJ, name, &p, err);
    if (rc == 0)
        rc = need(m, "split", K_STR, name, &p, err);
    if (rc == 0)
        rc = need(m, "settings", K_OBJ, name, &p, err);
    if (rc == 0)
        rc = need(m, "tasks", K_ARR, name, &p, err);
    if (rc == 0)
        rc = need(m, "notes", K_ARR, name, &p, err);
    if (rc)
        return rc;
    size_t was = jp_push(&p, "model");
    rc = need(cJSON_GetObjectItemCaseSensitive(m, "model"), "sha256", K_STR, name, &p, err);
    jp_pop(&p, was);
    was = jp_push(&p, "store");
    if (rc == 0)
        rc = need(cJSON_GetObjectItemCaseSensitive(m, "store"), "external", K_BOOL, name, &p, err);
    jp_pop(&p, was);
    const cJSON *t;
    cJSON_ArrayForEach(t, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(m, "notes")))
    {
        if (!cJSON_IsString(t))
            return bad(err, name, &p, "notes", "expected strings");
    }
    int i = 0;
    cJSON_ArrayForEach(t, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(m, "tasks")))
    {
        was = jp_push(&p, "tasks[%d]", i++);
        rc = need(t, "task", K_STR, name, &p, err);
        if (rc == 0)
            rc = need(t, "cohort", K_OBJ, name, &p, err);
        if (rc == 0) {
            size_t w2 = jp_push(&p, ".cohort");
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cohort");
            const char *const k[] = {"samples", "patients", "positives"};
            for (size_t j = 0; j < 3 && rc == 0; j++)
                rc = need(c, k[j], K_NUM, name, &p, err);
            jp_pop(&p, w2);
        }
        if (rc == 0)
            rc = need(t, "predictors", K_ARR, name, &p, err);
        const cJSON *pr;
        int j = 0;
        cJSON_ArrayForEach(pr, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(t, "predictors")))
        {
            size_t w2 = jp_push(&p, ".predictors[%d]", j++);
            rc = check_predictor(pr, name, &p, err);
            jp_pop(&p, w2);
            if (rc)
                break;
        }
        if (rc == 0)
            rc = check_effects(cJSON_GetObjectItemCaseSensitive(t, "effects"), name, &p, err);
        jp_pop(&p, was);
        if (rc)
            return rc;
    }
    return rc;
}

/* ---- drawing ------------------------------------------------------------------------------- */

static void esc(struct mf_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            mf_buf_puts(b, "&lt;");
            break;
        case '>':
            mf_buf_puts(b, "&gt;");
            break;
        case '&':
            mf_buf_puts(b, "&amp;");
            break;
        case '"':
            mf_buf_puts(b, "&quot;");
            break;
        case '\'':
            mf_buf_puts(b, "&#39;");
            break;
        default:
            mf_buf_putc(b, *s);
        }
    }
}

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static void put_num(struct mf_buf *b, double v, int digits)
{
    if (isfinite(v))
        mf_buf_printf(b, "%.*f", digits, v);
    else
        mf_buf_puts(b, "n/a");
}

/* "0.812 (0.771–0.850)" */
static void put_est(struct mf_buf *b, const cJSON *e, int digits)
{
    put_num(b, num(e, "value"), digits);
    double lo = num(e, "lo"), hi = num(e, "hi");
    if (isfinite(lo) && isfinite(hi)) {
        mf_buf_printf(b, " <span class=ci>(%.*f&ndash;%.*f)</span>", digits, lo, digits, hi);
    }
}

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                     "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};
#define N_COLORS (sizeof COLORS / sizeof COLORS[0])

/* One line plot: series from each predictor's curves[key] (x index 0, y index 1), on [0,1] in x
 * and [ylo, yhi] in y, with an optional diagonal and reference series. */
#define PW 360
#define PH 300
#define ML 48
#define MR 12
#define MT 28
#define MB 40

struct plot {
    const char *title, *xlabel, *ylabel, *key;
    double ylo, yhi;
    int diagonal;
    const cJSON *ref; /* [[x, y], ...] drawn dashed, or NULL */
    const char *ref_name;
    int markers; /* calibration: points */
};

static double px(double x)
{
    return ML + x * (PW - ML - MR);
}

static double py(const struct plot *pl, double y)
{
    double f = (y - pl->ylo) / (pl->yhi - pl->ylo);
    f = f < -0.02 ? -0.02 : f > 1.02 ? 1.02 : f;
    return PH - MB - f * (PH - MT - MB);
}

static void polyline(struct mf_buf *b, const struct plot *pl, const cJSON *pts, const char *color,
                     const char *extra)
{
    mf_buf_printf(b, "<polyline fill=none stroke=\"%s\" stroke-width=1.6 %s points=\"", color,
                  extra);
    const cJSON *pt;
    int k = 0;
    cJSON_ArrayForEach(pt, pts)
    {
        const cJSON *a = cJSON_GetArrayItem(pt, 0), *c = cJSON_GetArrayItem(pt, 1);
        double x = cJSON_IsNumber(a) ? a->valuedouble : NAN;
        double y = cJSON_IsNumber(c) ? c->valuedouble : NAN;
        if (!isfinite(x) || !isfinite(y) || k++ > 400)
            continue;
        mf_buf_printf(b, "%.1f,%.1f ", px(x < 0 ? 0 : x > 1 ? 1 : x), py(pl, y));
    }
    mf_buf_puts(b, "\"/>\n");
}

static void svg_plot(struct mf_buf *b, const struct plot *pl, const cJSON *preds)
{
    mf_buf_printf(b,
                  "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=%d height=%d "
                  "viewBox=\"0 0 %d %d\" role=img aria-label=\"",
                  PW, PH, PW, PH);
    esc(b, pl->title);
    mf_buf_puts(b, "\">\n<rect x=0 y=0 width=100% height=100% fill=white/>\n");
    mf_buf_printf(b, "<text x=%d y=16 font-size=13 font-weight=bold>", ML);
    esc(b, pl->title);
    mf_buf_puts(b, "</text>\n");
    /* axes, grid and ticks */
    for (int i = 0; i <= 4; i++) {
        double fx = i / 4.0, fy = pl->ylo + (pl->yhi - pl->ylo) * i / 4.0;
        mf_buf_printf(b,
                      "<line x1=%.1f y1=%d x2=%.1f y2=%d stroke=#ddd/>"
                      "<text x=%.1f y=%d font-size=10 text-anchor=middle>%.2f</text>\n",
                      px(fx), MT, px(fx), PH - MB, px(fx), PH - MB + 13, fx);
        mf_buf_printf(b,
                      "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke=#ddd/>"
                      "<text x=%d y=%.1f font-size=10 text-anchor=end>%.2f</text>\n",
                      ML, py(pl, fy), PW - MR, py(pl, fy), ML - 4, py(pl, fy) + 3, fy);
    }
    mf_buf_printf(b,
                  "<rect x=%d y=%d width=%d height=%d fill=none stroke=#444/>\n"
                  "<text x=%.1f y=%d font-size=11 text-anchor=middle>",
                  ML, MT, PW - ML - MR, PH - MT - MB, px(0.5), PH - 8);
    esc(b, pl->xlabel);
    mf_buf_printf(b,
                  "</text>\n<text x=12 y=%.1f font-size=11 text-anchor=middle "
                  "transform=\"rotate(-90 12 %.1f)\">",
                  (double)(MT + PH - MB) / 2, (double)(MT + PH - MB) / 2);
    esc(b, pl->ylabel);
    mf_buf_puts(b, "</text>\n");
    if (pl->diagonal)
        mf_buf_printf(b,
                      "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f stroke=#999 "
                      "stroke-dasharray=\"4 3\"/>\n",
                      px(0), py(pl, 0), px(1), py(pl, 1));
    if (pl->ref)
        polyline(b, pl, pl->ref, "#555", "stroke-dasharray=\"6 3\"");
    const cJSON *pr;
    size_t i = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        const char *color = COLORS[i % N_COLORS];
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(pr, "curves"), pl->key);
        polyline(b, pl, pts, color, "");
        if (pl->markers) {
            const cJSON *pt;
            cJSON_ArrayForEach(pt, pts)
            {
                const cJSON *a = cJSON_GetArrayItem(pt, 0), *c = cJSON_GetArrayItem(pt, 1);
                if (cJSON_IsNumber(a) && cJSON_IsNumber(c))
                    mf_buf_printf(b, "<circle cx=%.1f cy=%.1f r=2.5 fill=\"%s\"/>",
                                  px(a->valuedouble), py(pl, c->valuedouble), color);
            }
            mf_buf_putc(b, '\n');
        }
        /* legend */
        double ly = MT + 12 + 14.0 * (double)i;
        mf_buf_printf(b,
                      "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke=\"%s\" stroke-width=2/>"
                      "<text x=%d y=%.1f font-size=10>",
                      PW - MR - 130, ly, PW - MR - 116, ly, color, PW - MR - 112, ly + 3);
        esc(b, str(pr, "name"));
        mf_buf_puts(b, "</text>\n");
        i++;
    }
    if (pl->ref && pl->ref_name) {
        double ly = MT + 12 + 14.0 * (double)i;
        mf_buf_printf(b,
                      "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke=#555 stroke-dasharray=\"6 3\"/>"
                      "<text x=%d y=%.1f font-size=10>",
                      PW - MR - 130, ly, PW - MR - 116, ly, PW - MR - 112, ly + 3);
        esc(b, pl->ref_name);
        mf_buf_puts(b, "</text>\n");
    }
    mf_buf_puts(b, "</svg></figure>\n");
}

static const struct {
    const char *key, *label;
    int digits;
} COLS[] = {{"auroc", "AUROC", 3},
            {"auprc", "AUPRC", 3},
            {"brier", "Brier", 4},
            {"ece", "ECE", 4},
            {"calibration_slope", "cal. slope", 2},
            {"calibration_intercept", "cal. intercept", 2},
            {"mean_risk", "mean risk", 4}};

static void task_html(struct mf_buf *b, const cJSON *t)
{
    const cJSON *preds = cJSON_GetObjectItemCaseSensitive(t, "predictors");
    const cJSON *coh = cJSON_GetObjectItemCaseSensitive(t, "cohort");
    mf_buf_puts(b, "<section><h2>");
    esc(b, str(t, "task"));
    mf_buf_puts(b, "</h2>\n<p>");
    double hd = num(t, "horizon_days");
    if (isfinite(hd))
        mf_buf_printf(b, "Horizon %.0f days. ", hd);
    mf_buf_printf(b, "%.0f samples of %.0f patients, %.0f positive (prevalence ",
                  num(coh, "samples"), num(coh, "patients"), num(coh, "positives"));
    put_num(b, 100 * num(coh, "prevalence"), 2);
    mf_buf_puts(b, "%); samples from ");
    mf_buf_puts(b, strcmp(str(coh, "source"), "truth") == 0
                       ? "the synthetic cohort's index dates (true risks known)"
                       : "the task's triggers");
    mf_buf_puts(b, ".</p>\n<table><tr><th>predictor</th>");
    for (size_t k = 0; k < sizeof COLS / sizeof COLS[0]; k++)
        mf_buf_printf(b, "<th>%s</th>", COLS[k].label);
    mf_buf_puts(b, "</tr>\n");
    const cJSON *pr;
    cJSON_ArrayForEach(pr, preds)
    {
        mf_buf_puts(b, "<tr><td title=\"");
        esc(b, str(pr, "description"));
        mf_buf_puts(b, "\">");
        esc(b, str(pr, "name"));
        mf_buf_puts(b, "</td>");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(pr, "metrics");
        for (size_t k = 0; k < sizeof COLS / sizeof COLS[0]; k++) {
            mf_buf_puts(b, "<td>");
            put_est(b, cJSON_GetObjectItemCaseSensitive(m, COLS[k].key), COLS[k].digits);
            mf_buf_puts(b, "</td>");
        }
        mf_buf_puts(b, "</tr>\n");
    }
    mf_buf_puts(b, "</table>\n<h3>At risk thresholds</h3>\n<table><tr><th>predictor</th>"
                   "<th>threshold</th><th>sensitivity</th><th>specificity</th><th>PPV</th>"
                   "<th>net benefit</th></tr>\n");
    cJSON_ArrayForEach(pr, preds)
    {
        const cJSON *th;
        cJSON_ArrayForEach(th, cJSON_GetObjectItemCaseSensitive(pr, "thresholds"))
        {
            mf_buf_puts(b, "<tr><td>");
            esc(b, str(pr, "name"));
            mf_buf_puts(b, "</td><td>");
            put_num(b, num(th, "threshold"), 3);
            for (size_t k = 0; k < 4; k++) {
                mf_buf_puts(b, "</td><td>");
                put_est(b, cJSON_GetObjectItemCaseSensitive(th, THRESHOLD_KEYS[k]), 3);
            }
            mf_buf_puts(b, "</td></tr>\n");
        }
    }
    mf_buf_puts(b, "</table>\n<div class=plots>\n");
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(t, "decision_reference"), "treat_all");
    double prev = num(coh, "prevalence");
    struct plot roc = {
        "ROC curve", "1 - specificity", "sensitivity", "roc", 0, 1, 1, NULL, NULL, 0};
    struct plot prc = {"Precision-recall",
                       "recall (sensitivity)",
                       "precision (PPV)",
                       "pr",
                       0,
                       1,
                       0,
                       NULL,
                       NULL,
                       0};
    struct plot cal = {"Calibration (10 bins)",
                       "mean predicted risk",
                       "observed fraction",
                       "calibration",
                       0,
                       1,
                       1,
                       NULL,
                       NULL,
                       1};
    double top = isfinite(prev) && prev > 0 ? prev * 1.1 : 0.1;
    struct plot dec = {"Decision curve",
                       "threshold probability",
                       "net benefit",
                       "decision",
                       -top / 4,
                       top,
                       0,
                       ta,
                       "treat all (treat none = 0)",
                       0};
    svg_plot(b, &roc, preds);
    svg_plot(b, &prc, preds);
    svg_plot(b, &cal, preds);
    svg_plot(b, &dec, preds);
    mf_buf_puts(b, "</div>\n<h3>Subgroups</h3>\n");
    cJSON_ArrayForEach(pr, preds)
    {
        const cJSON *sg = cJSON_GetObjectItemCaseSensitive(pr, "subgroups"), *g;
        if (cJSON_GetArraySize(sg) == 0)
            continue;
        mf_buf_puts(b, "<h4>");
        esc(b, str(pr, "name"));
        mf_buf_puts(b, "</h4>\n<table><tr><th>attribute</th><th>group</th><th>n</th>"
                       "<th>positives</th><th>AUROC</th><th>Brier</th><th>ECE</th></tr>\n");
        cJSON_ArrayForEach(g, sg)
        {
            mf_buf_puts(b, "<tr><td>");
            esc(b, str(g, "attribute"));
            mf_buf_puts(b, "</td><td>");
            esc(b, str(g, "group"));
            mf_buf_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>", num(g, "n"),
                          num(g, "positives"));
            put_est(b, cJSON_GetObjectItemCaseSensitive(g, "auroc"), 3);
            mf_buf_puts(b, "</td><td>");
            put_est(b, cJSON_GetObjectItemCaseSensitive(g, "brier"), 4);
            mf_buf_puts(b, "</td><td>");
            put_est(b, cJSON_GetObjectItemCaseSensitive(g, "ece"), 4);
            mf_buf_puts(b, "</td></tr>\n");
        }
        mf_buf_puts(b, "</table>\n<ul>\n");
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(pr, "gaps"))
        {
            int flagged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "flagged"));
            mf_buf_printf(b, "<li%s>%s", flagged ? " class=flag" : "",
                          flagged ? "<strong>FLAGGED</strong> " : "");
            esc(b, str(g, "attribute"));
            mf_buf_puts(b, ": largest ");
            esc(b, str(g, "metric"));
            mf_buf_puts(b, " gap ");
            put_est(b, cJSON_GetObjectItemCaseSensitive(g, "gap"), 3);
            mf_buf_puts(b, " between ");
            esc(b, str(g, "best"));
            mf_buf_puts(b, " (better) and ");
            esc(b, str(g, "worst"));
            mf_buf_puts(b, flagged ? "; the interval excludes zero</li>\n" : "</li>\n");
        }
        mf_buf_puts(b, "</ul>\n");
    }
    int any_oracle = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        any_oracle |= cJSON_GetObjectItemCaseSensitive(pr, "oracle_fraction") != NULL;
    }
    if (any_oracle) {
        mf_buf_puts(b, "<h3>Against the true risk</h3>\n<table><tr><th>predictor</th>"
                       "<th>AUROC / oracle AUROC</th><th>Brier / oracle Brier</th></tr>\n");
        cJSON_ArrayForEach(pr, preds)
        {
            const cJSON *of = cJSON_GetObjectItemCaseSensitive(pr, "oracle_fraction");
            if (of == NULL)
                continue;
            mf_buf_puts(b, "<tr><td>");
            esc(b, str(pr, "name"));
            mf_buf_puts(b, "</td><td>");
            put_est(b, cJSON_GetObjectItemCaseSensitive(of, "auroc"), 3);
            mf_buf_puts(b, "</td><td>");
            put_est(b, cJSON_GetObjectItemCaseSensitive(of, "brier"), 3);
            mf_buf_puts(b, "</td></tr>\n");
        }
        mf_buf_puts(b, "</table>\n");
    }
    const cJSON *ef = cJSON_GetObjectItemCaseSensitive(t, "effects");
    if (cJSON_IsObject(ef)) {
        mf_buf_printf(b,
                      "<h3>What-if agreement</h3>\n<p>%.0f pairs (sample, treatment): Pearson "
                      "correlation of the model's risk differences with the true ones ",
                      num(ef, "pairs"));
        put_est(b, cJSON_GetObjectItemCaseSensitive(ef, "pearson"), 3);
        mf_buf_puts(b, "; signs agree in ");
        put_num(b, 100 * num(ef, "sign_agreement"), 0);
        mf_buf_puts(b, "% of pairs with a true difference.</p>\n<table><tr><th>treatment</th>"
                       "<th>pairs</th><th>true mean difference</th><th>model mean "
                       "difference</th></tr>\n");
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(ef, "per_treatment"))
        {
            mf_buf_puts(b, "<tr><td>");
            esc(b, str(x, "treatment"));
            mf_buf_printf(b, "</td><td>%.0f</td><td>", num(x, "pairs"));
            put_num(b, num(x, "true_mean_difference"), 4);
            mf_buf_puts(b, "</td><td>");
            put_num(b, num(x, "model_mean_difference"), 4);
            mf_buf_puts(b, "</td></tr>\n");
        }
        mf_buf_puts(b, "</table>\n");
    }
    mf_buf_puts(b, "</section>\n");
}

int mf_report_write_html(const cJSON *m, const char *path, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(m, "model");
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(m, "store");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(m, "settings");
    mf_buf_puts(&b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
                    "<title>medfm evaluation report</title>\n<style>\n"
                    "body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:1200px;"
                    "color:#222}\n"
                    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
                    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}\n"
                    "td:first-child,th:first-child{text-align:left}\n"
                    "th{background:#f2f2f2}.ci{color:#666;font-size:12px}\n"
                    ".plots{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}\n"
                    ".flag{color:#a00}.warn{background:#fff4d6;padding:.5em 1em;"
                    "border-left:4px solid #e0a800}\n"
                    "section{page-break-inside:avoid;border-top:2px solid #ddd;margin-top:1.5em}\n"
                    "</style></head><body>\n<h1>medfm evaluation report</h1>\n<p>Model <code>");
    esc(&b, str(model, "dir"));
    mf_buf_puts(&b, "</code> (weights SHA-256 <code>");
    esc(&b, str(model, "sha256"));
    mf_buf_puts(&b, "</code>), evaluated on the <strong>");
    esc(&b, str(m, "split"));
    mf_buf_puts(&b, "</strong> split of a store of ");
    put_num(&b, num(store, "patients"), 0);
    mf_buf_puts(&b, " patients (SHA-256 <code>");
    esc(&b, str(store, "sha256"));
    mf_buf_puts(&b, "</code>), created ");
    esc(&b, str(m, "created"));
    mf_buf_puts(&b, ".</p>\n");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(store, "external")))
        mf_buf_puts(&b, "<p class=warn><strong>External validation:</strong> the model was not "
                        "trained on this store.</p>\n");
    mf_buf_puts(&b, "<p>");
    put_num(&b, num(set, "samples"), 0);
    mf_buf_puts(&b, " sampled futures per zero-shot prediction; 95% intervals from ");
    put_num(&b, num(set, "bootstrap"), 0);
    mf_buf_puts(&b, " bootstrap replicates resampling patients; seed ");
    put_num(&b, num(set, "seed"), 0);
    mf_buf_puts(&b, ". A prediction is positive at a threshold when the risk is at or above it. "
                    "Subgroup gaps are flagged when their interval excludes zero.</p>\n");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tasks"))
    {
        task_html(&b, t);
    }
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(m, "notes");
    if (cJSON_GetArraySize(notes) > 0) {
        mf_buf_puts(&b, "<section><h2>Notes</h2>\n<ul>\n");
        cJSON_ArrayForEach(t, notes)
        {
            mf_buf_puts(&b, "<li>");
            esc(&b, cJSON_GetStringValue(t));
            mf_buf_puts(&b, "</li>\n");
        }
        mf_buf_puts(&b, "</ul></section>\n");
    }
    int rc = mf_buf_puts(&b, "</body></html>\n");
    if (rc)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    else
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}
