/* cmd_inspect.c - `medfm inspect`: a store's summary, or one patient's timeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "store/store.h"

static int show_patient(const struct mf_store *s, const char *id, int json)
{
    struct mf_timeline tl;
    if (mf_store_find(s, id, strlen(id), &tl) != 0) {
        fprintf(stderr, "medfm: no patient with that id in the store\n");
        return 1;
    }
    struct mf_buf b = MF_BUF_INIT;
    if (json) {
        mf_buf_puts(&b, "{\"patient\":");
        mf_buf_json_string(&b, tl.subject.p, tl.subject.n);
        mf_buf_puts(&b, ",\"events\":[");
    } else {
        mf_buf_printf(&b, "patient %.*s: %zu events\n", (int)tl.subject.n, tl.subject.p, tl.n);
    }
    for (size_t i = 0; i < tl.n; i++) {
        char t[32];
        mf_time_format(tl.time[i], t);
        struct mf_str code = mf_store_code(s, tl.code[i]);
        struct mf_str unit = mf_store_unit(s, tl.unit[i]);
        struct mf_str text = mf_timeline_text(&tl, i);
        if (json) {
            mf_buf_puts(&b, i ? ",{\"time\":" : "{\"time\":");
            if (t[0])
                mf_buf_json_string(&b, t, strlen(t));
            else
                mf_buf_puts(&b, "null");
            mf_buf_puts(&b, ",\"code\":");
            mf_buf_json_string(&b, code.p ? code.p : "", code.n);
            mf_buf_puts(&b, ",\"value\":");
            if (isnan(tl.value[i]))
                mf_buf_puts(&b, "null");
            else
                mf_buf_put_double(&b, tl.value[i]);
            mf_buf_puts(&b, ",\"unit\":");
            if (unit.p)
                mf_buf_json_string(&b, unit.p, unit.n);
            else
                mf_buf_puts(&b, "null");
            mf_buf_puts(&b, ",\"text\":");
            if (text.p)
                mf_buf_json_string(&b, text.p, text.n);
            else
                mf_buf_puts(&b, "null");
            mf_buf_putc(&b, '}');
        } else {
            mf_buf_printf(&b, "%-22s %.*s", t[0] ? t : "(static)", (int)code.n,
                          code.p ? code.p : "");
            if (!isnan(tl.value[i])) {
                mf_buf_putc(&b, ' ');
                mf_buf_put_double(&b, tl.value[i]);
            }
            if (unit.p)
                mf_buf_printf(&b, " %.*s", (int)unit.n, unit.p);
            if (text.p) {
                size_t n = text.n > 60 ? 60 : text.n;
                mf_buf_puts(&b, " \"");
                for (size_t k = 0; k < n; k++)
                    mf_buf_putc(&b, text.p[k] == '\n' || text.p[k] == '\r' ? ' ' : text.p[k]);
                mf_buf_puts(&b, text.n > n ? "...\"" : "\"");
            }
            mf_buf_putc(&b, '\n');
        }
    }
    if (json)
        mf_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    mf_buf_release(&b);
    return 0;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int show_summary(const struct mf_store *s, const char *path, int json)
{
    const cJSON *m = mf_store_manifest(s);
    if (json) {
        cJSON *o = cJSON_Duplicate(m, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "files");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "format");
        cJSON_AddStringToObject(o, "manifest_sha256", mf_store_manifest_sha256(s));
        char *txt = cJSON_Print(o);
        printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(o);
        return 0;
    }
    const cJSON *span = cJSON_GetObjectItemCaseSensitive(m, "time_span");
    const char *first = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(span, "first"));
    const char *last = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(span, "last"));
    printf("store            %s\n", path);
    printf("manifest sha256  %s\n", mf_store_manifest_sha256(s));
    printf("patients         %.0f\n", num(m, "patients"));
    printf("events           %.0f\n", num(m, "events"));
    printf("codes            %.0f\n", num(m, "codes"));
    printf("time span        %s .. %s\n", first ? first : "-", last ? last : "-");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(m, "events_per_patient");
    printf("events/patient   min %.0f  p10 %.0f  p25 %.0f  median %.0f  p75 %.0f  p90 %.0f  "
           "p99 %.0f  max %.0f  mean %.1f\n",
           num(q, "min"), num(q, "p10"), num(q, "p25"), num(q, "p50"), num(q, "p75"), num(q, "p90"),
           num(q, "p99"), num(q, "max"), num(q, "mean"));
    printf("vocabularies     %-28s %8s %10s\n", "", "codes", "events");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(m, "vocabularies"))
    {
        printf("                 %-28s %8.0f %10.0f\n", v->string, num(v, "codes"),
               num(v, "events"));
    }
    printf("sources\n");
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(m, "sources"))
    {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "format"));
        printf("                 %s: %.0f files, %.0f bytes, %.0f records, %.0f events, %.0f "
               "skipped\n",
               f ? f : "?", num(v, "files"), num(v, "bytes"), num(v, "records"), num(v, "events"),
               num(v, "skipped"));
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "deid");
    printf("de-identified    %s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "applied"))
                                        ? "yes"
                                        : "NO (identified)");
    printf("shards           %d\n",
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "shards")));
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    const char *patient = NULL;
    int json = 0, verify = 0;
    const struct opt opts[] = {
        {"patient", OPT_STRING, &patient, "ID", "show this patient's timeline in time order"},
        {"json", OPT_FLAG, &json, NULL, "print JSON"},
        {"verify", OPT_FLAG, &verify, NULL, "check every file against the manifest's SHA-256"},
    };
    const struct cmd_help help = {
        "medfm inspect STORE [--patient ID] [--json] [--verify]",
        "Summarize an event store: patients, events, codes per vocabulary, time span,\n"
        "events-per-patient quantiles, sources and the manifest hash.  With --patient, print\n"
        "one patient's events (time, code, value, unit, text) in time order.",
        opts, sizeof opts / sizeof opts[0], NULL};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "medfm: inspect needs exactly one STORE\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_store *s = NULL;
    struct mf_err err = {0};
    if (mf_store_open(pos[0], &s, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (verify) {
        if (mf_store_verify(s, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            rc = 1;
        } else if (!json && !patient) {
            printf("verified: every file matches the manifest\n");
        }
    }
    if (rc == 0)
        rc = patient ? show_patient(s, patient, json) : show_summary(s, pos[0], json);
    mf_store_close(s);
    return rc;
}
