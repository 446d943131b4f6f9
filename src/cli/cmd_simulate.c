/* cmd_simulate.c - `medfm simulate`: sampled futures of one patient, with what-if codes. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/timeutil.h"

static const char *const stop_name[] = {"death", "timeline_end", "horizon", "length"};

static const char NOTE[] =
    "What-if differences are associations the model learned from observational records, not "
    "causal effects: they show how futures that begin with the code differ, not what the code "
    "would cause.";

/* One arm: the futures after the prompt with (or without) an inserted code. */
struct arm {
    const char *code; /* NULL: no intervention */
    uint32_t tok;
    struct mf_futures fs;
    struct mf_risk risk;
    uint32_t *seen; /* [V] futures in which each token appears */
};

/* Futures containing each token (once per future). */
static int count_tokens(struct arm *a, uint32_t V)
{
    a->seen = calloc(V, sizeof *a->seen);
    uint8_t *mark = calloc(V, 1);
    if (a->seen == NULL || mark == NULL) {
        free(mark);
        return -1;
    }
    for (size_t f = 0; f < a->fs.n; f++) {
        const struct mf_future *fu = &a->fs.f[f];
        for (size_t i = 0; i < fu->n; i++)
            if (!mark[fu->tok[i]]) {
                mark[fu->tok[i]] = 1;
                a->seen[fu->tok[i]]++;
            }
        for (size_t i = 0; i < fu->n; i++)
            mark[fu->tok[i]] = 0;
    }
    free(mark);
    return 0;
}

static const struct arm *sort_arm;
static int by_count(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    if (sort_arm->seen[a] != sort_arm->seen[b])
        return sort_arm->seen[a] > sort_arm->seen[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

static void put_time(struct mf_buf *b, int64_t t)
{
    char s[32];
    mf_time_format(t, s);
    mf_buf_json_string(b, s, strlen(s));
}

static void put_num(struct mf_buf *b, double v)
{
    if (isnan(v))
        mf_buf_puts(b, "null");
    else
        mf_buf_put_double(b, v);
}

static void json_futures(struct mf_buf *b, const struct mf_vocab *v, const struct arm *a,
                         int64_t at)
{
    mf_buf_puts(b, "\"futures\":[");
    for (size_t f = 0; f < a->fs.n; f++) {
        const struct mf_future *fu = &a->fs.f[f];
        mf_buf_printf(b, "%s{\"stop\":\"%s\",\"tokens\":%zu,\"events\":[", f ? "," : "",
                      stop_name[fu->stop], fu->n);
        int open = 0;
        for (size_t i = 0; i < fu->n; i++) {
            enum mf_tok_kind k = mf_vocab_kind(v, fu->tok[i]);
            const char *text = mf_vocab_token(v, fu->tok[i]);
            if (k == MF_TOK_QUANTILE && open) {
                mf_buf_puts(b, ",\"decile\":");
                mf_buf_json_string(b, text, strlen(text));
                continue;
            }
            if (k != MF_TOK_CODE && fu->tok[i] != MF_TOK_TIMELINE_END)
                continue;
            if (open)
                mf_buf_putc(b, '}');
            mf_buf_puts(b, open ? ",{\"time\":" : "{\"time\":");
            put_time(b, at + fu->dt[i]);
            mf_buf_puts(b, ",\"code\":");
            mf_buf_json_string(b, text, strlen(text));
            open = 1;
        }
        mf_buf_puts(b, open ? "}]}" : "]}");
    }
    mf_buf_putc(b, ']');
}

int cmd_simulate(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *patient = NULL, *at_s = NULL, *horizon_s = NULL;
    const char *task_path = NULL, *temp_s = NULL, *top_p_s = NULL;
    int samples = 20, max_new = 512, seed = 1, json = 0, top = 15, allow = 0;
    struct opt_list iv = {{0}, 0};
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"store", OPT_STRING, &store, "STORE", "the event store holding the patient"},
        {"patient", OPT_STRING, &patient, "ID", "the patient's id in the store"},
        {"at", OPT_STRING, &at_s, "TIME",
         "start the futures here (ISO 8601; default: the last event, or the last before a "
         "recorded death)"},
        {"samples", OPT_INT, &samples, "N", "futures to sample (default 20)"},
        {"horizon", OPT_STRING, &horizon_s, "DUR", "how far each future runs (default 1y)"},
        {"max-new", OPT_INT, &max_new, "N", "tokens per future at most (default 512)"},
        {"temperature", OPT_STRING, &temp_s, "T", "sampling temperature (default 1)"},
        {"top-p", OPT_STRING, &top_p_s, "P", "nucleus sampling mass (default 1: off)"},
        {"seed", OPT_INT, &seed, "N", "random seed (default 1)"},
        {"intervention", OPT_LIST, &iv, "CODE",
         "also simulate with this code inserted at the start (repeatable)"},
        {"task", OPT_STRING, &task_path, "TASK.yaml",
         "report this task's risk, the start time taken as its trigger"},
        {"top", OPT_INT, &top, "N", "codes listed in the text output (default 15)"},
        {"allow-vocabulary-mismatch", OPT_FLAG, &allow, NULL,
         "go on when the store's codes are unknown to the model"},
        {"json", OPT_FLAG, &json, NULL, "print every future and the frequencies as JSON"},
    };
    const struct cmd_help help = {
        "medfm simulate --model M --store S --patient ID [--at TIME] [--samples N] [--horizon 1y]\n"
        "                      [--intervention CODE]... [--task TASK.yaml] [--json]",
        "Sample possible futures of one patient from the model: the patient's record up to\n"
        "--at (default: the last event) is the prompt; each future runs until death, the end\n"
        "of the timeline, the horizon, or --max-new tokens.  Prints how often each code occurs\n"
        "in the futures (with a 95% Wilson interval) and, with --task, the task's risk.  Each\n"
        "--intervention CODE samples the same number of futures that start with CODE, with the\n"
        "same random streams, and reports the differences.  Those differences are the model's\n"
        "associations, not causal effects.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm simulate --model model/ --store store/ --patient 1f0c... --horizon 1y "
        "\\\n"
        "      --intervention RxNorm/314076 --json"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || !patient) {
        fprintf(stderr, "medfm: simulate needs --model, --store and --patient\nusage: %s\n",
                help.usage);
        return 2;
    }
    if (samples < 1 || samples > 4096 || max_new < 1 || max_new > 1 << 20 || top < 0) {
        fprintf(stderr, "medfm: --samples must be 1..4096, --max-new 1..1048576, --top >= 0\n");
        return 2;
    }
    int64_t horizon = 0;
    double temp = 1, top_p = 1;
    if (infer_parse_sampling(horizon_s, temp_s, top_p_s, &horizon, &temp, &top_p) != 0)
        return 2;
    int64_t at = 0;
    if (at_s && mf_time_parse(at_s, strlen(at_s), &at) != 0) {
        fprintf(stderr, "medfm: --at takes an ISO 8601 time such as 2020-03-01T12:00:00Z\n");
        return 2;
    }

    struct infer_ctx c;
    if (infer_ctx_open(&c, model, store, task_path, samples, allow) != 0)
        return 1;
    const struct mf_vocab *v = mf_infer_vocab(c.in);
    const uint32_t V = mf_vocab_size(v);
    struct mf_err err = {0};
    struct mf_timeline tl;
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0}, arm_pr = {0};
    struct mf_task_evbuf hist = {0};
    struct mf_buf b = MF_BUF_INIT;
    struct arm arms[OPT_LIST_MAX + 1];
    memset(arms, 0, sizeof arms);
    int narms = 1 + iv.n, rc = 1;
    uint32_t *order = NULL;
    for (int i = 0; i < iv.n; i++) {
        int64_t id = mf_vocab_id(v, iv.v[i], strlen(iv.v[i]));
        if (id < 0 || mf_vocab_kind(v, (uint32_t)id) != MF_TOK_CODE) {
            fprintf(stderr, "medfm: --intervention %s: not a code in the model's vocabulary\n",
                    iv.v[i]);
            goto out;
        }
        arms[i + 1].code = iv.v[i];
        arms[i + 1].tok = (uint32_t)id;
    }
    if (mf_store_find(c.store, patient, strlen(patient), &tl) != 0) {
        fprintf(stderr, "medfm: no patient with that id in the store\n");
        goto out;
    }
    /* the record: from the first timed event to the last one, or to the death (futures
     * start before it) */
    int64_t first = INT64_MAX, last = INT64_MIN, death = INT64_MAX;
    int64_t death_code = mf_store_code_id(c.store, "MEDS_DEATH", 10);
    for (size_t i = 0; i < tl.n; i++)
        if (tl.time[i] != MF_TIME_NONE) {
            if (death_code >= 0 && tl.code[i] == (uint32_t)death_code && tl.time[i] < death)
                death = tl.time[i];
            first = tl.time[i] < first ? tl.time[i] : first;
        }
    for (size_t i = 0; i < tl.n; i++)
        if (tl.time[i] != MF_TIME_NONE && tl.time[i] < death && tl.time[i] > last)
            last = tl.time[i];
    if (first == INT64_MAX || last == INT64_MIN) {
        fprintf(stderr, "medfm: the patient has no timed events before a death\n");
        goto out;
    }
    if (!at_s)
        at = last;
    if (at >= death) {
        fprintf(stderr, "medfm: --at is at or after the patient's recorded death\n");
        goto out;
    }
    if (at < first || at > last) {
        fprintf(stderr, "medfm: --at is outside the patient's record (before its first or after "
                        "its last event)\n");
        goto out;
    }
    if (mf_tokenize(v, c.store, &tl, &tk, &err) != 0 || mf_infer_prompt(c.in, &tk, at, &pr, &err)) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (c.task && mf_task_evbuf_timeline(c.task, c.store_masks, &tl, at, &hist) != 0) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    struct mf_sim_opts so = {samples,      max_new,        horizon, (float)temp,
                             (float)top_p, (uint64_t)seed, 0};
    struct mf_task_events hev = mf_task_evbuf_events(&hist);
    double secs = 0;
    uint64_t gen = 0;
    for (int a = 0; a < narms; a++) {
        arm_pr.n = 0;
        arm_pr.n_prefix = pr.n_prefix;
        arm_pr.end = pr.end;
        arm_pr.at = pr.at;
        if (mf_prompt_append(&arm_pr, pr.tok, pr.n) ||
            (arms[a].code && mf_prompt_append(&arm_pr, &arms[a].tok, 1))) {
            fprintf(stderr, "medfm: out of memory\n");
            goto out;
        }
        if (mf_infer_simulate(c.in, &arm_pr, &so, &arms[a].fs, &err) != 0 ||
            (c.task && mf_infer_task_risk(c.task, v, c.tok_masks, &hev, at, at, &arms[a].fs,
                                          &arms[a].risk, &err) != 0)) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
        if (count_tokens(&arms[a], V) != 0) {
            fprintf(stderr, "medfm: out of memory\n");
            goto out;
        }
        secs += arms[a].fs.seconds;
        gen += arms[a].fs.tokens_generated;
    }
    fprintf(stderr, "medfm: %d arm%s x %d futures, %llu tokens generated in %.2f s (%.0f/s)\n",
            narms, narms > 1 ? "s" : "", samples, (unsigned long long)gen, secs,
            secs > 0 ? (double)gen / secs : 0.0);

    /* codes in any future, most frequent first (in the first arm) */
    order = malloc(V * sizeof *order);
    if (order == NULL) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    uint32_t nc = 0;
    for (uint32_t t = 0; t < V; t++) {
        int any = 0;
        for (int a = 0; a < narms; a++)
            any |= arms[a].seen[t] > 0;
        if (any && mf_vocab_kind(v, t) == MF_TOK_CODE)
            order[nc++] = t;
    }
    sort_arm = &arms[0];
    qsort(order, nc, sizeof *order, by_count);

    if (json) {
        mf_buf_puts(&b, "{\"patient\":");
        mf_buf_json_string(&b, tl.subject.p, tl.subject.n);
        mf_buf_puts(&b, ",\"at\":");
        put_time(&b, at);
        mf_buf_printf(&b, ",\"model_sha256\":\"%s\",\"samples\":%d,\"horizon_days\":",
                      mf_infer_model_sha256(c.in), samples);
        mf_buf_put_double(&b, (double)horizon / (double)MF_USEC_PER_DAY);
        mf_buf_printf(&b, ",\"max_new\":%d,\"temperature\":", max_new);
        mf_buf_put_double(&b, temp);
        mf_buf_puts(&b, ",\"top_p\":");
        mf_buf_put_double(&b, top_p);
        mf_buf_printf(&b, ",\"seed\":%d,\"note\":", seed);
        mf_buf_json_string(&b, NOTE, strlen(NOTE));
        mf_buf_puts(&b, ",\"arms\":[");
        for (int a = 0; a < narms; a++) {
            const struct arm *A = &arms[a];
            mf_buf_puts(&b, a ? ",{\"intervention\":" : "{\"intervention\":");
            if (A->code)
                mf_buf_json_string(&b, A->code, strlen(A->code));
            else
                mf_buf_puts(&b, "null");
            if (c.task) {
                mf_buf_puts(&b, ",\"task\":{\"name\":");
                const char *tn = mf_task_name(c.task);
                mf_buf_json_string(&b, tn, strlen(tn));
                mf_buf_printf(&b, ",\"decided\":%u,\"positive\":%u,\"risk\":", A->risk.decided,
                              A->risk.positive);
                put_num(&b, A->risk.p);
                mf_buf_puts(&b, ",\"ci_low\":");
                put_num(&b, A->risk.lo);
                mf_buf_puts(&b, ",\"ci_high\":");
                put_num(&b, A->risk.hi);
                if (a > 0) {
                    mf_buf_puts(&b, ",\"difference\":");
                    put_num(&b, A->risk.p - arms[0].risk.p);
                }
                mf_buf_putc(&b, '}');
            }
            mf_buf_puts(&b, ",\"outcomes\":{");
            for (uint32_t k = 0; k < nc; k++) {
                const char *text = mf_vocab_token(v, order[k]);
                double lo, hi, p = (double)A->seen[order[k]] / samples;
                mf_binom_ci(A->seen[order[k]], (uint64_t)samples, 0.95, &lo, &hi);
                if (k)
                    mf_buf_putc(&b, ',');
                mf_buf_json_string(&b, text, strlen(text));
                mf_buf_puts(&b, ":{\"frequency\":");
                mf_buf_put_double(&b, p);
                mf_buf_puts(&b, ",\"ci_low\":");
                mf_buf_put_double(&b, lo);
                mf_buf_puts(&b, ",\"ci_high\":");
                mf_buf_put_double(&b, hi);
                if (a > 0) {
                    mf_buf_puts(&b, ",\"difference\":");
                    mf_buf_put_double(&b, p - (double)arms[0].seen[order[k]] / samples);
                }
                mf_buf_putc(&b, '}');
            }
            mf_buf_puts(&b, "},");
            json_futures(&b, v, A, at);
            mf_buf_putc(&b, '}');
        }
        mf_buf_puts(&b, "]}\n");
    } else {
        char ts[32];
        mf_time_format(at, ts);
        mf_buf_printf(&b, "futures from %s: %d per arm, horizon %.0f days, model %.12s\n", ts,
                      samples, (double)horizon / (double)MF_USEC_PER_DAY,
                      mf_infer_model_sha256(c.in));
        for (int a = 0; a < narms; a++) {
            unsigned stops[4] = {0};
            for (size_t f = 0; f < arms[a].fs.n; f++)
                stops[arms[a].fs.f[f].stop]++;
            mf_buf_printf(&b, "%-28s stopped by death %u, end %u, horizon %u, length %u\n",
                          arms[a].code ? arms[a].code : "(as recorded)", stops[0], stops[1],
                          stops[2], stops[3]);
        }
        mf_buf_printf(&b, "\n%-32s", "share of futures with");
        for (int a = 0; a < narms; a++)
            mf_buf_printf(&b, " %-22s", a ? arms[a].code : "(as recorded)");
        mf_buf_putc(&b, '\n');
        if (c.task) {
            mf_buf_printf(&b, "task %-27s", mf_task_name(c.task));
            for (int a = 0; a < narms; a++) {
                const struct mf_risk *R = &arms[a].risk;
                if (isnan(R->p))
                    mf_buf_printf(&b, " %-22s", "undecided");
                else
                    mf_buf_printf(&b, " %.2f [%.2f, %.2f]%-6s", R->p, R->lo, R->hi, "");
            }
            mf_buf_putc(&b, '\n');
        }
        for (uint32_t k = 0; k < nc && k < (uint32_t)top; k++) {
            const char *text = mf_vocab_token(v, order[k]);
            mf_buf_printf(&b, "%-32.32s", text);
            for (int a = 0; a < narms; a++) {
                double lo, hi, p = (double)arms[a].seen[order[k]] / samples;
                mf_binom_ci(arms[a].seen[order[k]], (uint64_t)samples, 0.95, &lo, &hi);
                mf_buf_printf(&b, " %.2f [%.2f, %.2f]%-6s", p, lo, hi, "");
            }
            mf_buf_putc(&b, '\n');
        }
        if (narms > 1)
            mf_buf_printf(&b, "\nnote: %s\n", NOTE);
    }
    if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
        fprintf(stderr, "medfm: cannot write the output\n");
        goto out;
    }
    rc = 0;
out:
    for (int a = 0; a < narms; a++) {
        mf_futures_free(&arms[a].fs);
        free(arms[a].seen);
    }
    free(order);
    mf_buf_release(&b);
    mf_task_evbuf_free(&hist);
    mf_prompt_free(&pr);
    mf_prompt_free(&arm_pr);
    mf_tokens_free(&tk);
    infer_ctx_close(&c);
    return rc;
}
