/* test_report.c - metrics.json checking, report.html (escaping, plots, thinning, nulls), the
 * SVG helpers, and the model card (every required field in both files, "not available" for
 * what is unknown, demographic inputs from the vocabulary, reports of other weights refused,
 * no partial output, no folder that is not a card replaced). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "eval/eval.h"
#include "eval/report.h"
#include "eval/svg.h"

#include "testutil.h"

static const char *HOSTILE = "<script>alert(1)</script> & \"quoted\" 'x' <img src=x onerror=y>";
static const char *HOSTILE_ESCAPED =
    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; "
    "&#39;x&#39; &lt;img src=x onerror=y&gt;";
#define N_ROC 5000 /* points of the long ROC curve the page must thin */

/* A report of two tasks of three predictors each, made by mf_eval_task itself (so that the
 * schema is the one eval writes), with hostile names everywhere a string goes, a ROC curve of
 * N_ROC points, a what-if section and nulls. */
static cJSON *make_report(void)
{
    enum { N = 200 };
    static int y[N], grp[N];
    static uint32_t cl[N];
    static double p1[N], p2[N], p3[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 5 == 0;
        cl[i] = (uint32_t)i;
        grp[i] = i % 3 == 0 ? -1 : i % 2;
        p1[i] = y[i] ? 0.3 + 0.001 * i : 0.01 * (i % 50);
        p2[i] = 0.25;
        p3[i] = (i % 7) / 7.0;
    }
    const char *names[2] = {HOSTILE, "2106-3"};
    struct mf_eval_attr at = {HOSTILE, names, 2, grp};
    struct mf_eval_pred preds[3] = {{"medfm_zero_shot", HOSTILE, HOSTILE, p1},
                                    {"logreg", "logistic regression", "d", p2},
                                    {"oracle", "oracle", "d", p3}};
    double th[2] = {0.1, 0.2};
    struct mf_eval_opts o = {th, 2, 20, 1, 5};
    struct mf_err err = {0};
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "medfm-eval");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "created", HOSTILE);
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(m, "dir", HOSTILE);
    cJSON_AddStringToObject(m, "sha256", "00ff");
    cJSON_AddNullToObject(m, "store_manifest_sha256");
    cJSON *s = cJSON_AddObjectToObject(root, "store");
    cJSON_AddStringToObject(s, "sha256", HOSTILE);
    cJSON_AddNumberToObject(s, "patients", N);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(s, "sources"), cJSON_CreateString(HOSTILE));
    cJSON_AddBoolToObject(s, "external", 1);
    cJSON_AddNullToObject(s, "vocabulary_overlap");
    cJSON_AddStringToObject(root, "split", HOSTILE);
    cJSON *st = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(st, "samples", 20);
    cJSON_AddNumberToObject(st, "bootstrap", 20);
    cJSON_AddNumberToObject(st, "ece_bins", 10);
    cJSON *ta = cJSON_AddArrayToObject(st, "thresholds");
    cJSON_AddItemToArray(ta, cJSON_CreateNumber(0.1));
    cJSON_AddItemToArray(ta, cJSON_CreateNumber(0.2));
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (int k = 0; k < 2; k++) {
        cJSON *t = mf_eval_task(y, cl, N, N, &at, 1, preds, 3, 2, &o, &err);
        assert_non_null(t);
        cJSON_AddStringToObject(t, "task", k ? "second" : HOSTILE);
        if (k)
            cJSON_AddNullToObject(t, "horizon_days");
        else
            cJSON_AddNumberToObject(t, "horizon_days", 365);
        cJSON *coh = cJSON_GetObjectItemCaseSensitive(t, "cohort");
        cJSON_AddStringToObject(coh, "source", k ? HOSTILE : "truth");
        cJSON_AddItemToArray(tasks, t);
        if (k == 0) {
            cJSON_AddNullToObject(t, "effects");
            continue;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(coh, "prevalence", cJSON_CreateNull());
        /* what-if agreement with a hostile treatment and undefined numbers */
        cJSON *e = cJSON_AddObjectToObject(t, "effects");
        cJSON_AddNumberToObject(e, "treatments", 1);
        cJSON_AddNumberToObject(e, "patients", 3);
        cJSON_AddNumberToObject(e, "pairs", 3);
        cJSON_AddItemToObject(e, "pearson", mf_eval_estimate(NAN, NAN, NAN));
        cJSON_AddNullToObject(e, "sign_agreement");
        cJSON *pt = cJSON_CreateObject();
        cJSON_AddStringToObject(pt, "treatment", HOSTILE);
        cJSON_AddNumberToObject(pt, "pairs", 3);
        cJSON_AddNullToObject(pt, "true_mean_difference");
        cJSON_AddNumberToObject(pt, "model_mean_difference", 0.01);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "per_treatment"), pt);
        /* a long ROC curve for the first predictor */
        cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "predictors"), 0);
        cJSON *roc = cJSON_CreateArray();
        for (int i = 0; i <= N_ROC; i++) {
            double f = (double)i / N_ROC;
            cJSON *q = cJSON_CreateArray();
            cJSON_AddItemToArray(q, cJSON_CreateNumber(f));
            cJSON_AddItemToArray(q, cJSON_CreateNumber(sqrt(f)));
            cJSON_AddItemToArray(roc, q);
        }
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(p0, "curves"),
                                               "roc", roc);
    }
    assert_int_equal(cJSON_GetArraySize(tasks), 2);
    cJSON *notes = cJSON_AddArrayToObject(root, "notes");
    cJSON_AddItemToArray(notes, cJSON_CreateString(HOSTILE));
    return root;
}

static char *render(const cJSON *r)
{
    char path[512];
    snprintf(path, sizeof path, "%s/report.html", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_report_write_html(r, path, &err), 0);
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 64 << 20, &b, &err), 0);
    mf_buf_putc(&b, 0);
    return b.data;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Whether w occurs as a word of its own (as printf writes NaN: "nan", "-nan", "inf"). */
static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        int before = p > s && ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
        int after = (p[n] | 32) >= 'a' && (p[n] | 32) <= 'z';
        if (!before && !after)
            return 1;
    }
    return 0;
}

/* Every attribute in every tag of the plots is quoted, so that each <svg> is well-formed XML;
 * every polyline has at most MF_SVG_MAX_POINTS points. */
static void check_svg(const char *html)
{
    for (const char *s = strstr(html, "<svg"); s; s = strstr(s + 1, "<svg")) {
        const char *end = strstr(s, "</svg>");
        assert_non_null(end);
        for (const char *p = s; p < end; p++) {
            if (*p != '<')
                continue;
            int quoted = 0;
            for (p++; p < end && *p != '>'; p++) {
                if (*p == '"')
                    quoted = !quoted;
                else if (*p == '=' && !quoted && p[1] != '"')
                    fail_msg("unquoted attribute at '%.40s'", p - 10);
            }
        }
        for (const char *p = strstr(s, "points=\""); p && p < end; p = strstr(p + 1, "points=\"")) {
            size_t pts = 1;
            for (const char *q = p + 8; *q != '"'; q++)
                pts += *q == ' ';
            assert_true(pts <= MF_SVG_MAX_POINTS);
        }
    }
}

/* No tag carries an event handler (on...=) or a style that loads anything (url(). */
static void check_tags(const char *html)
{
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        for (const char *q = p; q < end; q++) {
            if (q[0] == ' ' && (q[1] == 'o' || q[1] == 'O') && (q[2] == 'n' || q[2] == 'N'))
                fail_msg("an event handler in '%.60s'", p);
            if (strncmp(q, "url(", 4) == 0 && strncmp(q, "url(#c", 6) != 0)
                fail_msg("a url in '%.60s'", p);
        }
    }
}

static void report_renders_every_plot_and_escapes_input(void **state)
{
    (void)state;
    cJSON *r = make_report();
    struct mf_err err = {0};
    assert_int_equal(mf_report_check(r, "metrics.json", &err), 0);
    char *html = render(r);
    assert_int_equal(count(html, "<svg"), 8); /* 4 plots x 2 tasks */
    assert_int_equal(count(html, "</svg>"), 8);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_true(count(html, HOSTILE_ESCAPED) >= 10);
    assert_non_null(strstr(html, "External validation"));
    assert_non_null(strstr(html, "Against the true risk"));
    assert_non_null(strstr(html, "What-if agreement"));
    assert_non_null(strstr(html, "White")); /* the race code, named */
    assert_non_null(strstr(html, "<polyline"));
    assert_non_null(strstr(html, "treat all"));
    assert_non_null(strstr(html, "treat none"));
    assert_non_null(strstr(html, "prevalence"));
    assert_non_null(strstr(html, "chance"));
    assert_false(has_word(html, "nan"));
    assert_false(has_word(html, "inf"));
    assert_non_null(strstr(html, "n/a")); /* the null Pearson, prevalence, sign agreement */
    check_svg(html);
    /* the page stays small although one curve has 5,000 points */
    assert_true(strlen(html) < 200000);
    /* nothing fetched, nothing run */
    assert_null(strstr(html, "<link"));
    check_tags(html);
    free(html);

    /* a null estimate renders as n/a */
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "tasks"), 0);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t0, "predictors"), 0);
    cJSON *auc =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p0, "metrics"), "auroc");
    cJSON_ReplaceItemInObjectCaseSensitive(auc, "value", cJSON_CreateNull());
    cJSON_ReplaceItemInObjectCaseSensitive(auc, "lo", cJSON_CreateNull());
    assert_int_equal(mf_report_check(r, "metrics.json", &err), 0);
    html = render(r);
    assert_non_null(strstr(html, "<td>n/a</td>"));
    free(html);
    cJSON_Delete(r);
}

/* The http: check above: xmlns is the one allowed URL. */
static void report_has_no_url_but_the_svg_namespace(void **state)
{
    (void)state;
    cJSON *r = make_report();
    char *html = render(r);
    size_t urls = count(html, "://");
    assert_int_equal(urls, count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
    free(html);
    cJSON_Delete(r);
}

static void check_names_the_path_of_a_bad_field(void **state)
{
    (void)state;
    static const struct {
        const char *path, *field; /* the object (dotted; numbers index arrays), the field */
        const char *msg;
    } cases[] = {
        {"", "format", "metrics.json: format: expected \"medfm-eval\""},
        {"", "version", "metrics.json: version: expected 1"},
        {"", "notes", "metrics.json: notes: expected an array"},
        {"model", "sha256", "metrics.json: model.sha256: expected a string"},
        {"store", "external", "metrics.json: store.external: expected true or false"},
        {"store", "patients", "metrics.json: store.patients: expected a number or null"},
        {"settings", "thresholds", "metrics.json: settings.thresholds: expected an array"},
        {"tasks.0", "horizon_days", "metrics.json: tasks[0].horizon_days: expected a number"},
        {"tasks.0.predictors.1.metrics", "auroc",
         "metrics.json: tasks[0].predictors[1].metrics.auroc: expected an object {value, lo, hi}"},
        {"tasks.1.predictors.0.curves", "roc", "metrics.json: tasks[1].predictors[0].curves.roc"},
        {"tasks.0.predictors.0.gaps.0", "flagged",
         "metrics.json: tasks[0].predictors[0].gaps[0].flagged: expected true or false"},
        {"tasks.1.predictors.2.subgroups.0", "n",
         "metrics.json: tasks[1].predictors[2].subgroups[0].n: expected a number"},
        {"tasks.0.cohort", "positives", "metrics.json: tasks[0].cohort.positives"},
        {"tasks.0.cohort", "prevalence", "metrics.json: tasks[0].cohort.prevalence"},
        {"tasks.1.effects", "pearson",
         "metrics.json: tasks[1].effects.pearson: expected an object"},
        {"tasks.1.effects.per_treatment.0", "true_mean_difference",
         "metrics.json: tasks[1].effects.per_treatment[0].true_mean_difference"},
        {"tasks.0.decision_reference", "treat_all",
         "metrics.json: tasks[0].decision_reference.treat_all"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cJSON *r = make_report();
        cJSON *o = r;
        const char *p = cases[k].path;
        while (*p) {
            char key[64];
            size_t n = strcspn(p, ".");
            memcpy(key, p, n);
            key[n] = 0;
            o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, (int)strtol(key, NULL, 10))
                                 : cJSON_GetObjectItemCaseSensitive(o, key);
            if (o == NULL)
                fail_msg("no %s in the report", cases[k].path);
            p += n + (p[n] == '.');
        }
        cJSON *f = cJSON_GetObjectItemCaseSensitive(o, cases[k].field);
        if (f == NULL)
            fail_msg("no %s.%s in the report", cases[k].path, cases[k].field);
        if (cJSON_IsArray(f) && strcmp(cases[k].field, "notes") != 0 &&
            strcmp(cases[k].field, "thresholds") != 0) {
            /* a curve with a bad point */
            cJSON *pt = cJSON_CreateArray();
            cJSON_AddItemToArray(pt, cJSON_CreateString("x"));
            cJSON_AddItemToArray(pt, cJSON_CreateNumber(1));
            cJSON_AddItemToArray(f, pt);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(o, cases[k].field,
                                                   cJSON_IsString(f) ? cJSON_CreateNumber(1)
                                                                     : cJSON_CreateString("?"));
        }
        struct mf_err err = {0};
        if (mf_report_check(r, "metrics.json", &err) == 0)
            fail_msg("%s.%s: a bad value passed", cases[k].path, cases[k].field);
        if (strstr(err.msg, cases[k].msg) == NULL)
            fail_msg("'%s' lacks '%s'", err.msg, cases[k].msg);
        cJSON_Delete(r);
    }
    /* elements of the wrong type */
    cJSON *r = make_report();
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r, "notes"), cJSON_CreateNumber(1));
    struct mf_err err = {0};
    assert_int_not_equal(mf_report_check(r, "m.json", &err), 0);
    assert_non_null(strstr(err.msg, "m.json: notes: expected strings"));
    cJSON_Delete(r);
    r = make_report();
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(r, "settings"), "thresholds"),
                         cJSON_CreateString("0.5"));
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_report_check(r, "m.json", &err), 0);
    assert_non_null(strstr(err.msg, "m.json: settings.thresholds: expected numbers"));
    cJSON_Delete(r);
    /* optional fields may be absent; required ones may not */
    r = make_report();
    cJSON_DeleteItemFromObjectCaseSensitive(r, "created");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "store"),
                                            "sources");
    assert_int_equal(mf_report_check(r, "m.json", &err), 0);
    cJSON_DeleteItemFromObjectCaseSensitive(r, "split");
    assert_int_not_equal(mf_report_check(r, "m.json", &err), 0);
    cJSON_Delete(r);
    cJSON *arr = cJSON_CreateArray();
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_report_check(arr, "x.json", &err), 0);
    assert_non_null(strstr(err.msg, "x.json: expected a JSON object"));
    cJSON_Delete(arr);
}

static void svg_thins_curves_and_picks_ticks(void **state)
{
    (void)state;
    enum { N = 10000 };
    static double x[N], y[N];
    static size_t keep[MF_SVG_MAX_POINTS];
    for (int i = 0; i < N; i++) {
        x[i] = (double)i / (N - 1);
        y[i] = i == 17 ? NAN : x[i] * x[i];
    }
    size_t k = mf_svg_decimate(x, y, N, 300, 250, MF_SVG_MAX_POINTS, keep);
    assert_true(k <= MF_SVG_MAX_POINTS && k >= MF_SVG_MAX_POINTS / 2);
    assert_int_equal(keep[0], 0);
    assert_int_equal(keep[k - 1], N - 1);
    for (size_t i = 1; i < k; i++) {
        assert_true(keep[i] > keep[i - 1]);
        assert_int_not_equal(keep[i], 17);
    }
    /* short curves are kept whole (less the points that are not finite) */
    assert_int_equal(mf_svg_decimate(x, y, 30, 1, 1, MF_SVG_MAX_POINTS, keep), 29);
    /* a curve that does not move */
    for (int i = 0; i < N; i++)
        x[i] = y[i] = 0.5;
    k = mf_svg_decimate(x, y, N, 1, 1, MF_SVG_MAX_POINTS, keep);
    assert_true(k >= 1 && k <= 2);
    int dg;
    assert_true(fabs(mf_svg_tick_step(0, 1, 5, &dg) - 0.2) < 1e-12);
    assert_int_equal(dg, 1);
    assert_true(fabs(mf_svg_tick_step(-0.01, 0.04, 5, &dg) - 0.01) < 1e-12);
    assert_int_equal(dg, 2);
    /* escaping, and cutting long text on a character boundary */
    struct mf_svg_doc d = MF_SVG_DOC_INIT;
    mf_svg_text(&d, "<a href='x'>&\"");
    mf_svg_text_cut(&d, "\xC3\xA9\xC3\xA9\xC3\xA9", 2); /* éé… */
    assert_int_equal(d.rc, 0);
    assert_string_equal(d.b.data,
                        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\xC3\xA9\xC3\xA9\xE2\x80\xA6");
    mf_buf_release(&d.b);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct mf_buf b = MF_BUF_INIT;
    struct mf_err err = {0};
    assert_int_equal(mf_fs_read_file(path, 1 << 24, &b, &err), 0);
    mf_buf_putc(&b, 0);
    return b.data;
}

/* A report of the fake model's weights, written to dir/metrics.json. */
static void write_report(const char *dir, int external)
{
    char sha[65];
    assert_int_equal(mf_sha256_hex("weights", 7, sha), 0);
    cJSON *r = make_report();
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "model"), "sha256",
                                           cJSON_CreateString(sha));
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "store"), "external",
                                           cJSON_CreateBool(external));
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_json_print(r, &b), 0);
    mf_buf_putc(&b, 0);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(dir, &err), 0);
    write_file(dir, "metrics.json", b.data);
    mf_buf_release(&b);
    cJSON_Delete(r);
}

/* The title a card field has in model_card.md: its last key, '_' as ' ', capitalized. */
static void field_title(const char *field, char *title, size_t n)
{
    snprintf(title, n, "%s", strrchr(field, '.') ? strrchr(field, '.') + 1 : field);
    for (char *c = title; *c; c++)
        *c = *c == '_' ? ' ' : *c;
    title[0] = (char)(title[0] >= 'a' && title[0] <= 'z' ? title[0] - 32 : title[0]);
}

static const char *card_str(const cJSON *card, const char *path)
{
    const cJSON *o = card;
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        memcpy(key, path, n);
        key[n] = 0;
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += n + (path[n] == '.');
    }
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

static void card_has_every_field_and_says_what_is_unknown(void **state)
{
    (void)state;
    char model[512], rep[600], ext[600], out[600];
    snprintf(model, sizeof model, "%s/model", tmpdir);
    snprintf(rep, sizeof rep, "%s/report", tmpdir);
    snprintf(ext, sizeof ext, "%s/external", tmpdir);
    snprintf(out, sizeof out, "%s/card", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(model, &err), 0);
    write_file(model, "config.json",
               "{\"dim\": 32, \"layers\": 2, \"heads\": 2, \"context\": 64, \"vocab\": 100}");
    write_file(model, "vocab.json", "{\"use_race\": false}");
    write_file(model, "model.safetensors", "weights");
    write_report(rep, 0);
    write_report(ext, 1);
    const char *reps[2] = {rep, ext};

    /* no training.json: the training data are "not available" */
    assert_int_equal(mf_card_write(model, reps, 2, out, &err), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/model_card.json", out);
    cJSON *card = mf_json_read_file(path, 1 << 24, &err);
    assert_non_null(card);
    assert_int_equal(mf_card_check(card, &err), 0);
    assert_string_equal(card_str(card, "hti1.development.training_data_demographics"),
                        "not available");
    assert_string_equal(card_str(card, "chai.transparency.funding_source"), "not available");
    assert_string_equal(card_str(card, "model.training_store_sha256"), "not available");
    assert_string_equal(card_str(card, "hti1.details.output_type"), "prediction");
    /* no number from a missing file prints as nan */
    struct mf_buf jb = MF_BUF_INIT;
    assert_int_equal(mf_json_print(card, &jb), 0);
    mf_buf_putc(&jb, 0);
    assert_false(has_word(jb.data, "nan"));
    assert_non_null(strstr(jb.data, "<script>")); /* JSON keeps text as it is; readers escape */
    mf_buf_release(&jb);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(card, "hti1"),
                                         "development"),
        "demographic_inputs");
    assert_int_equal(cJSON_GetArraySize(inputs), 9); /* (b)(11)(iv)(A)(5)-(13) */
    assert_non_null(strstr(cJSON_GetArrayItem(inputs, 0)->valuestring, "race: not an input"));
    assert_non_null(strstr(cJSON_GetArrayItem(inputs, 5)->valuestring, "sex: input"));
    /* internal and external reports fill their own fields */
    const cJSON *perf = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(card, "hti1"), "performance");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(perf, "internal_validity");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(perf, "external_validity");
    assert_int_equal(cJSON_GetArraySize(iv), 6); /* 2 tasks x 3 predictors */
    assert_int_equal(cJSON_GetArraySize(ev), 6);
    assert_non_null(strstr(cJSON_GetArrayItem(iv, 1)->valuestring,
                           "logistic regression [comparison baseline, not this model]"));
    assert_non_null(strstr(cJSON_GetArrayItem(ev, 0)->valuestring, "external validation"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(card, "hti1"),
                                         "external_validation"),
        "data_sources")));

    /* every required field in the markdown too; input markdown-escaped */
    char *md = read_text(out, "model_card.md");
    for (size_t i = 0; mf_card_required_fields[i]; i++) {
        char title[128];
        field_title(mf_card_required_fields[i], title, sizeof title);
        if (strstr(md, title) == NULL)
            fail_msg("model_card.md lacks '%s'", title);
    }
    assert_null(strstr(md, "<script>"));
    assert_non_null(strstr(md, "\\<script\\>"));
    assert_non_null(strstr(md, "## At a glance"));
    assert_non_null(strstr(md, "not available"));
    assert_false(has_word(md, "nan"));
    free(md);
    mf_json_release(card);

    /* with training.json and a vocabulary that feeds race and ethnicity */
    write_file(model, "training.json",
               "{\"store_manifest_sha256\": \"abc\", \"steps\": 40, \"parameters\": 1000,"
               " \"patients\": {\"train\": 3, \"tuning\": 1},"
               " \"training_data\": {\"patients\": 3, \"sex\": {\"FEMALE\": 2, \"MALE\": 1},"
               " \"race\": {\"2106-3\": 2, \"2054-5\": 1}, \"ethnicity\": {\"2186-5\": 3},"
               " \"age_bands\": {\"75+\": 1, \"18-39\": 2}, \"first_event\": "
               "\"2001-01-01T00:00:00Z\", \"last_event\": \"2020-01-01T00:00:00Z\","
               " \"sources\": [\"fhir\"], \"deidentified\": true}}");
    write_file(model, "vocab.json",
               "{\"use_race\": true, \"tokens\": [{\"id\": 0, \"text\": \"GENDER/FEMALE\", "
               "\"kind\": \"prefix\"}, {\"id\": 1, \"text\": \"AGE/0-4\", \"kind\": "
               "\"prefix\"}, {\"id\": 2, \"text\": \"RACE/2106-3\", \"kind\": \"prefix\"}]}");
    assert_int_equal(mf_card_write(model, reps, 1, out, &err), 0);
    card = mf_json_read_file(path, 1 << 24, &err);
    assert_non_null(card);
    const char *demo = card_str(card, "hti1.development.training_data_demographics");
    assert_non_null(strstr(demo, "3 training patients"));
    assert_non_null(strstr(demo, "White (2106-3) 66.7% (2)"));
    assert_non_null(strstr(demo, "18-39 66.7% (2), 75+ 33.3% (1)")); /* bands in order */
    assert_non_null(
        strstr(card_str(card, "chai.trust_ingredients.input_data_source"), "de-identified"));
    assert_non_null(strstr(card_str(card, "model.version"), "(40 training steps)"));
    inputs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(card, "hti1"),
                                         "development"),
        "demographic_inputs");
    assert_non_null(strstr(cJSON_GetArrayItem(inputs, 0)->valuestring, "race: input"));
    assert_non_null(strstr(cJSON_GetArrayItem(inputs, 1)->valuestring, "ethnicity: not an"));
    /* one internal report only: external figures are "not available", with the reason */
    assert_non_null(strstr(card_str(card, "hti1.performance.external_validity"),
                           "not available (no external validation report given)"));
    mf_json_release(card);
}

static void card_refuses_bad_input_and_leaves_no_partial_output(void **state)
{
    (void)state;
    char model[512], rep[600], out[600], path[1024];
    snprintf(model, sizeof model, "%s/model2", tmpdir);
    snprintf(rep, sizeof rep, "%s/report2", tmpdir);
    snprintf(out, sizeof out, "%s/card2/", tmpdir); /* a trailing slash */
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(model, &err), 0);
    write_file(model, "config.json", "{\"dim\": 32, \"layers\": 2}");
    write_file(model, "vocab.json", "{\"use_race\": false}");
    write_file(model, "model.safetensors", "weights");
    write_report(rep, 0);
    const char *reps[1] = {rep};
    assert_int_equal(mf_card_write(model, reps, 1, out, &err), 0);
    snprintf(path, sizeof path, "%s/card2/model_card.md", tmpdir);
    assert_true(mf_fs_exists(path));
    snprintf(path, sizeof path, "%s/card2/.partial", tmpdir);
    assert_false(mf_fs_exists(path));

    /* a damaged report: an error naming it, the earlier card untouched, nothing partial */
    write_file(rep, "metrics.json", "{\"format\": \"medfm-eval\", \"version\": 2}");
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, reps, 1, out, &err), 0);
    assert_non_null(strstr(err.msg, "report2/metrics.json: version"));
    snprintf(path, sizeof path, "%s/card2/model_card.md", tmpdir);
    assert_true(mf_fs_exists(path));
    snprintf(path, sizeof path, "%s/card2.partial", tmpdir);
    assert_false(mf_fs_exists(path));
    /* not JSON at all */
    write_file(rep, "metrics.json", "{\"format\": ");
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, reps, 1, out, &err), 0);
    assert_non_null(strstr(err.msg, "report2/metrics.json"));

    /* a report of other weights */
    write_report(rep, 0);
    write_file(model, "model.safetensors", "other weights");
    memset(&err, 0, sizeof err);
    assert_int_equal(mf_card_write(model, reps, 1, out, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "metrics.json: model.sha256: a report of other weights"));

    /* a folder that is not a card is never replaced */
    char keep[600];
    snprintf(keep, sizeof keep, "%s/keep", tmpdir);
    assert_int_equal(mf_fs_mkdir_p(keep, &err), 0);
    write_file(keep, "notes.txt", "mine");
    memset(&err, 0, sizeof err);
    assert_int_equal(mf_card_write(model, NULL, 0, keep, &err), MF_EEXIST);
    snprintf(path, sizeof path, "%s/notes.txt", keep);
    assert_true(mf_fs_exists(path));

    /* a model folder without weights, without config */
    snprintf(path, sizeof path, "%s/model.safetensors", model);
    remove(path);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, NULL, 0, out, &err), 0);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    snprintf(path, sizeof path, "%s/config.json", model);
    remove(path);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, NULL, 0, out, &err), 0);
    assert_non_null(strstr(err.msg, "config.json"));
    /* a card without reports says what is missing rather than leaving it out */
    write_file(model, "config.json", "{}");
    write_file(model, "model.safetensors", "weights");
    assert_int_equal(mf_card_write(model, NULL, 0, out, NULL), 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/card2", tmpdir);
    char *md = read_text(dir, "model_card.md");
    assert_non_null(strstr(md, "not available (no external validation report given)"));
    assert_non_null(strstr(md, "No evaluation report was given"));
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_renders_every_plot_and_escapes_input),
        cmocka_unit_test(report_has_no_url_but_the_svg_namespace),
        cmocka_unit_test(check_names_the_path_of_a_bad_field),
        cmocka_unit_test(svg_thins_curves_and_picks_ticks),
        cmocka_unit_test(card_has_every_field_and_says_what_is_unknown),
        cmocka_unit_test(card_refuses_bad_input_and_leaves_no_partial_output),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
