/* test_report.c - metrics.json checking, report.html (escaping, plots, nulls) and the model
 * card (every required field, "not available" for what is unknown, no partial output). */
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
#include "core/json.h"
#include "eval/eval.h"
#include "eval/report.h"

#include "testutil.h"

static const char *HOSTILE = "<script>alert(1)</script> & \"quoted\" 'x'";

/* A report of two tasks made by mf_eval_task itself (so the schema is the one eval writes),
 * with hostile subgroup and predictor names. */
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
    const char *names[2] = {HOSTILE, "b"};
    struct mf_eval_attr at = {"sex", names, 2, grp};
    struct mf_eval_pred preds[3] = {{"medfm_zero_shot", HOSTILE, "d", p1},
                                    {"logreg", "logistic regression", "d", p2},
                                    {"oracle", "oracle", "d", p3}};
    double th[1] = {0.1};
    struct mf_eval_opts o = {th, 1, 20, 1, 5};
    struct mf_err err = {0};
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "medfm-eval");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "created", "2026-12-03T00:00:00Z");
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(m, "dir", HOSTILE);
    cJSON_AddStringToObject(m, "sha256", "00ff");
    cJSON *s = cJSON_AddObjectToObject(root, "store");
    cJSON_AddStringToObject(s, "sha256", "aa");
    cJSON_AddNumberToObject(s, "patients", N);
    cJSON_AddItemToObject(s, "sources", cJSON_CreateArray());
    cJSON_AddBoolToObject(s, "external", 1);
    cJSON_AddStringToObject(root, "split", "all");
    cJSON *st = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(st, "samples", 20);
    cJSON_AddNumberToObject(st, "bootstrap", 20);
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (int k = 0; k < 2; k++) {
        cJSON *t = mf_eval_task(y, cl, N, N, &at, 1, preds, 3, 2, &o, &err);
        assert_non_null(t);
        cJSON_AddStringToObject(t, "task", k ? "second" : HOSTILE);
        cJSON_AddNumberToObject(t, "horizon_days", 365);
        cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(t, "cohort"), "source", "truth");
        cJSON_AddNullToObject(t, "effects");
        cJSON_AddItemToArray(tasks, t);
    }
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

static void report_renders_every_plot_and_escapes_input(void **state)
{
    (void)state;
    cJSON *r = make_report();
    struct mf_err err = {0};
    assert_int_equal(mf_report_check(r, "metrics.json", &err), 0);
    char *html = render(r);
    assert_int_equal(count(html, "<svg"), 8); /* 4 plots x 2 tasks */
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; "
                                 "&#39;x&#39;"));
    assert_non_null(strstr(html, "External validation"));
    assert_non_null(strstr(html, "Against the true risk"));
    assert_non_null(strstr(html, "<polyline"));
    assert_null(strstr(html, "nan"));
    free(html);
    /* nulls render as n/a */
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "tasks"), 0);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t0, "predictors"), 0);
    cJSON *auc =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p0, "metrics"), "auroc");
    cJSON_ReplaceItemInObjectCaseSensitive(auc, "value", cJSON_CreateNull());
    assert_int_equal(mf_report_check(r, "metrics.json", &err), 0);
    html = render(r);
    assert_non_null(strstr(html, "n/a"));
    free(html);
    cJSON_Delete(r);
}

static void check_names_the_path_of_a_bad_field(void **state)
{
    (void)state;
    static const struct {
        const char *path, *field; /* the object (dotted) and the field to break */
        const char *msg;
    } cases[] = {
        {"", "format", "metrics.json: format: expected \"medfm-eval\""},
        {"", "version", "metrics.json: version: expected 1"},
        {"store", "external", "metrics.json: store.external: expected true or false"},
        {"tasks.0.predictors.1.metrics", "auroc",
         "metrics.json: tasks[0].predictors[1].metrics.auroc: expected an object {value, lo, hi}"},
        {"tasks.1.predictors.0.curves", "roc", "metrics.json: tasks[1].predictors[0].curves.roc"},
        {"tasks.0.predictors.0.gaps.0", "flagged",
         "metrics.json: tasks[0].predictors[0].gaps[0].flagged: expected true or false"},
        {"tasks.0.cohort", "positives", "metrics.json: tasks[0].cohort.positives"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cJSON *r = make_report();
        cJSON *o = r;
        /* walk the dotted path (numbers index arrays) */
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
        if (cJSON_GetObjectItemCaseSensitive(o, cases[k].field) &&
            cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, cases[k].field))) {
            /* a curve with a bad point */
            cJSON *pt = cJSON_CreateArray();
            cJSON_AddItemToArray(pt, cJSON_CreateString("x"));
            cJSON_AddItemToArray(pt, cJSON_CreateNumber(1));
            cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, cases[k].field), pt);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(o, cases[k].field, cJSON_CreateString("?"));
        }
        struct mf_err err = {0};
        assert_int_not_equal(mf_report_check(r, "metrics.json", &err), 0);
        if (strstr(err.msg, cases[k].msg) == NULL)
            fail_msg("'%s' lacks '%s'", err.msg, cases[k].msg);
        cJSON_Delete(r);
    }
    struct mf_err err = {0};
    cJSON *arr = cJSON_CreateArray();
    assert_int_not_equal(mf_report_check(arr, "x.json", &err), 0);
    cJSON_Delete(arr);
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

static void card_has_every_field_and_says_what_is_unknown(void **state)
{
    (void)state;
    char model[512], rep[600], out[600];
    snprintf(model, sizeof model, "%s/model", tmpdir);
    snprintf(rep, sizeof rep, "%s/report", tmpdir);
    snprintf(out, sizeof out, "%s/card", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(model, &err), 0);
    assert_int_equal(mf_fs_mkdir_p(rep, &err), 0);
    write_file(model, "config.json",
               "{\"dim\": 32, \"layers\": 2, \"heads\": 2, \"context\": 64, \"vocab\": 100}");
    write_file(model, "vocab.json", "{\"use_race\": false}");
    write_file(model, "model.safetensors", "weights");
    cJSON *r = make_report();
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_json_print(r, &b), 0);
    mf_buf_putc(&b, 0);
    write_file(rep, "metrics.json", b.data);
    mf_buf_release(&b);
    cJSON_Delete(r);
    const char *reps[1] = {rep};
    /* no training.json: the training data are "not available" */
    assert_int_equal(mf_card_write(model, reps, 1, out, &err), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/model_card.json", out);
    cJSON *card = mf_json_read_file(path, 1 << 24, &err);
    assert_non_null(card);
    assert_int_equal(mf_card_check(card, &err), 0);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(card, "hti1"), "development");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(dev, "training_data_demographics")->valuestring,
        "not available");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(dev, "demographic_inputs")->valuestring,
                           "not inputs"));
    /* the external report fills external validity */
    const cJSON *perf = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(card, "hti1"), "performance");
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(perf, "external_validity")));
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(perf, "internal_validity")));
    mf_json_release(card);
    snprintf(path, sizeof path, "%s/model_card.md", out);
    b = (struct mf_buf)MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 24, &b, &err), 0);
    mf_buf_putc(&b, 0);
    for (size_t i = 0; mf_card_required_fields[i]; i++) {
        const char *last = strrchr(mf_card_required_fields[i], '.') + 1;
        char title[128];
        snprintf(title, sizeof title, "%s", last);
        for (char *c = title; *c; c++)
            *c = *c == '_' ? ' ' : *c;
        title[0] = (char)(title[0] >= 'a' && title[0] <= 'z' ? title[0] - 32 : title[0]);
        if (strstr(b.data, title) == NULL)
            fail_msg("model_card.md lacks '%s'", title);
    }
    assert_null(strstr(b.data, "<script>")); /* markdown-escaped */
    mf_buf_release(&b);
    /* a bad report: an error, the earlier card untouched, nothing partial left */
    write_file(rep, "metrics.json", "{\"format\": \"medfm-eval\", \"version\": 2}");
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, reps, 1, out, &err), 0);
    assert_non_null(strstr(err.msg, "metrics.json: version"));
    snprintf(path, sizeof path, "%s/model_card.md", out);
    assert_true(mf_fs_exists(path));
    snprintf(path, sizeof path, "%s.partial", out);
    assert_false(mf_fs_exists(path));
    /* a model folder without its config */
    snprintf(path, sizeof path, "%s/config.json", model);
    remove(path);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(mf_card_write(model, NULL, 0, out, &err), 0);
    assert_non_null(strstr(err.msg, "config.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_renders_every_plot_and_escapes_input),
        cmocka_unit_test(check_names_the_path_of_a_bad_field),
        cmocka_unit_test(card_has_every_field_and_says_what_is_unknown),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
