/* cmd_deid_risk.c - `medfm deid risk`: k-anonymity and l-diversity of a store's
 * quasi-identifiers (src/deid/risk.h has the semantics). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "deid/risk.h"
#include "store/store.h"

#define DEFAULT_QUASI "sex,birth_year,zip3,race,ethnicity"

/* "1", "5-9", "1000+": the sizes of histogram bucket b. */
static void bucket_name(int b, char out[32])
{
    uint64_t lo = mf_risk_bucket_lo[b];
    if (b == MF_RISK_BUCKETS - 1)
        snprintf(out, 32, "%" PRIu64 "+", lo);
    else if (mf_risk_bucket_lo[b + 1] == lo + 1)
        snprintf(out, 32, "%" PRIu64, lo);
    else
        snprintf(out, 32, "%" PRIu64 "-%" PRIu64, lo, mf_risk_bucket_lo[b + 1] - 1);
}

static double share(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void put_quasi_obj(struct mf_buf *b, const struct mf_risk_result *r,
                          const struct mf_risk_class *c)
{
    mf_buf_putc(b, '{');
    for (size_t p = 0; p < r->opts.n_quasi; p++) {
        if (p)
            mf_buf_putc(b, ',');
        const char *n = mf_risk_quasi_name(r->opts.quasi[p]);
        mf_buf_json_string(b, n, strlen(n));
        mf_buf_putc(b, ':');
        mf_buf_json_string(b, c->values[p], strlen(c->values[p]));
    }
    mf_buf_putc(b, '}');
}

static void report_json(struct mf_buf *b, const struct mf_risk_result *r, const char *sha, int deid)
{
    const struct mf_risk_opts *o = &r->opts;
    mf_buf_puts(b, "{\"manifest_sha256\":");
    mf_buf_json_string(b, sha, strlen(sha));
    mf_buf_printf(b, ",\"deidentified\":%s,\"quasi\":[", deid ? "true" : "false");
    for (size_t p = 0; p < o->n_quasi; p++) {
        const char *n = mf_risk_quasi_name(o->quasi[p]);
        if (p)
            mf_buf_putc(b, ',');
        mf_buf_json_string(b, n, strlen(n));
    }
    mf_buf_printf(b,
                  "],\"k\":%" PRIu64 ",\"patients\":%" PRIu64 ",\"classes\":%" PRIu64
                  ",\"k_achieved\":%" PRIu64 ",\"classes_below_k\":%" PRIu64
                  ",\"patients_below_k\":%" PRIu64 ",\"share_below_k\":",
                  o->k, r->patients, r->n_classes, r->k_min, r->classes_below_k,
                  r->patients_below_k);
    mf_buf_put_double(b, share(r->patients_below_k, r->patients));
    mf_buf_puts(b, ",\"prosecutor_risk_max\":");
    mf_buf_put_double(b, mf_risk_prosecutor_max(r));
    mf_buf_puts(b, ",\"average_risk\":");
    mf_buf_put_double(b, mf_risk_average(r));
    mf_buf_puts(b, ",\"missing\":{");
    for (size_t p = 0; p < o->n_quasi; p++) {
        const char *n = mf_risk_quasi_name(o->quasi[p]);
        if (p)
            mf_buf_putc(b, ',');
        mf_buf_json_string(b, n, strlen(n));
        mf_buf_printf(b, ":%" PRIu64, r->missing[p]);
    }
    mf_buf_puts(b, "},\"class_sizes\":[");
    for (int i = 0; i < MF_RISK_BUCKETS; i++) {
        mf_buf_printf(b, "%s{\"min\":%" PRIu64 ",\"max\":", i ? "," : "", mf_risk_bucket_lo[i]);
        if (i == MF_RISK_BUCKETS - 1)
            mf_buf_puts(b, "null");
        else
            mf_buf_printf(b, "%" PRIu64, mf_risk_bucket_lo[i + 1] - 1);
        mf_buf_printf(b, ",\"classes\":%" PRIu64 ",\"patients\":%" PRIu64 "}", r->hist_classes[i],
                      r->hist_patients[i]);
    }
    mf_buf_puts(b, "],\"l_diversity\":");
    if (o->sensitive) {
        mf_buf_puts(b, "{\"sensitive\":");
        mf_buf_json_string(b, o->sensitive, strlen(o->sensitive));
        mf_buf_printf(b,
                      ",\"l\":%" PRIu64 ",\"l_achieved\":%" PRIu64 ",\"classes_below_l\":%" PRIu64
                      ",\"patients_below_l\":%" PRIu64 ",\"values\":%" PRIu64
                      ",\"patients_without\":%" PRIu64 "}",
                      o->l, r->l_min, r->classes_below_l, r->patients_below_l, r->sensitive_values,
                      r->without_sensitive);
    } else {
        mf_buf_puts(b, "null");
    }
    if (o->list) {
        mf_buf_puts(b, ",\"below_k\":[");
        for (size_t i = 0; i < r->n_below_k; i++) {
            const struct mf_risk_class *c = &r->classes[r->below_k[i].cls];
            mf_buf_puts(b, i ? ",{\"subject\":" : "{\"subject\":");
            const char *sj = r->below_k[i].subject;
            mf_buf_json_string(b, sj, strlen(sj));
            mf_buf_printf(b, ",\"class_size\":%" PRIu64 ",\"quasi\":", c->size);
            put_quasi_obj(b, r, c);
            mf_buf_putc(b, '}');
        }
        mf_buf_putc(b, ']');
    }
    mf_buf_puts(b, "}\n");
}

static void report_text(struct mf_buf *b, const struct mf_risk_result *r, const char *path,
                        int deid)
{
    const struct mf_risk_opts *o = &r->opts;
    mf_buf_printf(b, "store              %s (%s)\n", path,
                  deid ? "de-identified" : "NOT de-identified");
    mf_buf_puts(b, "quasi-identifiers  ");
    for (size_t p = 0; p < o->n_quasi; p++)
        mf_buf_printf(b, "%s%s", p ? ", " : "", mf_risk_quasi_name(o->quasi[p]));
    mf_buf_printf(b, "\npatients           %" PRIu64 "\n", r->patients);
    mf_buf_printf(b, "classes            %" PRIu64 "\n", r->n_classes);
    mf_buf_printf(b, "k achieved         %" PRIu64 " (the smallest class)\n", r->k_min);
    mf_buf_printf(b,
                  "below k = %-8" PRIu64 " %" PRIu64 " classes, %" PRIu64
                  " patients (%.1f%% of patients)\n",
                  o->k, r->classes_below_k, r->patients_below_k,
                  100.0 * share(r->patients_below_k, r->patients));
    mf_buf_printf(b, "prosecutor risk    %.4f (max, 1/k)   average risk %.4f (classes/patients)\n",
                  mf_risk_prosecutor_max(r), mf_risk_average(r));
    mf_buf_puts(b, "missing (*)        ");
    for (size_t p = 0; p < o->n_quasi; p++)
        mf_buf_printf(b, "%s%s %" PRIu64, p ? ", " : "", mf_risk_quasi_name(o->quasi[p]),
                      r->missing[p]);
    mf_buf_printf(b, "\nclass size         %10s %10s\n", "classes", "patients");
    for (int i = 0; i < MF_RISK_BUCKETS; i++) {
        if (r->hist_classes[i] == 0)
            continue;
        char name[32];
        bucket_name(i, name);
        mf_buf_printf(b, "  %-16s %10" PRIu64 " %10" PRIu64 "\n", name, r->hist_classes[i],
                      r->hist_patients[i]);
    }
    if (o->sensitive) {
        mf_buf_printf(b, "l-diversity        sensitive: first code starting with \"%s\"\n",
                      o->sensitive);
        mf_buf_printf(b, "  l achieved       %" PRIu64 " (fewest distinct values in a class)\n",
                      r->l_min);
        mf_buf_printf(b, "  below l = %-6" PRIu64 " %" PRIu64 " classes, %" PRIu64 " patients\n",
                      o->l, r->classes_below_l, r->patients_below_l);
        mf_buf_printf(b,
                      "  values           %" PRIu64 " distinct; %" PRIu64 " patients without one\n",
                      r->sensitive_values, r->without_sensitive);
    }
    if (deid)
        for (size_t p = 0; p < o->n_quasi; p++)
            if (o->quasi[p] == MF_RISK_BIRTH_YEAR)
                mf_buf_puts(b, "note: birth_year is the date-shifted year; it can differ from the "
                               "true one by one\n");
    if (o->list) {
        mf_buf_printf(b, "\nrecords in classes smaller than k = %" PRIu64 " (%zu):\n", o->k,
                      r->n_below_k);
        for (size_t i = 0; i < r->n_below_k; i++) {
            const struct mf_risk_class *c = &r->classes[r->below_k[i].cls];
            mf_buf_printf(b, "  %s  size %" PRIu64 " ", r->below_k[i].subject, c->size);
            for (size_t p = 0; p < o->n_quasi; p++)
                mf_buf_printf(b, " %s=%s", mf_risk_quasi_name(o->quasi[p]), c->values[p]);
            mf_buf_putc(b, '\n');
        }
    }
}

int cmd_deid_risk(int argc, char **argv)
{
    const char *quasi = DEFAULT_QUASI, *sensitive = NULL;
    int k = 5, l = 2, json = 0, list = 0, fail_below = 0;
    const struct opt opts[] = {
        {"quasi", OPT_STRING, &quasi, "LIST",
         "quasi-identifiers, comma-separated (default " DEFAULT_QUASI ")"},
        {"k", OPT_INT, &k, "N", "classes smaller than N break k-anonymity (default 5)"},
        {"sensitive", OPT_STRING, &sensitive, "PREFIX",
         "l-diversity of the first code starting with PREFIX (none: no l-diversity)"},
        {"l", OPT_INT, &l, "N",
         "classes with fewer distinct sensitive values break it (default 2)"},
        {"list", OPT_FLAG, &list, NULL, "list the records (subject ids) of classes smaller than k"},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object"},
        {"fail-below", OPT_FLAG, &fail_below, NULL,
         "exit 3 when a class is smaller than k (or below l)"},
    };
    const struct cmd_help help = {
        "medfm deid risk STORE [--quasi LIST] [--k N] [--sensitive PREFIX] [--l N] [--list] "
        "[--json] [--fail-below]",
        "Measure re-identification risk: group patients by their quasi-identifiers (sex from\n"
        "GENDER/, birth_year from MEDS_BIRTH, zip3 from ZIP3/, race from RACE/, ethnicity from\n"
        "ETHNICITY/; a missing one is \"*\", a value of its own) and report the classes: the\n"
        "smallest (k achieved), those smaller than k, prosecutor and average risk and a\n"
        "histogram of class sizes.  With --sensitive, each patient's sensitive value is the\n"
        "first code of theirs starting with PREFIX (\"*\" when none) and l is the number of\n"
        "distinct values in a class.  On a de-identified store birth_year is the shifted year.\n"
        "Exit 0 when the report is written, even when k or l is not reached (3 with\n"
        "--fail-below).",
        opts, sizeof opts / sizeof opts[0],
        "example: medfm deid risk store --quasi sex,birth_year,zip3 --k 11 --list"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "medfm: deid risk needs exactly one STORE\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_risk_opts o;
    memset(&o, 0, sizeof o);
    struct mf_err err = {0};
    if (mf_risk_parse_quasi(quasi, o.quasi, &o.n_quasi, &err) != 0) {
        fprintf(stderr, "medfm: --quasi: %s\nusage: %s\n", err.msg, help.usage);
        return 2;
    }
    if (k < 1 || l < 1) {
        fprintf(stderr, "medfm: --k and --l must be at least 1\nusage: %s\n", help.usage);
        return 2;
    }
    if (sensitive && sensitive[0] == '\0') {
        fprintf(stderr, "medfm: --sensitive needs a code prefix such as ICD10CM/\n");
        return 2;
    }
    o.k = (uint64_t)k;
    o.l = (uint64_t)l;
    o.sensitive = sensitive;
    o.list = list;

    struct mf_store *s = NULL;
    if (mf_store_open(pos[0], &s, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    struct mf_risk_result res;
    int rc = mf_risk_compute(s, &o, &res, &err);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        mf_risk_result_free(&res);
        mf_store_close(s);
        return 1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(mf_store_manifest(s), "deid");
    int deid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "applied"));
    struct mf_buf b = MF_BUF_INIT;
    if (json)
        report_json(&b, &res, mf_store_manifest_sha256(s), deid);
    else
        report_text(&b, &res, pos[0], deid);
    int ok = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0;
    mf_buf_release(&b);
    int broken = res.classes_below_k > 0 || (sensitive && res.classes_below_l > 0);
    mf_risk_result_free(&res);
    mf_store_close(s);
    if (!ok) {
        fprintf(stderr, "medfm: cannot write the report\n");
        return 1;
    }
    return fail_below && broken ? 3 : 0;
}
