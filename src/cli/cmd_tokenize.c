/* cmd_tokenize.c - `medfm tokenize`: one patient's timeline as the model's tokens. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "store/store.h"
#include "token/token.h"

static const char *const kind_name[] = {"special", "prefix", "time", "quantile", "code"};

/* Whole years between two times by the calendar. */
static long long years_between(int64_t from, int64_t to)
{
    int64_t df = from / MF_USEC_PER_DAY - (from % MF_USEC_PER_DAY < 0);
    int64_t dt = to / MF_USEC_PER_DAY - (to % MF_USEC_PER_DAY < 0);
    int64_t yf, yt;
    unsigned mf, dff, mt, dtt;
    mf_civil_from_days(df, &yf, &mf, &dff);
    mf_civil_from_days(dt, &yt, &mt, &dtt);
    long long a = (long long)(yt - yf) - ((mt < mf || (mt == mf && dtt < dff)) ? 1 : 0);
    return a < 0 ? 0 : a;
}

static void put_token(struct mf_buf *b, const struct mf_vocab *v, uint32_t id, int64_t time,
                      int prefix, int json, int first)
{
    const char *text = mf_vocab_token(v, id);
    const char *kind = kind_name[mf_vocab_kind(v, id)];
    char t[32] = "";
    if (!prefix)
        mf_time_format(time, t);
    if (json) {
        mf_buf_puts(b, first ? "\n{\"time\":" : ",\n{\"time\":");
        if (t[0])
            mf_buf_json_string(b, t, strlen(t));
        else
            mf_buf_puts(b, "null");
        mf_buf_printf(b, ",\"id\":%u,\"token\":", id);
        mf_buf_json_string(b, text, strlen(text));
        mf_buf_printf(b, ",\"kind\":\"%s\",\"prefix\":%s}", kind, prefix ? "true" : "false");
    } else {
        mf_buf_printf(b, "%-27s %6u  %s\n", prefix ? "(prefix)" : t[0] ? t : "-", id, text);
    }
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *patient = NULL;
    int json = 0, limit = INT_MIN;
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder (its vocab.json is read)"},
        {"store", OPT_STRING, &store, "STORE", "the event store"},
        {"patient", OPT_STRING, &patient, "ID", "the patient's id in the store"},
        {"json", OPT_FLAG, &json, NULL, "print JSON"},
        {"limit", OPT_INT, &limit, "N", "show at most N tokens after the prefix"},
    };
    const struct cmd_help help = {
        "medfm tokenize --model DIR --store STORE --patient ID [--json] [--limit N]",
        "Show one patient's timeline as the model sees it: the static prefix (sex, age band\n"
        "at the first event, and race/ethnicity when the vocabulary uses them), then one\n"
        "token per event code, a decile token Q1..Q10 after numeric values, time-gap tokens\n"
        "between events and TIMELINE_END, each with its time (ISO 8601, UTC) and id.  The\n"
        "vocabulary is DIR/vocab.json; docs/tokenizer.md describes the tokens.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm tokenize --model model/ --store store/ --patient 1f0c... --limit 50"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || !patient) {
        fprintf(stderr,
                "medfm: tokenize needs --model, --store and --patient (and nothing else)\n"
                "usage: %s\n",
                help.usage);
        return 2;
    }
    if (limit != INT_MIN && limit < 0) {
        fprintf(stderr, "medfm: --limit must be 0 or more\n");
        return 2;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/vocab.json", model) >= (int)sizeof path) {
        fprintf(stderr, "medfm: the model folder's path is too long\n");
        return 2;
    }
    struct mf_err err = {0};
    struct mf_vocab *v = NULL;
    if (mf_vocab_load(path, &v, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    struct mf_store *s = NULL;
    if (mf_store_open(store, &s, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        mf_vocab_free(v);
        return 1;
    }
    int rc = 1;
    struct mf_timeline tl;
    struct mf_tokens tk = {0};
    struct mf_buf b = MF_BUF_INIT;
    uint32_t *prefix = NULL;
    if (mf_store_find(s, patient, strlen(patient), &tl) != 0) {
        fprintf(stderr, "medfm: no patient with that id in the store\n");
        goto out;
    }
    if (mf_tokenize(v, s, &tl, &tk, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    prefix = malloc((mf_vocab_prefix_max(v) + 1) * sizeof *prefix);
    if (prefix == NULL) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    int64_t first = tk.n ? tk.time[0] : INT64_MIN;
    size_t np = mf_tokens_prefix(v, &tk, first, prefix);
    size_t shown = limit >= 0 && (size_t)limit < tk.n ? (size_t)limit : tk.n; /* INT_MIN: all */
    char ft[32] = "";
    mf_time_format(first, ft);
    int have_age = first != INT64_MIN && tk.birth != INT64_MIN;
    long long age = have_age ? years_between(tk.birth, first) : 0;
    if (json) {
        mf_buf_puts(&b, "{\"patient\":");
        mf_buf_json_string(&b, tl.subject.p, tl.subject.n);
        mf_buf_printf(
            &b, ",\"events\":%zu,\"split\":\"%s\",\"vocab_size\":%u,\"first_event\":", tl.n,
            mf_split_name(mf_vocab_split(v, tl.subject.p, tl.subject.n)), mf_vocab_size(v));
        if (ft[0])
            mf_buf_json_string(&b, ft, strlen(ft));
        else
            mf_buf_puts(&b, "null");
        if (have_age)
            mf_buf_printf(&b, ",\"age_at_first_event\":%lld", age);
        else
            mf_buf_puts(&b, ",\"age_at_first_event\":null");
        mf_buf_printf(&b, ",\"n_prefix\":%zu,\"n_body\":%zu,\"truncated\":%s,\"tokens\":[", np,
                      tk.n, shown < tk.n ? "true" : "false");
        for (size_t i = 0; i < np; i++)
            put_token(&b, v, prefix[i], INT64_MIN, 1, 1, i == 0);
        for (size_t i = 0; i < shown; i++)
            put_token(&b, v, tk.tok[i], tk.time[i], 0, 1, np + i == 0);
        mf_buf_puts(&b, "\n]}\n");
    } else {
        mf_buf_printf(&b, "patient %.*s: %zu events, %zu prefix + %zu tokens (%s split)\n",
                      (int)tl.subject.n, tl.subject.p, tl.n, np, tk.n,
                      mf_split_name(mf_vocab_split(v, tl.subject.p, tl.subject.n)));
        if (have_age)
            mf_buf_printf(&b, "first event %s, age %lld\n", ft, age);
        else
            mf_buf_printf(&b, "first event %s, age unknown\n", ft[0] ? ft : "(none)");
        mf_buf_printf(&b, "%-27s %6s  %s\n", "time", "id", "token");
        for (size_t i = 0; i < np; i++)
            put_token(&b, v, prefix[i], INT64_MIN, 1, 0, 0);
        for (size_t i = 0; i < shown; i++)
            put_token(&b, v, tk.tok[i], tk.time[i], 0, 0, 0);
        if (shown < tk.n)
            mf_buf_printf(&b, "... %zu more tokens\n", tk.n - shown);
    }
    if (b.len && fwrite(b.data, 1, b.len, stdout) != b.len) {
        fprintf(stderr, "medfm: cannot write the output\n");
        goto out;
    }
    rc = 0;
out:
    free(prefix);
    mf_buf_release(&b);
    mf_tokens_free(&tk);
    mf_store_close(s);
    mf_vocab_free(v);
    return rc;
}
