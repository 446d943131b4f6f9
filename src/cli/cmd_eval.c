/* cmd_eval.c - `medfm eval`: a model's tasks evaluated beside baselines, with bootstrap
 * intervals, subgroups and (on a synthetic cohort) the true risk as an oracle; writes
 * REPORT_DIR/metrics.json and report.html. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "eval/baseline.h"
#include "eval/eval.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/truth.h"
#include "infer/probe.h"
#include "store/demog.h"

#define MAX_THRESHOLDS 16

/* One evaluated sample: a patient's timeline (in the store it came from), the trigger and
 * prediction time, the store's label, the patient's cluster, the true risk (truth mode). */
struct erow {
    struct mf_timeline tl;
    int64_t trigger, index;
    int label;
    uint32_t cluster;
    double truth;
};
struct rowset {
    struct erow *r;
    size_t n, cap;
    uint32_t n_clusters;
};

static void rowset_free(struct rowset *s)
{
    free(s->r);
    memset(s, 0, sizeof *s);
}

static int rowset_push(struct rowset *s, const struct erow *r)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 256;
        struct erow *p = realloc(s->r, nc * sizeof *p);
        if (p == NULL)
            return -1;
        s->r = p;
        s->cap = nc;
    }
    s->r[s->n++] = *r;
    return 0;
}

/* A note of the report, also printed as a warning. */
static void add_note(cJSON *notes, const char *fmt, ...)
{
    char note[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(notes, cJSON_CreateString(note));
    fprintf(stderr, "medfm: warning: %s\n", note);
}

struct opts_eval {
    int samples, per_patient, seed, max_new, limit, train_limit, bootstrap, effects, min_group;
    int probe, logreg, xgboost, threads;
    double thresholds[MAX_THRESHOLDS];
    size_t n_thresholds;
    int64_t horizon;
    double temp, top_p;
};

/* The samples of a task in one split of a store (split -1: all), at most per_patient per
 * patient, the first limit of them (0: all). */
static int task_rows(struct infer_ctx *c, const struct mf_store *s, int split,
                     const struct opts_eval *o, size_t limit, struct rowset *out)
{
    struct mf_err err = {0};
    struct mf_task_row *rows = NULL;
    size_t n = 0;
    int saved = c->split;
    c->split = split;
    struct mf_task_store_opts lo = {infer_ctx_keep, c, (size_t)o->per_patient, (uint64_t)o->seed};
    int rc = mf_task_label_store(c->task, s, &lo, &rows, &n, &err);
    c->split = saved;
    if (rc) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    if (limit && n > limit)
        n = limit;
    for (size_t i = 0; i < n; i++) {
        struct erow e = {{{NULL, 0}, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0},
                         rows[i].trigger,
                         rows[i].index,
                         rows[i].label,
                         0,
                         NAN};
        if (mf_store_shard_timeline(s, rows[i].shard, rows[i].patient, &e.tl) != 0) {
            fprintf(stderr, "medfm: cannot read a timeline of the store\n");
            free(rows);
            return 1;
        }
        if (i == 0 || rows[i].shard != rows[i - 1].shard || rows[i].patient != rows[i - 1].patient)
            out->n_clusters++;
        e.cluster = out->n_clusters - 1;
        if (rowset_push(out, &e) != 0) {
            fprintf(stderr, "medfm: out of memory\n");
            free(rows);
            return 1;
        }
    }
    free(rows);
    return 0;
}

/* The samples of a task at the cohort's index dates (split -1: all), the first limit of them
 * (0: all): the truth rows of the task's outcome (the cohort's outcome code its label predicate
 * matches) and horizon (in days), whose windows hold, labelled from the store.  *outcome_out
 * is NULL when the task has no outcome or horizon the truth covers. */
static int truth_rows(struct infer_ctx *c, const char *truth_dir, int split, size_t limit,
                      const char **outcome_out, struct rowset *out)
{
    int64_t h = mf_task_horizon(c->task);
    int64_t day = 86400LL * 1000000LL;
    uint64_t lm = mf_task_label_mask(c->task);
    static const char *const outcomes[] = {
        "MEDS_DEATH",       "SNOMED/59621000",  "SNOMED/55822004",  "SNOMED/44054006",
        "SNOMED/162864005", "SNOMED/433144002", "SNOMED/431857002", "SNOMED/46177005",
        "SNOMED/88805009",  "SNOMED/49436004",  "SNOMED/22298006",  "SNOMED/230690007",
        "SNOMED/185086009", "SNOMED/370143000", "SNOMED/363406005", "SNOMED/254637007"};
    const char *outcome = NULL;
    for (size_t k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++)
        if (mf_task_match_code(c->task, outcomes[k], strlen(outcomes[k])) & lm) {
            outcome = outcomes[k];
            break;
        }
    if (outcome == NULL || h <= 0 || h % day != 0) {
        fprintf(stderr,
                "medfm: warning: task '%s' has no outcome or fixed horizon the cohort's truth "
                "covers: evaluated on its own triggers, without the oracle\n",
                mf_task_name(c->task));
        *outcome_out = NULL;
        return 0;
    }
    *outcome_out = outcome;
    char path[4096];
    struct mf_err err = {0};
    struct mf_truth truth = {0}, *tr = &truth;
    if (mf_truth_path(truth_dir, "risk.csv", path, sizeof path) != 0) {
        fprintf(stderr, "medfm: --truth %s: no truth/risk.csv there\n", truth_dir);
        return 1;
    }
    if (mf_truth_read(path, 0, outcome, (int)(h / day), tr, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        mf_truth_free(tr);
        return 1;
    }
    int saved = c->split;
    c->split = split;
    struct mf_strmap clusters;
    mf_strmap_init(&clusters);
    struct mf_task_evbuf ev = {0};
    size_t missing = 0, excluded = 0, kept = 0, other = 0;
    int rc = 0;
    for (size_t i = 0; i < tr->n && rc == 0; i++) {
        const struct mf_truth_row *t = &tr->rows[i];
        struct erow e;
        memset(&e, 0, sizeof e);
        if (mf_store_find(c->store, t->patient, strlen(t->patient), &e.tl) != 0) {
            missing++;
            continue;
        }
        if (!infer_ctx_keep(c, e.tl.subject.p, e.tl.subject.n)) {
            other++;
            continue;
        }
        ev.n = 0;
        if (mf_task_evbuf_timeline(c->task, c->store_masks, &e.tl, INT64_MAX, &ev) != 0) {
            rc = 1;
            break;
        }
        struct mf_task_events te = mf_task_evbuf_events(&ev);
        int lab = mf_task_label_at(c->task, &te, t->index, &e.index);
        if (lab == MF_TASK_EXCLUDED) {
            excluded++;
            continue;
        }
        int added = 0;
        struct mf_strmap_slot *sl =
            mf_strmap_upsert(&clusters, t->patient, strlen(t->patient), &added);
        if (sl == NULL) {
            rc = 1;
            break;
        }
        if (added)
            sl->value = out->n_clusters++;
        e.cluster = (uint32_t)sl->value;
        e.trigger = t->index;
        e.label = lab;
        e.truth = t->p;
        rc = rowset_push(out, &e) != 0;
        kept++;
        if (limit && kept >= limit)
            break;
    }
    c->split = saved;
    mf_task_evbuf_free(&ev);
    mf_strmap_free(&clusters);
    size_t n_truth = tr->n;
    mf_truth_free(tr);
    if (rc) {
        fprintf(stderr, "medfm: out of memory\n");
        return 1;
    }
    if (n_truth && missing == n_truth) {
        fprintf(stderr,
                "medfm: none of the cohort's patients is in the store: --truth needs the cohort "
                "ingested without de-identification (medfm ingest --no-deid), whose patient ids "
                "and times are the cohort's own\n");
        return 1;
    }
    fprintf(stderr,
            "medfm: %s (%s): %zu truth rows of %s within %lld days; %zu samples kept, %zu of "
            "other splits, %zu of patients not in the store, %zu excluded by the task's "
            "windows\n",
            mf_task_name(c->task), split < 0 ? "all" : mf_split_name((enum mf_split)split), n_truth,
            outcome, (long long)(h / day), kept, other, missing, excluded);
    return 0;
}

/* A tokenized timeline, kept while consecutive rows share it. */
struct tokcache {
    const char *subject;
    const struct mf_store *store;
    struct mf_tokens tk;
};

static int tokens_of(struct infer_ctx *c, const struct mf_store *s, const struct erow *r,
                     struct tokcache *tc, struct mf_err *err)
{
    if (tc->subject == r->tl.subject.p && tc->store == s)
        return 0;
    tc->subject = NULL;
    int rc = mf_tokenize(mf_infer_vocab(c->in), s, &r->tl, &tc->tk, err);
    if (rc == 0) {
        tc->subject = r->tl.subject.p;
        tc->store = s;
    }
    return rc;
}

/* The zero-shot risk of one row, with an extra code at the prediction time when tok is not
 * UINT32_MAX. */
static int zero_shot(struct infer_ctx *c, const struct erow *r, struct tokcache *tc, uint32_t tok,
                     const struct mf_sim_opts *so, struct mf_risk *risk, struct mf_err *err)
{
    struct mf_prompt pr = {0};
    struct mf_futures fs = {0};
    struct mf_task_evbuf hist = {0};
    int rc = tokens_of(c, c->store, r, tc, err);
    if (rc == 0)
        rc = mf_infer_prompt(c->in, &tc->tk, r->index, &pr, err);
    if (rc == 0 && tok != UINT32_MAX && mf_prompt_append(&pr, &tok, 1) != 0)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc == 0 && mf_task_evbuf_timeline(c->task, c->store_masks, &r->tl, r->index, &hist) != 0)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mf_infer_simulate(c->in, &pr, so, &fs, err);
    if (rc == 0) {
        struct mf_task_events hev = mf_task_evbuf_events(&hist);
        rc = mf_infer_task_risk(c->task, mf_infer_vocab(c->in), c->tok_masks, &hev, r->trigger,
                                r->index, &fs, risk, err);
    }
    mf_task_evbuf_free(&hist);
    mf_futures_free(&fs);
    mf_prompt_free(&pr);
    return rc;
}

static int embed_rows(struct infer_ctx *c, const struct mf_store *s, const struct rowset *rs,
                      float *out, const char *what)
{
    const size_t dim = (size_t)mf_infer_config(c->in)->dim;
    struct tokcache tc = {0};
    struct mf_prompt pr = {0};
    struct mf_err err = {0};
    struct mf_progress prog;
    int rc = 0;
    mf_progress_start(&prog, what, "samples", (int64_t)rs->n);
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        rc = tokens_of(c, s, &rs->r[i], &tc, &err);
        if (rc == 0)
            rc = mf_infer_prompt(c->in, &tc.tk, rs->r[i].index, &pr, &err);
        if (rc == 0)
            rc = mf_infer_embed(c->in, &pr, out + i * dim, &err);
        mf_progress_add(&prog, 1);
    }
    mf_progress_finish(&prog);
    mf_prompt_free(&pr);
    mf_tokens_free(&tc.tk);
    if (rc)
        fprintf(stderr, "medfm: %s\n", err.msg);
    return rc ? 1 : 0;
}

static int *labels_of(const struct rowset *rs)
{
    int *y = malloc((rs->n ? rs->n : 1) * sizeof *y);
    for (size_t i = 0; y && i < rs->n; i++)
        y[i] = rs->r[i].label;
    return y;
}

static size_t positives(const struct rowset *rs)
{
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++)
        k += rs->r[i].label == 1;
    return k;
}

/* The training material of the probe and the baselines: the train and tuning samples. */
struct trainset {
    const struct mf_store *store;
    struct rowset train, tune;
};

/* Probe: fit on the embeddings of train (C chosen on tune), predict test into p. */
static int run_probe(struct infer_ctx *c, const struct trainset *ts, const struct rowset *test,
                     const struct opts_eval *o, double *p, cJSON *notes)
{
    const size_t dim = (size_t)mf_infer_config(c->in)->dim;
    float *xt = malloc((ts->train.n ? ts->train.n : 1) * dim * sizeof *xt);
    float *xu = malloc((ts->tune.n ? ts->tune.n : 1) * dim * sizeof *xu);
    float *xe = malloc((test->n ? test->n : 1) * dim * sizeof *xe);
    int *yt = labels_of(&ts->train), *yu = labels_of(&ts->tune);
    struct mf_probe *probe = NULL;
    struct mf_err err = {0};
    int rc = 1;
    if (!xt || !xu || !xe || !yt || !yu) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    if (embed_rows(c, ts->store, &ts->train, xt, "embed train") ||
        embed_rows(c, ts->store, &ts->tune, xu, "embed tuning") ||
        embed_rows(c, c->store, test, xe, "embed test"))
        goto out;
    struct mf_probe_opts po = {0, (uint64_t)o->seed, NULL, 0};
    if (mf_probe_fit(xt, yt, ts->train.n, xu, yu, ts->tune.n, dim, &po, &probe, &err) != 0) {
        add_note(notes, "%s: medfm probe not fitted: %s", mf_task_name(c->task), err.msg);
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < test->n; i++)
        p[i] = mf_probe_predict(probe, xe + i * dim);
    rc = 0;
out:
    mf_probe_free(probe);
    free(xt);
    free(xu);
    free(xe);
    free(yt);
    free(yu);
    return rc;
}

static struct mf_feature_row *feature_rows(const struct rowset *rs)
{
    struct mf_feature_row *f = malloc((rs->n ? rs->n : 1) * sizeof *f);
    for (size_t i = 0; f && i < rs->n; i++)
        f[i] = (struct mf_feature_row){&rs->r[i].tl, rs->r[i].index};
    return f;
}

/* Logistic regression and XGBoost on code counts, age and sex: p_lr / p_xgb (NULL: not
 * wanted).  Returns 0, 1 on failure, 2 when they cannot be fitted (noted). */
static int run_baselines(struct infer_ctx *c, const struct trainset *ts, const struct rowset *test,
                         const struct opts_eval *o, double *p_lr, double *p_xgb, cJSON *notes)
{
    struct mf_features f = {0};
    struct mf_err err = {0};
    struct mf_feature_row *ft = feature_rows(&ts->train), *fu = feature_rows(&ts->tune);
    struct mf_feature_row *fe = feature_rows(test);
    float *xt = NULL, *xu = NULL, *xe = NULL;
    int *yt = labels_of(&ts->train), *yu = labels_of(&ts->tune);
    struct mf_probe *lr = NULL;
    int rc = 1;
    if (!ft || !fu || !fe || !yt || !yu) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    if (mf_features_choose(ts->store, ft, ts->train.n, 5, 4096, &f, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    size_t dim = mf_features_dim(&f);
    xt = malloc((ts->train.n ? ts->train.n : 1) * dim * sizeof *xt);
    xu = malloc((ts->tune.n ? ts->tune.n : 1) * dim * sizeof *xu);
    xe = malloc((test->n ? test->n : 1) * dim * sizeof *xe);
    if (!xt || !xu || !xe) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    if (mf_features_build(&f, ts->store, ft, ts->train.n, xt, &err) != 0 ||
        mf_features_build(&f, ts->store, fu, ts->tune.n, xu, &err) != 0 ||
        (ts->store != c->store && mf_features_rebind(&f, c->store, &err) != 0) ||
        mf_features_build(&f, c->store, fe, test->n, xe, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "medfm: %s: baselines on %zu features (%zu codes, age, sex)\n",
            mf_task_name(c->task), dim, f.n_code_cols);
    rc = 0;
    if (p_lr) {
        struct mf_probe_opts po = {0, (uint64_t)o->seed, NULL, 0};
        if (mf_probe_fit(xt, yt, ts->train.n, xu, yu, ts->tune.n, dim, &po, &lr, &err) != 0) {
            add_note(notes, "%s: logistic regression not fitted: %s", mf_task_name(c->task),
                     err.msg);
            mf_err_clear(&err);
            rc = 2;
            for (size_t i = 0; i < test->n; i++)
                p_lr[i] = NAN;
        } else {
            for (size_t i = 0; i < test->n; i++)
                p_lr[i] = mf_probe_predict(lr, xe + i * dim);
        }
    }
    if (p_xgb) {
        struct mf_xgb_info info;
        size_t pos = positives(&ts->train);
        if (pos == 0 || pos == ts->train.n) {
            add_note(notes, "%s: XGBoost not fitted: the training samples hold one class only",
                     mf_task_name(c->task));
            for (size_t i = 0; i < test->n; i++)
                p_xgb[i] = NAN;
            rc = 2;
        } else if (mf_xgb_fit_predict(xt, yt, ts->train.n, xu, yu, ts->tune.n, xe, test->n, dim,
                                      1000, o->threads, (uint64_t)o->seed, p_xgb, &info,
                                      &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            rc = 1;
        } else {
            fprintf(stderr, "medfm: %s: XGBoost used %d rounds\n", mf_task_name(c->task),
                    info.rounds);
        }
    }
out:
    mf_probe_free(lr);
    mf_features_free(&f);
    free(ft);
    free(fu);
    free(fe);
    free(xt);
    free(xu);
    free(xe);
    free(yt);
    free(yu);
    return rc;
}

/* Subgroup attributes of the test rows. */
struct attrs {
    struct mf_eval_attr a[4];
    int *group[4];
    char **names[4];
    size_t n_names[4];
};

static void attrs_free(struct attrs *at)
{
    for (int k = 0; k < 4; k++) {
        free(at->group[k]);
        for (size_t j = 0; j < at->n_names[k]; j++)
            free(at->names[k][j]);
        free(at->names[k]);
    }
}

static int group_of(struct attrs *at, int k, const char *s, size_t n)
{
    if (s == NULL || n == 0)
        return -1;
    for (size_t j = 0; j < at->n_names[k]; j++)
        if (strlen(at->names[k][j]) == n && strncasecmp(at->names[k][j], s, n) == 0)
            return (int)j;
    char **nn = realloc(at->names[k], (at->n_names[k] + 1) * sizeof *nn);
    if (nn == NULL)
        return -2;
    at->names[k] = nn;
    char *c = malloc(n + 1);
    if (c == NULL)
        return -2;
    for (size_t i = 0; i < n; i++)
        c[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    c[n] = 0;
    nn[at->n_names[k]] = c;
    return (int)at->n_names[k]++;
}

static int attrs_build(const struct mf_store *s, const struct erow *r, size_t n, struct attrs *at)
{
    static const char *const names[4] = {"sex", "age", "race", "ethnicity"};
    memset(at, 0, sizeof *at);
    for (int k = 0; k < 4; k++)
        if ((at->group[k] = malloc((n ? n : 1) * sizeof(int))) == NULL)
            return -1;
    for (size_t i = 0; i < n; i++) {
        struct mf_demog d;
        mf_demog_of(s, &r[i].tl, &d);
        double age = mf_demog_age(&d, r[i].index);
        const char *band = age >= 0 ? mf_demog_age_band(age) : NULL;
        at->group[0][i] = group_of(at, 0, d.sex.p, d.sex.n);
        at->group[1][i] = group_of(at, 1, band, band ? strlen(band) : 0);
        at->group[2][i] = group_of(at, 2, d.race.p, d.race.n);
        at->group[3][i] = group_of(at, 3, d.ethnicity.p, d.ethnicity.n);
        for (int k = 0; k < 4; k++)
            if (at->group[k][i] == -2)
                return -1;
    }
    for (int k = 0; k < 4; k++)
        at->a[k] = (struct mf_eval_attr){names[k], (const char *const *)at->names[k],
                                         at->n_names[k], at->group[k]};
    return 0;
}

/* Effects: for up to o->effects test rows with truth, the model's risk with each treatment of
 * effects.csv minus its risk without (the same random streams), against the true difference. */
struct effect_key {
    const char *patient;
    int64_t index;
};

static int cmp_truth(const void *a, const void *b)
{
    const struct mf_truth_row *x = a, *y = b;
    int c = strcmp(x->patient, y->patient);
    if (c)
        return c;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return strcmp(x->treatment, y->treatment);
}

static cJSON *run_effects(struct infer_ctx *c, const char *truth_dir, const char *outcome,
                          const struct rowset *test, const struct mf_sim_opts *so,
                          const struct opts_eval *o, int *fail)
{
    char path[4096];
    struct mf_err err = {0};
    struct mf_truth ef = {0};
    int64_t day = 86400LL * 1000000LL;
    if (mf_truth_path(truth_dir, "effects.csv", path, sizeof path) != 0)
        return NULL;
    if (mf_truth_read(path, 1, outcome, (int)(mf_task_horizon(c->task) / day), &ef, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        *fail = 1;
        return NULL;
    }
    if (ef.n == 0) {
        mf_truth_free(&ef);
        return NULL;
    }
    qsort(ef.rows, ef.n, sizeof *ef.rows, cmp_truth);
    const struct mf_vocab *v = mf_infer_vocab(c->in);
    size_t cap = 64, n = 0, n_names = 0;
    double *td = malloc(cap * sizeof *td), *md = malloc(cap * sizeof *md);
    uint32_t *cl = malloc(cap * sizeof *cl);
    int *tr = malloc(cap * sizeof *tr);
    const char *names[64];
    struct tokcache tc = {0};
    uint32_t n_cl = 0, last_cluster = UINT32_MAX;
    size_t done = 0;
    cJSON *out = NULL;
    int rc = td && md && cl && tr ? 0 : MF_ENOMEM;
    struct mf_progress prog;
    mf_progress_start(&prog, "effects", "samples", (int64_t)o->effects);
    for (size_t i = 0; i < test->n && done < (size_t)o->effects && rc == 0; i++) {
        const struct erow *r = &test->r[i];
        char pid[512];
        if (r->tl.subject.n >= sizeof pid)
            continue;
        memcpy(pid, r->tl.subject.p, r->tl.subject.n);
        pid[r->tl.subject.n] = 0;
        struct mf_truth_row key = {pid, r->trigger, (char *)"", 0};
        size_t lo = 0, hi = ef.n; /* the first row not before (patient, index) */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_truth(&ef.rows[mid], &key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        double none = NAN;
        while (end < ef.n && strcmp(ef.rows[end].patient, pid) == 0 &&
               ef.rows[end].index == r->trigger) {
            if (strcmp(ef.rows[end].treatment, "none") == 0)
                none = ef.rows[end].p;
            end++;
        }
        if (end == lo || isnan(none))
            continue;
        struct mf_risk base;
        if ((rc = zero_shot(c, r, &tc, UINT32_MAX, so, &base, &err)) != 0 || isnan(base.p))
            continue;
        for (size_t k = lo; k < end && rc == 0; k++) {
            const char *t = ef.rows[k].treatment;
            if (strcmp(t, "none") == 0)
                continue;
            int64_t id = mf_vocab_id(v, t, strlen(t));
            if (id < 0 || mf_vocab_kind(v, (uint32_t)id) != MF_TOK_CODE)
                continue;
            struct mf_risk arm;
            if ((rc = zero_shot(c, r, &tc, (uint32_t)id, so, &arm, &err)) != 0 || isnan(arm.p))
                continue;
            size_t ti = 0;
            while (ti < n_names && strcmp(names[ti], t) != 0)
                ti++;
            if (ti == n_names) {
                if (n_names == 64)
                    continue;
                names[n_names++] = t;
            }
            if (n == cap) {
                cap *= 2;
                double *a = realloc(td, cap * sizeof *a), *b = realloc(md, cap * sizeof *b);
                uint32_t *cc = realloc(cl, cap * sizeof *cc);
                int *tt = realloc(tr, cap * sizeof *tt);
                td = a ? a : td;
                md = b ? b : md;
                cl = cc ? cc : cl;
                tr = tt ? tt : tr;
                if (!a || !b || !cc || !tt) {
                    rc = MF_ENOMEM;
                    break;
                }
            }
            if (r->cluster != last_cluster) {
                last_cluster = r->cluster;
                n_cl++;
            }
            td[n] = ef.rows[k].p - none;
            md[n] = arm.p - base.p;
            cl[n] = n_cl - 1;
            tr[n] = (int)ti;
            n++;
        }
        done++;
        mf_progress_add(&prog, 1);
    }
    mf_progress_finish(&prog);
    if (rc) {
        fprintf(stderr, "medfm: %s\n", err.msg[0] ? err.msg : "out of memory");
        *fail = 1;
    } else if (n > 0) {
        out = mf_eval_effects(td, md, cl, tr, n, n_cl, names, n_names, (uint32_t)o->bootstrap,
                              (uint64_t)o->seed, &err);
        if (out == NULL) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            *fail = 1;
        }
    }
    mf_tokens_free(&tc.tk);
    free(td);
    free(md);
    free(cl);
    free(tr);
    mf_truth_free(&ef);
    return out;
}

/* Evaluate one task; appends its entry to tasks. */
static int eval_task(struct infer_ctx *c, const struct trainset *tsrc, int have_train,
                     const char *truth_dir, const struct opts_eval *o, cJSON *tasks, cJSON *notes)
{
    struct rowset test = {0};
    struct trainset ts = {tsrc->store, {0}, {0}};
    const char *outcome = NULL;
    double *pz = NULL, *pp = NULL, *pl = NULL, *px = NULL, *po = NULL;
    int *y = NULL;
    uint32_t *cl = NULL;
    struct attrs at;
    memset(&at, 0, sizeof at);
    struct tokcache tc = {0};
    int rc = 1;
    const char *tname = mf_task_name(c->task);
    if (truth_dir && truth_rows(c, truth_dir, c->split, (size_t)o->limit, &outcome, &test) != 0)
        goto out;
    if (outcome == NULL && task_rows(c, c->store, c->split, o, (size_t)o->limit, &test) != 0)
        goto out;
    if (test.n == 0 || positives(&test) == 0 || positives(&test) == test.n) {
        add_note(notes,
                 "%s: not evaluated: %zu samples with %zu positives in the evaluated split "
                 "(both classes are needed)",
                 tname, test.n, positives(&test));
        rc = 0;
        goto out;
    }
    size_t n = test.n;
    pz = malloc(n * sizeof *pz);
    pp = malloc(n * sizeof *pp);
    pl = malloc(n * sizeof *pl);
    px = malloc(n * sizeof *px);
    po = malloc(n * sizeof *po);
    if (!pz || !pp || !pl || !px || !po) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    /* medfm zero-shot */
    int64_t th = mf_task_horizon(c->task);
    struct mf_sim_opts so = {
        o->samples,        o->max_new, th > 0 ? th : o->horizon, (float)o->temp, (float)o->top_p,
        (uint64_t)o->seed, 0};
    struct mf_err err = {0};
    struct mf_progress prog;
    size_t undecided = 0;
    mf_progress_start(&prog, "zero-shot", "samples", (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        struct mf_risk risk;
        if (zero_shot(c, &test.r[i], &tc, UINT32_MAX, &so, &risk, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
        pz[i] = risk.p;
        undecided += isnan(risk.p);
        mf_progress_add(&prog, 1);
    }
    mf_progress_finish(&prog);
    /* training material */
    int want_probe = o->probe, want_lr = o->logreg, want_xgb = o->xgboost;
    if ((want_probe || want_lr || want_xgb) && have_train) {
        /* with the truth, trained on the cohort's index dates too: the same kind of sample */
        const char *oc = NULL;
        size_t tl = (size_t)o->train_limit;
        if (outcome && ts.store == c->store) {
            if (truth_rows(c, truth_dir, MF_SPLIT_TRAIN, tl, &oc, &ts.train) != 0 ||
                truth_rows(c, truth_dir, MF_SPLIT_TUNING, tl, &oc, &ts.tune) != 0)
                goto out;
        } else if (task_rows(c, ts.store, MF_SPLIT_TRAIN, o, tl, &ts.train) != 0 ||
                   task_rows(c, ts.store, MF_SPLIT_TUNING, o, tl, &ts.tune) != 0) {
            goto out;
        }
        fprintf(stderr, "medfm: %s: %zu training samples (%zu positive), %zu tuning (%zu)\n", tname,
                ts.train.n, positives(&ts.train), ts.tune.n, positives(&ts.tune));
    }
    for (size_t i = 0; i < n; i++)
        pp[i] = pl[i] = px[i] = po[i] = NAN;
    if (want_probe && have_train) {
        int r = run_probe(c, &ts, &test, o, pp, notes);
        if (r == 1)
            goto out;
        want_probe = r == 0;
    }
    if ((want_lr || want_xgb) && have_train) {
        int r = run_baselines(c, &ts, &test, o, want_lr ? pl : NULL, want_xgb ? px : NULL, notes);
        if (r == 1)
            goto out;
        want_lr = want_lr && !isnan(pl[0]);
        want_xgb = want_xgb && !isnan(px[0]);
    }
    if (!have_train) {
        want_probe = want_lr = want_xgb = 0;
    }
    if (outcome)
        for (size_t i = 0; i < n; i++)
            po[i] = test.r[i].truth;
    /* the rows every predictor scored */
    struct mf_eval_pred preds[5];
    const double *cols[5];
    size_t np = 0;
    int oracle = -1;
    preds[np] = (struct mf_eval_pred){"medfm_zero_shot", "medfm zero-shot",
                                      "share of sampled futures with the outcome", NULL};
    cols[np++] = pz;
    if (want_probe) {
        preds[np] = (struct mf_eval_pred){
            "medfm_probe", "medfm probe",
            "L2 logistic regression (liblinear) on the model's patient embedding", NULL};
        cols[np++] = pp;
    }
    if (want_lr) {
        preds[np] = (struct mf_eval_pred){
            "logreg", "logistic regression",
            "L2 logistic regression (liblinear) on log code counts, age and sex", NULL};
        cols[np++] = pl;
    }
    if (want_xgb) {
        preds[np] = (struct mf_eval_pred){
            "xgboost", "XGBoost", "gradient-boosted trees on log code counts, age and sex", NULL};
        cols[np++] = px;
    }
    if (outcome) {
        oracle = (int)np;
        preds[np] = (struct mf_eval_pred){"oracle", "oracle (true risk)",
                                          "the synthetic cohort's true probability", NULL};
        cols[np++] = po;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        for (size_t k = 0; k < np; k++)
            ok &= isfinite(cols[k][i]);
        if (!ok)
            continue;
        test.r[m] = test.r[i];
        for (size_t k = 0; k < np; k++)
            ((double *)cols[k])[m] = cols[k][i];
        m++;
    }
    if (m < n) {
        add_note(notes,
                 "%s: %zu of %zu samples left out: no sampled future decided the task (%zu) or "
                 "a predictor could not score them",
                 tname, n - m, n, undecided);
    }
    test.n = m;
    /* clusters renumbered densely */
    y = malloc((m ? m : 1) * sizeof *y);
    cl = malloc((m ? m : 1) * sizeof *cl);
    uint32_t *remap = malloc(((size_t)test.n_clusters + 1) * sizeof *remap);
    if (!y || !cl || !remap) {
        free(remap);
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    for (uint32_t k = 0; k <= test.n_clusters; k++)
        remap[k] = UINT32_MAX;
    uint32_t n_cl = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t k = test.r[i].cluster;
        if (remap[k] == UINT32_MAX)
            remap[k] = n_cl++;
        cl[i] = remap[k];
        y[i] = test.r[i].label;
    }
    free(remap);
    if (attrs_build(c->store, test.r, m, &at) != 0) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    for (size_t k = 0; k < np; k++)
        preds[k].p = cols[k];
    struct mf_eval_opts eo = {o->thresholds, o->n_thresholds, (uint32_t)o->bootstrap,
                              (uint64_t)o->seed, (size_t)o->min_group};
    fprintf(stderr,
            "medfm: %s: %zu samples of %u patients, %zu predictors, %d bootstrap "
            "replicates\n",
            tname, m, n_cl, np, o->bootstrap);
    cJSON *tj = mf_eval_task(y, cl, m, n_cl, at.a, 4, preds, np, oracle, &eo, &err);
    if (tj == NULL) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    /* "task" and "horizon_days" first, for readers of the file */
    cJSON *body = tj;
    tj = cJSON_CreateObject();
    cJSON_AddStringToObject(tj, "task", tname);
    int64_t day = 86400LL * 1000000LL;
    if (th > 0)
        cJSON_AddNumberToObject(tj, "horizon_days", (double)th / (double)day);
    else
        cJSON_AddNullToObject(tj, "horizon_days");
    while (body->child) {
        cJSON *it = cJSON_DetachItemViaPointer(body, body->child);
        cJSON_AddItemToObject(tj, it->string, it);
    }
    cJSON_Delete(body);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(tj, "cohort"), "source",
                            outcome ? "truth" : "task");
    int fail = 0;
    cJSON *eff = NULL;
    if (outcome && o->effects > 0)
        eff = run_effects(c, truth_dir, outcome, &test, &so, o, &fail);
    if (fail) {
        cJSON_Delete(tj);
        goto out;
    }
    cJSON_AddItemToObject(tj, "effects", eff ? eff : cJSON_CreateNull());
    cJSON_AddItemToArray(tasks, tj);
    rc = 0;
out:
    attrs_free(&at);
    mf_tokens_free(&tc.tk);
    rowset_free(&test);
    rowset_free(&ts.train);
    rowset_free(&ts.tune);
    free(pz);
    free(pp);
    free(pl);
    free(px);
    free(po);
    free(y);
    free(cl);
    return rc;
}

static int parse_thresholds(const char *s, struct opts_eval *o)
{
    o->n_thresholds = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !(v > 0 && v < 1) || o->n_thresholds == MAX_THRESHOLDS ||
            (*end && *end != ','))
            return -1;
        o->thresholds[o->n_thresholds++] = v;
        p = *end ? end + 1 : end;
    }
    return o->n_thresholds ? 0 : -1;
}

static int parse_baselines(const char *s, struct opts_eval *o)
{
    o->logreg = o->xgboost = 0;
    if (strcmp(s, "none") == 0)
        return 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 6 && memcmp(p, "logreg", 6) == 0)
            o->logreg = 1;
        else if (n == 7 && memcmp(p, "xgboost", 7) == 0)
            o->xgboost = 1;
        else
            return -1;
        p += n + (e != NULL);
    }
    return 0;
}

/* The model's training store, from MODEL/training.json (NULL when not recorded). */
static char *training_store_sha(const char *model)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/training.json", model);
    struct mf_err err = {0};
    cJSON *j = mf_json_read_file(path, 64 << 20, &err);
    if (j == NULL)
        return NULL;
    const char *s = mf_json_str(j, "store_manifest_sha256");
    char *r = s ? strdup(s) : NULL;
    mf_json_release(j);
    return r;
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *out = NULL, *split = NULL, *truth = NULL;
    const char *baselines = "logreg,xgboost", *thresholds = "0.05,0.1,0.2", *train_store = NULL;
    const char *horizon_s = NULL, *temp_s = NULL, *top_p_s = NULL;
    struct opt_list tasks = {0};
    int no_probe = 0, allow = 0;
    struct opts_eval o;
    memset(&o, 0, sizeof o);
    o.samples = 20;
    o.per_patient = 1;
    o.seed = 1;
    o.max_new = 512;
    o.train_limit = 4000;
    o.bootstrap = 1000;
    o.effects = 100;
    o.min_group = 20;
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"store", OPT_STRING, &store, "STORE", "the event store to evaluate on"},
        {"task", OPT_LIST, &tasks, "TASK.yaml", "a task definition (ACES YAML); repeat for more"},
        {"out", OPT_STRING, &out, "REPORT_DIR", "where to write metrics.json and report.html"},
        {"samples", OPT_INT, &o.samples, "N", "futures per zero-shot prediction (default 20)"},
        {"split", OPT_STRING, &split, "NAME",
         "held_out (default), train, tuning, or all (a store the model never saw)"},
        {"baselines", OPT_STRING, &baselines, "LIST",
         "logreg,xgboost (default), either one, or none"},
        {"no-probe", OPT_FLAG, &no_probe, NULL, "leave out the medfm linear probe"},
        {"truth", OPT_STRING, &truth, "DIR",
         "a medfm synth cohort (its truth/): the true risk as an oracle, and what-if checks"},
        {"train-store", OPT_STRING, &train_store, "STORE",
         "with --split all: where the probe and the baselines are trained (its train and "
         "tuning splits)"},
        {"bootstrap", OPT_INT, &o.bootstrap, "B", "bootstrap replicates (default 1000)"},
        {"thresholds", OPT_STRING, &thresholds, "LIST",
         "risk thresholds for sensitivity, specificity, PPV, net benefit (default "
         "0.05,0.1,0.2)"},
        {"per-patient", OPT_INT, &o.per_patient, "K",
         "samples per patient at most (default 1; 0: all)"},
        {"limit", OPT_INT, &o.limit, "N", "evaluate the first N samples only (default: all)"},
        {"train-limit", OPT_INT, &o.train_limit, "N",
         "training and tuning samples at most, each (default 4000)"},
        {"effects", OPT_INT, &o.effects, "N",
         "with --truth: what-if checks on the first N samples (default 100; 0: none)"},
        {"min-group", OPT_INT, &o.min_group, "N",
         "smallest subgroup taking part in a gap (default 20)"},
        {"horizon", OPT_STRING, &horizon_s, "DUR",
         "how far futures run for tasks whose windows end at an event (default 1y)"},
        {"max-new", OPT_INT, &o.max_new, "N", "tokens per future at most (default 512)"},
        {"temperature", OPT_STRING, &temp_s, "T", "sampling temperature (default 1)"},
        {"top-p", OPT_STRING, &top_p_s, "P", "nucleus sampling mass (default 1: off)"},
        {"threads", OPT_INT, &o.threads, "N", "XGBoost threads (default: all cores)"},
        {"seed", OPT_INT, &o.seed, "N", "random seed (default 1)"},
        {"allow-vocabulary-mismatch", OPT_FLAG, &allow, NULL,
         "go on when the store's codes are unknown to the model"},
    };
    const struct cmd_help help = {
        "medfm eval --model M --store S --task TASK.yaml... [--samples 20] [--split held_out]\n"
        "                  [--baselines logreg,xgboost] [--truth DIR] --out REPORT_DIR",
        "Evaluate the model on each task's samples in --split: medfm zero-shot (the share of\n"
        "sampled futures with the outcome) and the medfm linear probe, beside logistic\n"
        "regression and XGBoost on code counts, age and sex, all trained on the store's train\n"
        "split (tuned on its tuning split) and scored on the same samples.  Metrics: AUROC,\n"
        "AUPRC, Brier score, expected calibration error, calibration slope and intercept,\n"
        "sensitivity, specificity, PPV and net benefit at --thresholds, each with a 95%\n"
        "bootstrap interval (patients resampled); per sex, age band, race and ethnicity, with\n"
        "the largest gap flagged when its interval excludes zero.  With --truth, the samples\n"
        "are the cohort's index dates and the true risk is an oracle.  A store the model was\n"
        "not trained on is external validation (--split all; --train-store for the\n"
        "baselines).  REPORT_DIR gets metrics.json and report.html; it is replaced only when\n"
        "it holds an earlier report.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm eval --model model/ --store store/ --task tasks/death_1y.yaml \\\n"
        "      --task tasks/hf_onset_1y.yaml --out report/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || tasks.n == 0 || !out) {
        fprintf(stderr, "medfm: eval needs --model, --store, --task and --out\nusage: %s\n",
                help.usage);
        return 2;
    }
    if (o.samples < 1 || o.samples > 4096 || o.max_new < 1 || o.max_new > 1 << 20 ||
        o.per_patient < 0 || o.limit < 0 || o.train_limit < 0 || o.bootstrap < 0 ||
        o.bootstrap > 100000 || o.effects < 0 || o.min_group < 1 || o.threads < 0) {
        fprintf(stderr, "medfm: --samples must be 1..4096, --max-new 1..1048576, --bootstrap "
                        "0..100000, --min-group 1 or more, the other counts 0 or more\n");
        return 2;
    }
    if (parse_thresholds(thresholds, &o) != 0) {
        fprintf(stderr, "medfm: --thresholds takes up to %d comma-separated numbers in (0, 1)\n",
                MAX_THRESHOLDS);
        return 2;
    }
    if (parse_baselines(baselines, &o) != 0) {
        fprintf(stderr, "medfm: --baselines takes logreg, xgboost, both (comma-separated) or "
                        "none\n");
        return 2;
    }
    o.probe = !no_probe;
    if (infer_parse_sampling(horizon_s, temp_s, top_p_s, &o.horizon, &o.temp, &o.top_p) != 0)
        return 2;
    if (mf_fs_exists(out)) {
        char mj[PATH_MAX];
        snprintf(mj, sizeof mj, "%s/metrics.json", out);
        if (!mf_fs_is_dir(out) || !mf_fs_exists(mj)) {
            fprintf(stderr,
                    "medfm: --out %s exists and is not an earlier report; not touching "
                    "it\n",
                    out);
            return 1;
        }
    }
    struct infer_ctx c;
    if (infer_ctx_open(&c, model, store, NULL, o.samples, allow) != 0)
        return 1;
    r = infer_ctx_split(&c, split);
    if (r) {
        infer_ctx_close(&c);
        return r;
    }
    struct mf_store *tstore = NULL;
    struct mf_err err = {0};
    cJSON *root = NULL;
    char *train_sha = training_store_sha(model);
    int rc = 1;
    if (train_store) {
        if (mf_store_open(train_store, &tstore, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto done;
        }
    }
    const char *store_sha = mf_store_manifest_sha256(c.store);
    int external = train_sha == NULL || strcmp(train_sha, store_sha) != 0;
    struct trainset ts = {c.split >= 0 ? c.store : tstore, {0}, {0}};
    int have_train = ts.store != NULL;
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "medfm-eval");
    cJSON_AddNumberToObject(root, "version", 1);
    char now[32];
    mf_time_format((int64_t)time(NULL) * 1000000, now);
    cJSON_AddStringToObject(root, "created", now);
    cJSON *mj = cJSON_AddObjectToObject(root, "model");
    const char *slash = strrchr(model, '/');
    cJSON_AddStringToObject(mj, "dir", slash && slash[1] ? slash + 1 : model);
    cJSON_AddStringToObject(mj, "sha256", mf_infer_model_sha256(c.in));
    if (train_sha)
        cJSON_AddStringToObject(mj, "store_manifest_sha256", train_sha);
    else
        cJSON_AddNullToObject(mj, "store_manifest_sha256");
    const struct mf_model_config *cfg = mf_infer_config(c.in);
    cJSON_AddNumberToObject(mj, "vocab_size", cfg->vocab);
    cJSON_AddNumberToObject(mj, "context", cfg->context);
    cJSON *sj = cJSON_AddObjectToObject(root, "store");
    cJSON_AddStringToObject(sj, "sha256", store_sha);
    cJSON_AddNumberToObject(sj, "patients", (double)mf_store_n_patients(c.store));
    cJSON *srcs = cJSON_AddArrayToObject(sj, "sources"), *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(mf_store_manifest(c.store), "sources"))
    {
        const char *f = mf_json_str(e, "format");
        if (f)
            cJSON_AddItemToArray(srcs, cJSON_CreateString(f));
    }
    cJSON_AddBoolToObject(sj, "external", external);
    cJSON_AddNumberToObject(sj, "vocabulary_overlap", c.overlap);
    cJSON_AddStringToObject(root, "split", c.split < 0 ? "all" : mf_split_name(c.split));
    cJSON *st = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(st, "samples", o.samples);
    cJSON_AddNumberToObject(st, "bootstrap", o.bootstrap);
    cJSON_AddNumberToObject(st, "seed", o.seed);
    cJSON_AddNumberToObject(st, "per_patient", o.per_patient);
    cJSON *ta = cJSON_AddArrayToObject(st, "thresholds");
    for (size_t i = 0; i < o.n_thresholds; i++)
        cJSON_AddItemToArray(ta, cJSON_CreateNumber(o.thresholds[i]));
    cJSON_AddNumberToObject(st, "ece_bins", MF_ECE_BINS);
    cJSON_AddBoolToObject(st, "truth", truth != NULL);
    cJSON *tj = cJSON_AddArrayToObject(root, "tasks");
    cJSON *notes = cJSON_AddArrayToObject(root, "notes");
    if (external)
        cJSON_AddItemToArray(
            notes, cJSON_CreateString(train_sha ? "external validation: the model was not "
                                                  "trained on this store"
                                                : "the model's training store is not recorded "
                                                  "(no training.json): treated as external"));
    if (!have_train && (o.probe || o.logreg || o.xgboost))
        cJSON_AddItemToArray(notes,
                             cJSON_CreateString("the probe and the baselines were not trained: "
                                                "--split all without --train-store"));
    if (c.split == MF_SPLIT_TRAIN)
        cJSON_AddItemToArray(notes, cJSON_CreateString("evaluated on the training split: "
                                                       "optimistic, not a validation"));
    for (int i = 0; i < tasks.n; i++) {
        if (infer_ctx_set_task(&c, tasks.v[i]) != 0)
            goto done;
        if (eval_task(&c, &ts, have_train, truth, &o, tj, notes) != 0)
            goto done;
    }
    if (mf_report_check(root, "metrics.json", &err) != 0) {
        fprintf(stderr, "medfm: internal error: %s\n", err.msg);
        goto done;
    }
    /* write beside the destination, then swap in */
    char tmp[PATH_MAX], path[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", out, (long)getpid());
    mf_fs_rm_rf(tmp);
    struct mf_buf b = MF_BUF_INIT;
    if (mf_fs_mkdir_p(tmp, &err) != 0 || mf_json_print(root, &b) != 0 ||
        mf_buf_putc(&b, '\n') != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg[0] ? err.msg : "out of memory");
        mf_buf_release(&b);
        mf_fs_rm_rf(tmp);
        goto done;
    }
    snprintf(path, sizeof path, "%s/metrics.json", tmp);
    int wr = mf_fs_write_file_atomic(path, b.data, b.len, &err);
    mf_buf_release(&b);
    snprintf(path, sizeof path, "%s/report.html", tmp);
    if (wr != 0 || mf_report_write_html(root, path, &err) != 0 ||
        mf_fs_replace_dir(tmp, out, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        mf_fs_rm_rf(tmp);
        goto done;
    }
    fprintf(stderr, "medfm: wrote %s/metrics.json and %s/report.html\n", out, out);
    rc = 0;
done:
    cJSON_Delete(root);
    free(train_sha);
    if (tstore) {
        mf_vocab_unbind(mf_infer_vocab(c.in), tstore);
        mf_store_close(tstore);
    }
    infer_ctx_close(&c);
    return rc;
}
