/* report.c - checking metrics.json and drawing report.html from it (see report.h).
 *
 * The page is for people who decide whether a model may be used (a hospital's AI governance
 * committee): it states what was evaluated on which data, then per task the cohort, every
 * predictor's metrics with intervals, the curves, the subgroups and their gaps, and explains
 * the metrics in a few lines.  It carries no script and loads nothing, so it reads offline and
 * prints (print CSS keeps plots and table rows whole).  The plots are drawn by svg.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "eval/report.h"
#include "eval/svg.h"

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

/* What a field must be.  The K_OPT_ kinds may also be absent (fields the page and the card
 * show when they are there); K_NUM_OR_NULL and K_OPT_NUM take null for an undefined number. */
enum kind {
    K_STR,
    K_NUM,
    K_NUM_OR_NULL,
    K_BOOL,
    K_OBJ,
    K_ARR,
    K_EST,
    K_OPT_STR,
    K_OPT_STR_OR_NULL,
    K_OPT_NUM,
    K_OPT_BOOL,
    K_OPT_OBJ,
    K_OPT_ARR,
};

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
    if (x == NULL && k >= K_OPT_STR)
        return 0;
    switch (k) {
    case K_STR:
    case K_OPT_STR:
        return cJSON_IsString(x) ? 0 : bad(err, name, p, key, "expected a string");
    case K_OPT_STR_OR_NULL:
        return cJSON_IsString(x) || cJSON_IsNull(x)
                   ? 0
                   : bad(err, name, p, key, "expected a string or null");
    case K_NUM:
        return cJSON_IsNumber(x) ? 0 : bad(err, name, p, key, "expected a number");
    case K_NUM_OR_NULL:
    case K_OPT_NUM:
        return cJSON_IsNumber(x) || cJSON_IsNull(x)
                   ? 0
                   : bad(err, name, p, key, "expected a number or null");
    case K_BOOL:
    case K_OPT_BOOL:
        return cJSON_IsBool(x) ? 0 : bad(err, name, p, key, "expected true or false");
    case K_OBJ:
    case K_OPT_OBJ:
        return cJSON_IsObject(x) ? 0 : bad(err, name, p, key, "expected an object");
    case K_ARR:
    case K_OPT_ARR:
        return cJSON_IsArray(x) ? 0 : bad(err, name, p, key, "expected an array");
    case K_EST:
        return is_est(x) ? 0 : bad(err, name, p, key, "expected an object {value, lo, hi}");
    }
    return 0;
}

/* A field of each key with the same kind. */
static int need_all(const cJSON *o, const char *const *keys, size_t n, enum kind k,
                    const char *name, struct jpath *p, struct mf_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = need(o, keys[i], k, name, p, err);
    return rc;
}

/* Every element of o[key] (an array, when there) a string (is_num 0) or a number. */
static int need_elements(const cJSON *o, const char *key, int is_num, const char *name,
                         struct jpath *p, struct mf_err *err)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, key))
    {
        if (is_num ? !cJSON_IsNumber(x) : !cJSON_IsString(x))
            return bad(err, name, p, key, is_num ? "expected numbers" : "expected strings");
    }
    return 0;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

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
    static const char *const s[] = {"id", "name"};
    int rc = need_all(pr, s, N_OF(s), K_STR, name, p, err);
    if (rc == 0)
        rc = need(pr, "description", K_OPT_STR, name, p, err);
    if (rc == 0)
        rc = need(pr, "n", K_NUM, name, p, err);
    if (rc == 0)
        rc = need(pr, "positives", K_OPT_NUM, name, p, err);
    if (rc == 0)
        rc = need(pr, "metrics", K_OBJ, name, p, err);
    if (rc)
        return rc;
    size_t was = jp_push(p, ".metrics");
    rc = need_all(cJSON_GetObjectItemCaseSensitive(pr, "metrics"), METRIC_KEYS, N_OF(METRIC_KEYS),
                  K_EST, name, p, err);
    jp_pop(p, was);
    if (rc || (rc = need(pr, "thresholds", K_ARR, name, p, err)) != 0)
        return rc;
    const cJSON *t;
    int i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(pr, "thresholds"))
    {
        was = jp_push(p, ".thresholds[%d]", i++);
        rc = need(t, "threshold", K_NUM, name, p, err);
        if (rc == 0)
            rc = need_all(t, THRESHOLD_KEYS, N_OF(THRESHOLD_KEYS), K_EST, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    if ((rc = need(pr, "curves", K_OBJ, name, p, err)) != 0)
        return rc;
    was = jp_push(p, ".curves");
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(pr, "curves");
    for (size_t k = 0; k < N_OF(CURVE_KEYS) && rc == 0; k++) {
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
        static const char *const ks[] = {"attribute", "group"}, *const kn[] = {"n", "positives"},
                                 *const ke[] = {"auroc", "brier", "ece"};
        was = jp_push(p, ".subgroups[%d]", i++);
        rc = need_all(t, ks, N_OF(ks), K_STR, name, p, err);
        if (rc == 0)
            rc = need_all(t, kn, N_OF(kn), K_NUM, name, p, err);
        if (rc == 0)
            rc = need_all(t, ke, N_OF(ke), K_EST, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(pr, "gaps"))
    {
        static const char *const ks[] = {"attribute", "metric", "best", "worst"};
        was = jp_push(p, ".gaps[%d]", i++);
        rc = need_all(t, ks, N_OF(ks), K_STR, name, p, err);
        if (rc == 0)
            rc = need(t, "gap", K_EST, name, p, err);
        if (rc == 0)
            rc = need(t, "flagged", K_BOOL, name, p, err);
        jp_pop(p, was);
        if (rc)
            return rc;
    }
    if ((rc = need(pr, "oracle_fraction", K_OPT_OBJ, name, p, err)) != 0)
        return rc;
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(pr, "oracle_fraction");
    if (of) {
        static const char *const ke[] = {"auroc", "brier"};
        was = jp_push(p, ".oracle_fraction");
        rc = need_all(of, ke, N_OF(ke), K_EST, name, p, err);
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
    static const char *const kn[] = {"treatments", "patients"};
    size_t was = jp_push(p, ".effects");
    int rc = need_all(e, kn, N_OF(kn), K_OPT_NUM, name, p, err);
    if (rc == 0)
        rc = need(e, "pairs", K_NUM, name, p, err);
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
        static const char *const kd[] = {"true_mean_difference", "model_mean_difference"};
        size_t w2 = jp_push(p, ".per_treatment[%d]", i++);
        rc = need(t, "treatment", K_STR, name, p, err);
        if (rc == 0)
            rc = need(t, "pairs", K_OPT_NUM, name, p, err);
        if (rc == 0)
            rc = need_all(t, kd, N_OF(kd), K_NUM_OR_NULL, name, p, err);
        jp_pop(p, w2);
        if (rc)
            break;
    }
    jp_pop(p, was);
    return rc;
}

static int check_task(const cJSON *t, const char *name, struct jpath *p, struct mf_err *err)
{
    int rc = need(t, "task", K_STR, name, p, err);
    if (rc == 0)
        rc = need(t, "horizon_days", K_OPT_NUM, name, p, err);
    if (rc == 0)
        rc = need(t, "cohort", K_OBJ, name, p, err);
    if (rc == 0) {
        static const char *const k[] = {"samples", "patients", "positives"};
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cohort");
        size_t was = jp_push(p, ".cohort");
        rc = need_all(c, k, N_OF(k), K_NUM, name, p, err);
        if (rc == 0)
            rc = need(c, "prevalence", K_OPT_NUM, name, p, err);
        if (rc == 0)
            rc = need(c, "source", K_OPT_STR, name, p, err);
        jp_pop(p, was);
    }
    if (rc == 0)
        rc = need(t, "decision_reference", K_OPT_OBJ, name, p, err);
    if (rc == 0) {
        const cJSON *dr = cJSON_GetObjectItemCaseSensitive(t, "decision_reference");
        size_t was = jp_push(p, ".decision_reference");
        rc = need(dr, "treat_all", K_OPT_ARR, name, p, err);
        if (rc == 0)
            rc = check_points(cJSON_GetObjectItemCaseSensitive(dr, "treat_all"), "treat_all", name,
                              p, err);
        jp_pop(p, was);
    }
    if (rc == 0)
        rc = need(t, "predictors", K_ARR, name, p, err);
    const cJSON *pr;
    int j = 0;
    cJSON_ArrayForEach(pr, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(t, "predictors")))
    {
        size_t w2 = jp_push(p, ".predictors[%d]", j++);
        rc = check_predictor(pr, name, p, err);
        jp_pop(p, w2);
        if (rc)
            return rc;
    }
    if (rc == 0)
        rc = check_effects(cJSON_GetObjectItemCaseSensitive(t, "effects"), name, p, err);
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
    static const char *const objs[] = {"model", "store", "settings"};
    int rc = need_all(m, objs, N_OF(objs), K_OBJ, name, &p, err);
    if (rc == 0)
        rc = need(m, "split", K_STR, name, &p, err);
    if (rc == 0)
        rc = need(m, "created", K_OPT_STR, name, &p, err);
    if (rc == 0)
        rc = need(m, "tasks", K_ARR, name, &p, err);
    if (rc == 0)
        rc = need(m, "notes", K_ARR, name, &p, err);
    if (rc == 0)
        rc = need_elements(m, "notes", 0, name, &p, err);
    if (rc)
        return rc;

    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, "model");
    size_t was = jp_push(&p, "model");
    static const char *const mn[] = {"parameters", "vocab_size", "context"};
    rc = need(o, "sha256", K_STR, name, &p, err);
    if (rc == 0)
        rc = need(o, "dir", K_OPT_STR, name, &p, err);
    if (rc == 0)
        rc = need(o, "store_manifest_sha256", K_OPT_STR_OR_NULL, name, &p, err);
    if (rc == 0)
        rc = need_all(o, mn, N_OF(mn), K_OPT_NUM, name, &p, err);
    jp_pop(&p, was);

    o = cJSON_GetObjectItemCaseSensitive(m, "store");
    was = jp_push(&p, "store");
    static const char *const sn[] = {"patients", "vocabulary_overlap"};
    if (rc == 0)
        rc = need(o, "sha256", K_STR, name, &p, err);
    if (rc == 0)
        rc = need(o, "external", K_BOOL, name, &p, err);
    if (rc == 0)
        rc = need_all(o, sn, N_OF(sn), K_OPT_NUM, name, &p, err);
    if (rc == 0)
        rc = need(o, "sources", K_OPT_ARR, name, &p, err);
    if (rc == 0)
        rc = need_elements(o, "sources", 0, name, &p, err);
    jp_pop(&p, was);

    o = cJSON_GetObjectItemCaseSensitive(m, "settings");
    was = jp_push(&p, "settings");
    static const char *const tn[] = {"samples", "bootstrap", "seed", "per_patient", "ece_bins"};
    if (rc == 0)
        rc = need_all(o, tn, N_OF(tn), K_OPT_NUM, name, &p, err);
    if (rc == 0)
        rc = need(o, "thresholds", K_OPT_ARR, name, &p, err);
    if (rc == 0)
        rc = need_elements(o, "thresholds", 1, name, &p, err);
    if (rc == 0)
        rc = need(o, "truth", K_OPT_BOOL, name, &p, err);
    jp_pop(&p, was);

    const cJSON *t;
    int i = 0;
    cJSON_ArrayForEach(t, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(m, "tasks")))
    {
        was = jp_push(&p, "tasks[%d]", i++);
        rc = check_task(t, name, &p, err);
        jp_pop(&p, was);
        if (rc)
            return rc;
    }
    return rc;
}

/* ---- reading a checked report ------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(get(o, k));
    return s ? s : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *x = get(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* The points of a curve as arrays (x from index 0, y from index 1); *x and *y are freed by the
 * caller.  Returns the count, or (size_t)-1 when out of memory. */
static size_t curve(const cJSON *pts, double **x, double **y)
{
    size_t n = (size_t)cJSON_GetArraySize(pts), k = 0;
    *x = n ? malloc(n * sizeof **x) : NULL;
    *y = n ? malloc(n * sizeof **y) : NULL;
    if (n && (*x == NULL || *y == NULL)) {
        free(*x);
        free(*y);
        *x = *y = NULL;
        return (size_t)-1;
    }
    const cJSON *pt;
    cJSON_ArrayForEach(pt, pts)
    {
        if (k >= n || *x == NULL || *y == NULL)
            break;
        const cJSON *a = cJSON_GetArrayItem(pt, 0), *b = cJSON_GetArrayItem(pt, 1);
        (*x)[k] = cJSON_IsNumber(a) ? a->valuedouble : NAN;
        (*y)[k] = cJSON_IsNumber(b) ? b->valuedouble : NAN;
        k++;
    }
    return k;
}

/* ---- codes ---------------------------------------------------------------------------------- */

const char *mf_report_code_name(const char *code)
{
    static const char *const k[][2] = {
        {"1002-5", "American Indian or Alaska Native"},
        {"2028-9", "Asian"},
        {"2054-5", "Black or African American"},
        {"2076-8", "Native Hawaiian or Other Pacific Islander"},
        {"2106-3", "White"},
        {"2131-1", "Other Race"},
        {"2135-2", "Hispanic or Latino"},
        {"2186-5", "Not Hispanic or Latino"},
    };
    for (size_t i = 0; code && i < N_OF(k); i++)
        if (strcmp(code, k[i][0]) == 0)
            return k[i][1];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void put_num(struct mf_svg_doc *d, double v, int digits)
{
    if (isfinite(v))
        mf_svg_printf(d, "%.*f", digits, v);
    else
        mf_svg_puts(d, "n/a");
}

/* A count ("1,234" would need a locale; plain digits). */
static void put_count(struct mf_svg_doc *d, double v)
{
    put_num(d, v, 0);
}

/* "0.812 (0.771–0.850)"; "(-0.048 to 0.313)" when the low end is negative, where a dash would
 * read as a minus; the interval is left out when undefined. */
static void put_est(struct mf_svg_doc *d, const cJSON *e, int digits)
{
    put_num(d, num(e, "value"), digits);
    double lo = num(e, "lo"), hi = num(e, "hi");
    if (isfinite(lo) && isfinite(hi))
        mf_svg_printf(d, " <span class=\"ci\">(%.*f%s%.*f)</span>", digits, lo,
                      lo < 0 ? " to " : "&ndash;", digits, hi);
}

static void put_pct(struct mf_svg_doc *d, double v, int digits)
{
    if (isfinite(100 * v))
        mf_svg_printf(d, "%.*f%%", digits, 100 * v);
    else
        mf_svg_puts(d, "n/a");
}

static const char *metric_label(const char *key)
{
    static const char *const k[][2] = {{"auroc", "AUROC"},
                                       {"auprc", "AUPRC"},
                                       {"brier", "Brier score"},
                                       {"ece", "ECE"},
                                       {"calibration_slope", "calibration slope"},
                                       {"calibration_intercept", "calibration intercept"}};
    for (size_t i = 0; i < N_OF(k); i++)
        if (strcmp(key, k[i][0]) == 0)
            return k[i][1];
    return NULL;
}

/* A subgroup: a race or ethnicity code with its name ("White (2106-3)"), else as it is. */
static void put_group(struct mf_svg_doc *d, const char *g)
{
    const char *name = mf_report_code_name(g);
    mf_svg_text(d, name ? name : g);
    if (name) {
        mf_svg_puts(d, " <span class=\"desc\">(");
        mf_svg_text(d, g);
        mf_svg_puts(d, ")</span>");
    }
}

/* A predictor's name with its colour (the plots' legend colour) before it. */
static void put_predictor(struct mf_svg_doc *d, const cJSON *pr, int i)
{
    mf_svg_printf(d, "<span class=\"sw\" style=\"background:%s\"></span>", mf_svg_color(i));
    mf_svg_text(d, str(pr, "name"));
}

static const char *const CSS =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;"
    "max-width:1220px;padding:0 1em;color:#1a1a1a}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:0;padding-top:.6em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{border:1px solid #c8c8c8;padding:3px 7px;text-align:right;vertical-align:top}\n"
    "td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}\n"
    "table.facts td,table.facts th{text-align:left}table.facts th{width:11em}\n"
    ".ci{color:#555;font-size:12px;white-space:nowrap}.desc{color:#555;font-size:12px}\n"
    ".sw{display:inline-block;width:.8em;height:.8em;margin-right:.4em;"
    "border:1px solid #0003;vertical-align:baseline}\n"
    ".plots{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}\n"
    ".flag{color:#9b0000}.flag strong{background:#ffe0e0;padding:0 .3em}\n"
    ".banner{padding:.5em 1em;border-left:5px solid #e0a800;background:#fff6da}\n"
    ".banner.internal{border-color:#4a7fb5;background:#eaf2fb}\n"
    ".warn{padding:.4em .8em;border-left:4px solid #c0392b;background:#fdecea}\n"
    "section{border-top:2px solid #ccc;margin-top:1.8em}dl.glossary dt{font-weight:bold}\n"
    "dl.glossary dd{margin:0 0 .4em 1.5em}code{font-size:12px;word-break:break-all}\n"
    "footer{margin-top:2em;color:#555;font-size:12px}\n"
    "@page{margin:14mm}\n"
    "@media print{body{margin:0;max-width:none;font-size:11px}.plots{display:block}"
    "figure{display:inline-block;break-inside:avoid}section{break-before:page}"
    "tr,li{break-inside:avoid}h2,h3,h4{break-after:avoid}"
    ".banner,.warn,.flag strong,.sw,th{-webkit-print-color-adjust:exact;"
    "print-color-adjust:exact}}\n";

static void header(struct mf_svg_doc *d, const cJSON *m)
{
    const cJSON *model = get(m, "model"), *store = get(m, "store"), *set = get(m, "settings");
    const char *split = str(m, "split");
    int external = cJSON_IsTrue(get(store, "external"));
    mf_svg_puts(d, "<h1>medfm evaluation report</h1>\n");
    if (external) {
        mf_svg_puts(d, "<p class=\"banner\"><strong>External validation.</strong> The model was "
                       "not trained on this data (a store other than its training store)");
        double ov = num(store, "vocabulary_overlap");
        if (isfinite(ov)) {
            mf_svg_puts(d, "; ");
            put_pct(d, ov, 1);
            mf_svg_puts(d, " of this data's events have codes the model knows");
        }
        mf_svg_puts(d, ".</p>\n");
    } else if (strcmp(split, "train") == 0 || strcmp(split, "tuning") == 0) {
        mf_svg_puts(d, "<p class=\"warn\"><strong>Not a validation.</strong> Evaluated on the "
                       "patients the model (or the probe and baselines) learned from: the "
                       "figures are optimistic.</p>\n");
    } else {
        mf_svg_puts(d, "<p class=\"banner internal\"><strong>Internal validation.</strong> Data "
                       "from the model's own training store");
        if (strcmp(split, "held_out") == 0)
            mf_svg_puts(d, ": its held-out patients, whom no model in this report was trained "
                           "on");
        mf_svg_puts(d, ".</p>\n");
    }
    mf_svg_puts(d, "<table class=\"facts\">\n<tr><th>Model</th><td><code>");
    mf_svg_text(d, str(model, "dir"));
    mf_svg_puts(d, "</code>, weights SHA-256 <code>");
    mf_svg_text(d, str(model, "sha256"));
    mf_svg_puts(d, "</code>");
    double np = num(model, "parameters"), nv = num(model, "vocab_size");
    if (isfinite(np)) {
        mf_svg_puts(d, "; ");
        put_count(d, np);
        mf_svg_puts(d, " parameters");
    }
    if (isfinite(nv)) {
        mf_svg_puts(d, "; vocabulary of ");
        put_count(d, nv);
        mf_svg_puts(d, " tokens");
    }
    mf_svg_puts(d, "</td></tr>\n<tr><th>Evaluation data</th><td>");
    put_count(d, num(store, "patients"));
    mf_svg_puts(d, " patients");
    const cJSON *x;
    int k = 0;
    cJSON_ArrayForEach(x, get(store, "sources"))
    {
        mf_svg_puts(d, k++ ? ", " : " from ");
        mf_svg_text(d, cJSON_GetStringValue(x));
    }
    mf_svg_puts(d, "; <strong>");
    mf_svg_text(d, split);
    mf_svg_puts(d, "</strong> split; store SHA-256 <code>");
    mf_svg_text(d, str(store, "sha256"));
    mf_svg_puts(d, "</code></td></tr>\n<tr><th>Training store</th><td>");
    const char *ts = cJSON_GetStringValue(get(model, "store_manifest_sha256"));
    if (ts) {
        mf_svg_puts(d, "SHA-256 <code>");
        mf_svg_text(d, ts);
        mf_svg_puts(d, "</code>");
    } else {
        mf_svg_puts(d, "not recorded");
    }
    mf_svg_puts(d, "</td></tr>\n<tr><th>Settings</th><td>");
    put_count(d, num(set, "samples"));
    mf_svg_puts(d, " sampled futures per zero-shot prediction; ");
    double pp = num(set, "per_patient");
    if (isfinite(pp) && pp > 0) {
        mf_svg_puts(d, "at most ");
        put_count(d, pp);
        mf_svg_puts(d, " prediction time(s) per patient; ");
    } else if (isfinite(pp)) {
        mf_svg_puts(d, "every prediction time of every patient; ");
    }
    mf_svg_puts(d, "95% intervals from ");
    put_count(d, num(set, "bootstrap"));
    mf_svg_puts(d, " bootstrap replicates resampling patients; seed ");
    put_count(d, num(set, "seed"));
    if (cJSON_GetArraySize(get(set, "thresholds")) > 0) {
        mf_svg_puts(d, "; decision thresholds");
        k = 0;
        cJSON_ArrayForEach(x, get(set, "thresholds"))
        {
            mf_svg_puts(d, k++ ? ", " : " ");
            put_num(d, x->valuedouble, 3);
        }
    }
    if (isfinite(num(set, "ece_bins"))) {
        mf_svg_puts(d, "; ");
        put_count(d, num(set, "ece_bins"));
        mf_svg_puts(d, " calibration bins");
    }
    if (cJSON_IsBool(get(set, "truth")))
        mf_svg_puts(d, cJSON_IsTrue(get(set, "truth"))
                           ? "; a synthetic cohort's true risks are known (the oracle)"
                           : "; no true risks given");
    mf_svg_puts(d, "</td></tr>\n<tr><th>Created</th><td>");
    mf_svg_text(d, str(m, "created"));
    mf_svg_puts(d, "</td></tr>\n<tr><th>Tasks</th><td>");
    k = 0;
    cJSON_ArrayForEach(x, get(m, "tasks"))
    {
        mf_svg_printf(d, "%s<a href=\"#task-%d\">", k ? ", " : "", k);
        mf_svg_text(d, str(x, "task"));
        mf_svg_puts(d, "</a>");
        k++;
    }
    if (k == 0)
        mf_svg_puts(d, "none (see the notes)");
    mf_svg_puts(d, "</td></tr>\n</table>\n");
}

static void glossary(struct mf_svg_doc *d)
{
    mf_svg_puts(
        d, "<details open><summary><strong>How to read this report</strong></summary>\n"
           "<dl class=\"glossary\">\n"
           "<dt>Intervals</dt><dd>Every figure is followed by its 95% interval from the patient "
           "bootstrap. Wide intervals (few patients or few positive cases) mean the figure is "
           "uncertain; differences whose intervals overlap widely may be chance. n/a: not "
           "defined (e.g. a group with one class only).</dd>\n"
           "<dt>AUROC (discrimination)</dt><dd>The chance that a patient with the outcome gets a "
           "higher risk than one without: 0.5 is a coin toss, 1 is perfect ranking. It says "
           "nothing about whether the risks are right in size.</dd>\n"
           "<dt>AUPRC</dt><dd>Average precision: how well the highest risks pick out the "
           "patients with the outcome. Compare it with the prevalence, which a useless model "
           "scores.</dd>\n"
           "<dt>Brier score, ECE (calibration)</dt><dd>Brier: mean squared difference between "
           "the risk and the outcome (0 is perfect; lower is better; compare predictors on the "
           "same task). ECE: the average gap between predicted and observed risk across risk "
           "bins (0 is perfect).</dd>\n"
           "<dt>Calibration slope and intercept</dt><dd>From a logistic fit of the outcome on "
           "the logit of the risk: slope 1 and intercept 0 are ideal. A slope below 1 means "
           "the risks are too extreme, above 1 too timid; mean risk against the prevalence "
           "shows over- or under-estimation overall.</dd>\n"
           "<dt>Thresholds, net benefit</dt><dd>A patient counts as flagged when the risk is at "
           "or above the threshold. Net benefit weighs true positives against false positives "
           "at the odds of the threshold; a model is useful at a threshold where its net "
           "benefit exceeds both treating everyone and treating no one (0).</dd>\n"
           "<dt>Subgroups and gaps</dt><dd>Metrics by sex, age band, race and ethnicity where "
           "recorded. The largest gap per attribute is <strong>FLAGGED</strong> when its 95% "
           "interval excludes zero.</dd>\n"
           "<dt>Baselines and the oracle</dt><dd>Logistic regression and XGBoost on code "
           "counts, age and sex show what a simple model achieves on the same data. With a "
           "synthetic cohort the oracle is the true risk: the best any model can do.</dd>\n"
           "</dl></details>\n");
}

/* The four plots of a task, every predictor in its own colour. */
static int plots(struct mf_svg_doc *d, const cJSON *t, const cJSON *set, int *plot_id)
{
    const cJSON *preds = get(t, "predictors"), *pr;
    size_t np = (size_t)cJSON_GetArraySize(preds), i;
    double prev = num(get(t, "cohort"), "prevalence");
    struct mf_svg_series *s = calloc(np + 2, sizeof *s);
    double **xs = calloc(np + 1, sizeof *xs), **ys = calloc(np + 1, sizeof *ys);
    int rc = s && xs && ys ? 0 : MF_ENOMEM;
    char cal_title[64], prev_name[64];
    int bins = (int)fmin(fmax(num(set, "ece_bins"), 0), 1000);
    snprintf(cal_title, sizeof cal_title, bins > 0 ? "Calibration (%d bins)" : "Calibration", bins);
    snprintf(prev_name, sizeof prev_name, "prevalence %.1f%% (no skill)", 100 * prev);
    struct spec {
        const char *key, *title, *xlabel, *ylabel;
    } const specs[4] = {
        {"roc", "ROC curve", "1 - specificity (false positive rate)", "sensitivity"},
        {"pr", "Precision-recall", "recall (sensitivity)", "precision (PPV)"},
        {"calibration", cal_title, "mean predicted risk", "observed fraction with outcome"},
        {"decision", "Decision curve", "threshold probability", "net benefit"},
    };
    for (int c = 0; c < 4 && rc == 0; c++) {
        size_t ns = 0;
        i = 0;
        double top = 0; /* calibration: the largest coordinate; decision: the largest benefit */
        cJSON_ArrayForEach(pr, preds)
        {
            size_t n = curve(get(get(pr, "curves"), specs[c].key), &xs[i], &ys[i]);
            if (n == (size_t)-1) {
                rc = MF_ENOMEM;
                break;
            }
            for (size_t k = 0; k < n; k++) {
                if (c == 2 && isfinite(xs[i][k]) && isfinite(ys[i][k]))
                    top = fmax(top, fmax(xs[i][k], ys[i][k]));
                if (c == 3 && isfinite(ys[i][k]) && xs[i][k] <= 0.5)
                    top = fmax(top, ys[i][k]);
            }
            struct mf_svg_series se = {
                str(pr, "name"), xs[i], ys[i], n, c == 2 ? MF_SVG_MARKERS : MF_SVG_LINE, (int)i, 0};
            s[ns++] = se;
            i++;
        }
        struct mf_svg_plot p = {specs[c].title, specs[c].xlabel, specs[c].ylabel, 0, 1, 0, 1,
                                (*plot_id)++};
        if (c == 0) {
            struct mf_svg_series r = {"chance", NULL, NULL, 0, MF_SVG_DIAGONAL, 0, 0};
            s[ns++] = r;
        } else if (c == 1 && isfinite(100 * prev)) {
            struct mf_svg_series r = {prev_name, NULL, NULL, 0, MF_SVG_HLINE, 0, prev};
            s[ns++] = r;
        } else if (c == 2) {
            /* zoom in on where the risks are: small risks would crowd a corner */
            static const double stops[] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1};
            double r = 1;
            for (size_t k = 0; k < N_OF(stops); k++)
                if (stops[k] >= top * 1.05) {
                    r = stops[k];
                    break;
                }
            p.x1 = p.y1 = r;
            struct mf_svg_series ref = {
                "ideal (predicted = observed)", NULL, NULL, 0, MF_SVG_DIAGONAL, 0, 0};
            s[ns++] = ref;
        } else if (c == 3) {
            size_t n = curve(get(get(t, "decision_reference"), "treat_all"), &xs[np], &ys[np]);
            if (n == (size_t)-1) {
                rc = MF_ENOMEM;
            } else if (n > 0) {
                struct mf_svg_series r = {"treat all", xs[np], ys[np], n, MF_SVG_REF_DASHED, 0, 0};
                s[ns++] = r;
            }
            struct mf_svg_series z = {"treat none", NULL, NULL, 0, MF_SVG_HLINE, 0, 0};
            s[ns++] = z;
            /* net benefit is at most the prevalence; thresholds beyond half are rarely used
             * unless the outcome is common */
            double hi = fmax(isfinite(prev) ? prev : 0, top);
            hi = hi > 0 ? fmin(hi, 1) * 1.1 : 0.1;
            p.y0 = -hi / 4;
            p.y1 = hi;
            p.x1 = isfinite(prev) && prev > 0.25 ? 1 : 0.5;
        }
        if (rc == 0)
            mf_svg_line_plot(d, &p, s, ns);
        for (size_t k = 0; k <= np; k++) {
            free(xs[k]);
            free(ys[k]);
            xs[k] = ys[k] = NULL;
        }
    }
    free(s);
    free(xs);
    free(ys);
    return rc;
}

static void metrics_table(struct mf_svg_doc *d, const cJSON *preds)
{
    static const struct {
        const char *key, *label;
        int digits;
    } cols[] = {{"auroc", "AUROC", 3},
                {"auprc", "AUPRC", 3},
                {"brier", "Brier", 4},
                {"ece", "ECE", 4},
                {"calibration_slope", "cal. slope", 2},
                {"calibration_intercept", "cal. intercept", 2},
                {"mean_risk", "mean risk", 4}};
    mf_svg_puts(d, "<table><tr><th>predictor</th><th>scored</th>");
    for (size_t k = 0; k < N_OF(cols); k++)
        mf_svg_printf(d, "<th>%s</th>", cols[k].label);
    mf_svg_puts(d, "</tr>\n");
    const cJSON *pr;
    int i = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        mf_svg_puts(d, "<tr><td>");
        put_predictor(d, pr, i++);
        if (str(pr, "description")[0]) {
            mf_svg_puts(d, "<br><span class=\"desc\">");
            mf_svg_text(d, str(pr, "description"));
            mf_svg_puts(d, "</span>");
        }
        mf_svg_puts(d, "</td><td>");
        put_count(d, num(pr, "n"));
        const cJSON *m = get(pr, "metrics");
        for (size_t k = 0; k < N_OF(cols); k++) {
            mf_svg_puts(d, "</td><td>");
            put_est(d, get(m, cols[k].key), cols[k].digits);
        }
        mf_svg_puts(d, "</td></tr>\n");
    }
    mf_svg_puts(d, "</table>\n");
}

static void thresholds_table(struct mf_svg_doc *d, const cJSON *preds)
{
    const cJSON *pr, *th;
    int any = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        any |= cJSON_GetArraySize(get(pr, "thresholds")) > 0;
    }
    if (!any)
        return;
    mf_svg_puts(d, "<h3>At decision thresholds</h3>\n<p>A risk at or above the threshold "
                   "counts as positive.</p>\n<table><tr><th>predictor</th><th>threshold</th>"
                   "<th>sensitivity</th><th>specificity</th><th>PPV</th><th>net benefit</th>"
                   "</tr>\n");
    int i = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        cJSON_ArrayForEach(th, get(pr, "thresholds"))
        {
            mf_svg_puts(d, "<tr><td>");
            put_predictor(d, pr, i);
            mf_svg_puts(d, "</td><td>");
            put_num(d, num(th, "threshold"), 3);
            for (size_t k = 0; k < N_OF(THRESHOLD_KEYS); k++) {
                mf_svg_puts(d, "</td><td>");
                put_est(d, get(th, THRESHOLD_KEYS[k]), 3);
            }
            mf_svg_puts(d, "</td></tr>\n");
        }
        i++;
    }
    mf_svg_puts(d, "</table>\n");
}

static void subgroups(struct mf_svg_doc *d, const cJSON *preds)
{
    const cJSON *pr, *g;
    int i = 0, any = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        any |=
            cJSON_GetArraySize(get(pr, "subgroups")) > 0 || cJSON_GetArraySize(get(pr, "gaps")) > 0;
    }
    mf_svg_puts(d, "<h3>Subgroups</h3>\n");
    if (!any)
        mf_svg_puts(d, "<p>No subgroup results (no sex, age, race or ethnicity recorded, or "
                       "too few samples).</p>\n");
    cJSON_ArrayForEach(pr, preds)
    {
        const cJSON *sg = get(pr, "subgroups"), *gaps = get(pr, "gaps");
        int idx = i++;
        if (cJSON_GetArraySize(sg) == 0 && cJSON_GetArraySize(gaps) == 0)
            continue;
        mf_svg_puts(d, "<h4>");
        put_predictor(d, pr, idx);
        mf_svg_puts(d, "</h4>\n");
        int few = 0;
        if (cJSON_GetArraySize(sg) > 0) {
            mf_svg_puts(d, "<table><tr><th>attribute</th><th>group</th><th>n</th>"
                           "<th>positives</th><th>AUROC</th><th>Brier</th><th>ECE</th></tr>\n");
            cJSON_ArrayForEach(g, sg)
            {
                double pos = num(g, "positives");
                mf_svg_puts(d, "<tr><td>");
                mf_svg_text(d, str(g, "attribute"));
                mf_svg_puts(d, "</td><td>");
                put_group(d, str(g, "group"));
                mf_svg_puts(d, "</td><td>");
                put_count(d, num(g, "n"));
                mf_svg_puts(d, "</td><td>");
                put_count(d, pos);
                if (isfinite(pos) && pos < 10) {
                    mf_svg_puts(d, "&nbsp;*");
                    few = 1;
                }
                mf_svg_puts(d, "</td><td>");
                put_est(d, get(g, "auroc"), 3);
                mf_svg_puts(d, "</td><td>");
                put_est(d, get(g, "brier"), 4);
                mf_svg_puts(d, "</td><td>");
                put_est(d, get(g, "ece"), 4);
                mf_svg_puts(d, "</td></tr>\n");
            }
            mf_svg_puts(d, "</table>\n");
        }
        if (few)
            mf_svg_puts(d, "<p class=\"desc\">* fewer than 10 positive cases: this group's "
                           "figures are very uncertain.</p>\n");
        if (cJSON_GetArraySize(gaps) == 0)
            continue;
        mf_svg_puts(d, "<ul>\n");
        cJSON_ArrayForEach(g, gaps)
        {
            int flagged = cJSON_IsTrue(get(g, "flagged"));
            const char *ml = metric_label(str(g, "metric"));
            mf_svg_puts(d, flagged ? "<li class=\"flag\"><strong>FLAGGED</strong> " : "<li>");
            mf_svg_text(d, str(g, "attribute"));
            mf_svg_puts(d, ": the largest ");
            if (ml)
                mf_svg_puts(d, ml);
            else
                mf_svg_text(d, str(g, "metric"));
            mf_svg_puts(d, " gap, ");
            put_est(d, get(g, "gap"), 3);
            mf_svg_puts(d, ", between ");
            put_group(d, str(g, "best"));
            mf_svg_puts(d, " (better) and ");
            put_group(d, str(g, "worst"));
            mf_svg_puts(d, flagged ? " (worse); the interval excludes zero.</li>\n"
                                   : ": the interval includes zero (no clear difference).</li>\n");
        }
        mf_svg_puts(d, "</ul>\n");
    }
}

static void oracle_and_effects(struct mf_svg_doc *d, const cJSON *t)
{
    const cJSON *preds = get(t, "predictors"), *pr;
    int any = 0, i = 0;
    cJSON_ArrayForEach(pr, preds)
    {
        any |= get(pr, "oracle_fraction") != NULL;
    }
    if (any) {
        mf_svg_puts(d, "<h3>Against the true risk</h3>\n<p>Each predictor beside the oracle "
                       "(the synthetic cohort's true risk) on the same samples: AUROC as a "
                       "fraction of the oracle's (1 = as good), Brier score relative to the "
                       "oracle's (1 = as good, higher is worse).</p>\n<table><tr><th>predictor"
                       "</th><th>AUROC / oracle AUROC</th><th>Brier / oracle Brier</th></tr>\n");
        cJSON_ArrayForEach(pr, preds)
        {
            const cJSON *of = get(pr, "oracle_fraction");
            int idx = i++;
            if (of == NULL)
                continue;
            mf_svg_puts(d, "<tr><td>");
            put_predictor(d, pr, idx);
            mf_svg_puts(d, "</td><td>");
            put_est(d, get(of, "auroc"), 3);
            mf_svg_puts(d, "</td><td>");
            put_est(d, get(of, "brier"), 3);
            mf_svg_puts(d, "</td></tr>\n");
        }
        mf_svg_puts(d, "</table>\n");
    }
    const cJSON *ef = get(t, "effects");
    if (!cJSON_IsObject(ef))
        return;
    mf_svg_puts(d, "<h3>What-if agreement</h3>\n<p>");
    put_count(d, num(ef, "pairs"));
    mf_svg_puts(d, " pairs (a patient's prediction time and a treatment");
    if (isfinite(num(ef, "treatments")) && isfinite(num(ef, "patients"))) {
        mf_svg_puts(d, "; ");
        put_count(d, num(ef, "treatments"));
        mf_svg_puts(d, " treatments, ");
        put_count(d, num(ef, "patients"));
        mf_svg_puts(d, " patients");
    }
    mf_svg_puts(d, "): Pearson correlation of the model's risk differences (with minus "
                   "without the treatment) with the true ones ");
    put_est(d, get(ef, "pearson"), 3);
    mf_svg_puts(d, "; the signs agree in ");
    put_pct(d, num(ef, "sign_agreement"), 0);
    mf_svg_puts(d, " of the pairs with a true difference. These are associations the model "
                   "learned from records, not causal effects.</p>\n<table><tr><th>treatment</th>"
                   "<th>pairs</th><th>true mean difference</th><th>model mean difference</th>"
                   "</tr>\n");
    const cJSON *x;
    cJSON_ArrayForEach(x, get(ef, "per_treatment"))
    {
        mf_svg_puts(d, "<tr><td>");
        mf_svg_text(d, str(x, "treatment"));
        mf_svg_puts(d, "</td><td>");
        put_count(d, num(x, "pairs"));
        mf_svg_puts(d, "</td><td>");
        put_num(d, num(x, "true_mean_difference"), 4);
        mf_svg_puts(d, "</td><td>");
        put_num(d, num(x, "model_mean_difference"), 4);
        mf_svg_puts(d, "</td></tr>\n");
    }
    mf_svg_puts(d, "</table>\n");
}

static int task_html(struct mf_svg_doc *d, const cJSON *t, const cJSON *set, int index,
                     int *plot_id)
{
    const cJSON *preds = get(t, "predictors"), *coh = get(t, "cohort");
    mf_svg_printf(d, "<section id=\"task-%d\"><h2>", index);
    mf_svg_text(d, str(t, "task"));
    mf_svg_puts(d, "</h2>\n<p>");
    double hd = num(t, "horizon_days");
    if (isfinite(hd)) {
        mf_svg_puts(d, "Outcome within ");
        put_count(d, hd);
        mf_svg_puts(d, " days. ");
    }
    double n = num(coh, "samples"), pos = num(coh, "positives");
    mf_svg_puts(d, "Cohort: ");
    put_count(d, n);
    mf_svg_puts(d, " prediction times of ");
    put_count(d, num(coh, "patients"));
    mf_svg_puts(d, " patients, ");
    put_count(d, pos);
    mf_svg_puts(d, " with the outcome (prevalence ");
    put_pct(d, num(coh, "prevalence"), 1);
    mf_svg_puts(d, "); prediction times from ");
    const char *src = str(coh, "source");
    if (strcmp(src, "truth") == 0)
        mf_svg_puts(d, "the synthetic cohort's index dates (true risks known)");
    else if (strcmp(src, "task") == 0 || src[0] == 0)
        mf_svg_puts(d, "the task's triggers");
    else
        mf_svg_text(d, src);
    mf_svg_puts(d, ".</p>\n");
    if (isfinite(pos) && isfinite(n) && (pos < 10 || n - pos < 10))
        mf_svg_puts(d, "<p class=\"warn\">Fewer than 10 samples with (or without) the outcome: "
                       "every figure below is very uncertain.</p>\n");
    if (cJSON_GetArraySize(preds) == 0) {
        mf_svg_puts(d, "<p>No predictor was scored on this task.</p>\n</section>\n");
        return 0;
    }
    mf_svg_puts(d, "<h3>Performance</h3>\n");
    metrics_table(d, preds);
    thresholds_table(d, preds);
    mf_svg_puts(d, "<h3>Curves</h3>\n<div class=\"plots\">\n");
    int rc = plots(d, t, set, plot_id);
    mf_svg_puts(d, "</div>\n");
    subgroups(d, preds);
    oracle_and_effects(d, t);
    mf_svg_puts(d, "</section>\n");
    return rc;
}

int mf_report_write_html(const cJSON *m, const char *path, struct mf_err *err)
{
    struct mf_svg_doc d = MF_SVG_DOC_INIT;
    mf_svg_puts(&d, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>medfm evaluation report: ");
    mf_svg_text(&d, str(get(m, "model"), "dir"));
    mf_svg_puts(&d, "</title>\n<style>\n");
    mf_svg_puts(&d, CSS);
    mf_svg_puts(&d, "</style></head><body>\n<header>\n");
    header(&d, m);
    glossary(&d);
    mf_svg_puts(&d, "</header>\n");
    const cJSON *t, *notes = get(m, "notes");
    int i = 0, plot_id = 0, rc = 0;
    cJSON_ArrayForEach(t, get(m, "tasks"))
    {
        if (rc == 0)
            rc = task_html(&d, t, get(m, "settings"), i++, &plot_id);
    }
    if (cJSON_GetArraySize(notes) > 0) {
        mf_svg_puts(&d, "<section><h2>Notes</h2>\n<ul>\n");
        cJSON_ArrayForEach(t, notes)
        {
            mf_svg_puts(&d, "<li>");
            mf_svg_text(&d, cJSON_GetStringValue(t));
            mf_svg_puts(&d, "</li>\n");
        }
        mf_svg_puts(&d, "</ul></section>\n");
    }
    mf_svg_puts(&d, "<footer>Written by medfm from metrics.json. Figures describe the data "
                    "above; they need checking on each site's own patients before use.</footer>\n"
                    "</body></html>\n");
    rc = rc ? rc : d.rc;
    if (rc)
        rc = mf_err_set(err, rc, "%s: cannot build the page: %s", path, mf_strerror(rc));
    else
        rc = mf_fs_write_file_atomic(path, d.b.data, d.b.len, err);
    mf_buf_release(&d.b);
    return rc;
}
