/* card.c - the model card (see report.h and docs/model-card.md).
 *
 * model_card.json holds two views of the same facts: "chai" (the sections of the CHAI Applied
 * Model Card, v0.2 schema order) and "hti1" (the 31 source attributes ONC's HTI-1 rule requires
 * of a predictive decision support intervention, 45 CFR 170.315(b)(11)(iv)(B)(1)-(9), one
 * object per paragraph).  Facts come from the model folder (config.json, vocab.json,
 * training.json, the weights' SHA-256) and the evaluation reports (their metrics.json, which
 * must be of these weights); fixed text is medfm's default and says so, for the deploying
 * organization to review; anything unknown is "not available".  model_card.md is the same tree
 * as headings, paragraphs and lists, after a table of the headline figures.
 *
 * Every field listed in mf_card_required_fields is always written, as a non-empty string or
 * list; mf_card_check verifies it before anything is written.  The list stays one quoted path
 * per line: tests read it from this file.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "eval/report.h"

#define NA     "not available"
#define REVIEW " [medfm default text: the deploying organization must review and adapt it]"

const char *const mf_card_required_fields[] = {
    "model.name",
    "model.version",
    "model.weights_sha256",
    "model.architecture",
    "model.training_store_sha256",
    "model.tasks_evaluated",
    "chai.basic_info.model_name",
    "chai.basic_info.model_developer",
    "chai.basic_info.developer_contact",
    "chai.release_info.release_stage",
    "chai.release_info.release_date",
    "chai.release_info.release_version",
    "chai.release_info.global_availability",
    "chai.release_info.regulatory_approval",
    "chai.model_summary.summary",
    "chai.model_summary.keywords",
    "chai.uses_and_directions.intended_use_and_workflow",
    "chai.uses_and_directions.primary_intended_users",
    "chai.uses_and_directions.how_to_use",
    "chai.uses_and_directions.targeted_patient_population",
    "chai.uses_and_directions.cautioned_out_of_scope_settings",
    "chai.warnings.known_risks_and_limitations",
    "chai.warnings.known_biases_or_ethical_considerations",
    "chai.warnings.clinical_risk_level",
    "chai.trust_ingredients.outcomes_and_outputs",
    "chai.trust_ingredients.model_type",
    "chai.trust_ingredients.foundation_models_used",
    "chai.trust_ingredients.input_data_source",
    "chai.trust_ingredients.output_and_input_data_types",
    "chai.trust_ingredients.development_data_characterization",
    "chai.trust_ingredients.bias_mitigation_approaches",
    "chai.trust_ingredients.ongoing_maintenance",
    "chai.trust_ingredients.security_and_compliance",
    "chai.trust_ingredients.transparency_and_accountability",
    "chai.transparency.funding_source",
    "chai.transparency.third_party_information",
    "chai.transparency.stakeholders_consulted",
    "chai.key_metrics.usefulness_and_efficacy.metric_goal",
    "chai.key_metrics.usefulness_and_efficacy.results",
    "chai.key_metrics.usefulness_and_efficacy.interpretation",
    "chai.key_metrics.usefulness_and_efficacy.test_type",
    "chai.key_metrics.usefulness_and_efficacy.testing_data_description",
    "chai.key_metrics.usefulness_and_efficacy.validation_process_and_justification",
    "chai.key_metrics.fairness_and_equity.metric_goal",
    "chai.key_metrics.fairness_and_equity.results",
    "chai.key_metrics.fairness_and_equity.interpretation",
    "chai.key_metrics.fairness_and_equity.test_type",
    "chai.key_metrics.fairness_and_equity.testing_data_description",
    "chai.key_metrics.fairness_and_equity.validation_process_and_justification",
    "chai.key_metrics.safety_and_reliability.metric_goal",
    "chai.key_metrics.safety_and_reliability.results",
    "chai.key_metrics.safety_and_reliability.interpretation",
    "chai.key_metrics.safety_and_reliability.test_type",
    "chai.key_metrics.safety_and_reliability.testing_data_description",
    "chai.key_metrics.safety_and_reliability.validation_process_and_justification",
    "chai.resources.evaluation_references",
    "chai.resources.clinical_trials",
    "chai.resources.peer_reviewed_publications",
    "chai.resources.reimbursement_status",
    "chai.resources.patient_consent_or_disclosure",
    "chai.bibliography",
    "hti1.details.name",
    "hti1.details.developer",
    "hti1.details.developer_contact",
    "hti1.details.funding_source",
    "hti1.details.output",
    "hti1.details.output_type",
    "hti1.purpose.intended_use",
    "hti1.purpose.intended_patient_population",
    "hti1.purpose.intended_users",
    "hti1.purpose.intended_decision_making_role",
    "hti1.cautioned_out_of_scope_use.description",
    "hti1.cautioned_out_of_scope_use.known_risks_and_limitations",
    "hti1.development.inclusion_and_exclusion_criteria",
    "hti1.development.demographic_inputs",
    "hti1.development.training_data_demographics",
    "hti1.development.training_data_relevance",
    "hti1.fairness.approach",
    "hti1.fairness.bias_management",
    "hti1.external_validation.data_sources",
    "hti1.external_validation.party",
    "hti1.external_validation.demographics",
    "hti1.external_validation.process",
    "hti1.performance.internal_validity",
    "hti1.performance.internal_fairness",
    "hti1.performance.external_validity",
    "hti1.performance.external_fairness",
    "hti1.performance.outcome_references",
    "hti1.maintenance.validity_monitoring",
    "hti1.maintenance.local_validity",
    "hti1.maintenance.fairness_monitoring",
    "hti1.maintenance.local_fairness",
    "hti1.update.update_process",
    "hti1.update.performance_correction",
    NULL,
};

/* ---- reading -------------------------------------------------------------------------------- */

static cJSON *read_json(const char *dir, const char *file, struct mf_err *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        mf_err_set(err, MF_EINVAL, "path too long '%s'", dir);
        return NULL;
    }
    return mf_json_read_file(path, (size_t)256 << 20, err);
}

/* The SHA-256 of a file, read in pieces (weights can be gigabytes). */
static int sha256_file(const char *path, char hex[65], struct mf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mf_err_set(err, MF_ENOTFOUND, "cannot open '%s': the model folder has no weights",
                          path);
    struct mf_sha256 h = {0};
    int rc = mf_sha256_init(&h) ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
    char *buf = rc ? NULL : malloc(1 << 20);
    if (rc == 0 && buf == NULL)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, 1 << 20, f)) > 0)
        if (mf_sha256_update(&h, buf, n) != 0)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc == 0 && ferror(f))
        rc = mf_err_set(err, MF_EIO, "cannot read '%s'", path);
    if (rc == 0)
        rc = mf_sha256_final(&h, hex) ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
    else
        mf_sha256_discard(&h);
    free(buf);
    fclose(f);
    return rc;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(get(o, k));
}

/* A string field, or "?" (for text where an absent field is already caught by the check). */
static const char *jstrq(const cJSON *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? s : "?";
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *x = get(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* ---- writing text --------------------------------------------------------------------------- */

/* The card under construction: a cJSON tree whose allocations are checked once at the end
 * (cJSON returns NULL on failure; adding NULL fails quietly), and a scratch buffer whose
 * failures stick in oom. */
struct card {
    cJSON *root;
    struct mf_buf b;
    int oom;
};

static void put(struct card *c, const char *s)
{
    c->oom |= mf_buf_puts(&c->b, s) != 0;
}

#define putf(c, ...) ((c)->oom |= mf_buf_printf(&(c)->b, __VA_ARGS__) != 0)

static void add_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddStringToObject(o, k, v && v[0] ? v : NA);
}

static void clear(struct card *c)
{
    c->b.len = 0;
    if (c->b.data)
        c->b.data[0] = 0;
}

/* The scratch buffer as field k, then emptied. */
static void add_buf(struct card *c, cJSON *o, const char *k)
{
    add_str(o, k, c->b.len ? c->b.data : NULL);
    clear(c);
}

/* The scratch buffer as a new element of array a, then emptied. */
static void push_buf(struct card *c, cJSON *a)
{
    cJSON_AddItemToArray(a, cJSON_CreateString(c->b.data ? c->b.data : ""));
    clear(c);
}

/* A copy of the scratch buffer (NULL when empty), then emptied; the caller frees it. */
static char *take_buf(struct card *c)
{
    char *s = c->b.len ? strdup(c->b.data) : NULL;
    c->oom |= c->b.len && s == NULL;
    clear(c);
    return s;
}

/* An array, or the string why_empty in its place when nothing was added. */
static cJSON *or_na(cJSON *a, const char *why_empty)
{
    if (cJSON_GetArraySize(a) > 0)
        return a;
    cJSON_Delete(a);
    return cJSON_CreateString(why_empty);
}

static void put_num(struct card *c, double v, int digits)
{
    if (isfinite(v))
        putf(c, "%.*f", digits, v);
    else
        put(c, "n/a");
}

/* "0.812 (95% CI 0.771 to 0.850)"; "n/a" when undefined. */
static void put_est(struct card *c, const cJSON *e, int digits)
{
    double v = jnum(e, "value"), lo = jnum(e, "lo"), hi = jnum(e, "hi");
    put_num(c, v, digits);
    if (isfinite(v) && isfinite(lo) && isfinite(hi))
        putf(c, " (95%% CI %.*f to %.*f)", digits, lo, digits, hi);
}

/* A race or ethnicity code with its name ("White (2106-3)"); other values as they are. */
static void put_group(struct card *c, const char *g)
{
    const char *name = mf_report_code_name(g);
    if (g == NULL || g[0] == 0)
        put(c, "not recorded");
    else if (name) {
        putf(c, "%s (%s)", name, g);
    } else {
        for (const char *p = g; *p; p++) /* "FEMALE" and "female" read alike */
            c->oom |= mf_buf_putc(&c->b, *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p) != 0;
    }
}

/* Where an age band sorts: "<18" first, then by its first number ("75+" after "60-74"); other
 * keys keep their order (all equal). */
static double band_rank(const char *k)
{
    if (k == NULL || k[0] == '<')
        return -1;
    char *end;
    double v = strtod(k, &end);
    return end == k ? 1e9 : v;
}

/* "female 50.0% (151), male 50.0% (151)" from {"FEMALE": 151, ...}, age bands in order. */
static void put_shares(struct card *c, const cJSON *o)
{
    struct share {
        const cJSON *j;
    } * v;
    double tot = 0;
    size_t n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, o)
    {
        tot += cJSON_IsNumber(x) && x->valuedouble > 0 ? x->valuedouble : 0;
        n++;
    }
    v = n ? malloc(n * sizeof *v) : NULL;
    if (n && v == NULL) {
        c->oom = 1;
        return;
    }
    size_t k = 0;
    cJSON_ArrayForEach(x, o)
    {
        if (k == n)
            break;
        /* insertion sort by band rank, stable: few keys */
        size_t j = k++;
        while (j > 0 && band_rank(v[j - 1].j->string) > band_rank(x->string)) {
            v[j] = v[j - 1];
            j--;
        }
        v[j].j = x;
    }
    int first = 1;
    for (size_t i = 0; i < k; i++) {
        const cJSON *e = v[i].j;
        if (!cJSON_IsNumber(e) || tot <= 0)
            continue;
        put(c, first ? "" : ", ");
        put_group(c, e->string);
        putf(c, " %.1f%% (%.0f)", 100 * (e->valuedouble / tot), e->valuedouble);
        first = 0;
    }
    free(v);
    if (first)
        put(c, NA);
}

/* ---- what a report says --------------------------------------------------------------------- */

/* What a predictor is to this card: the model itself, a baseline, or the true risk. */
static const char *role_of(const cJSON *p)
{
    const char *id = jstrq(p, "id");
    if (strncmp(id, "medfm", 5) == 0)
        return "this model";
    if (strcmp(id, "oracle") == 0)
        return "reference: the synthetic cohort's true risk, not a model";
    if (strcmp(id, "logreg") == 0 || strcmp(id, "xgboost") == 0)
        return "comparison baseline, not this model";
    return "other predictor";
}

static int is_model(const cJSON *p)
{
    return strncmp(jstrq(p, "id"), "medfm", 5) == 0;
}

/* "internal validation, held_out split of store 8af30f85..." */
static void put_data(struct card *c, const cJSON *rep)
{
    const cJSON *s = get(rep, "store");
    const char *split = jstrq(rep, "split");
    int ext = cJSON_IsTrue(get(s, "external"));
    int train = strcmp(split, "train") == 0 || strcmp(split, "tuning") == 0;
    putf(c, "%s, %s split of store %.12s",
         ext     ? "external validation"
         : train ? "training data, not a validation"
                 : "internal validation",
         split, jstrq(s, "sha256"));
}

/* One line per task and predictor: discrimination, calibration and net benefit. */
enum line_kind { L_ALL, L_USEFUL, L_CALIBRATION };

static void performance_lines(struct card *c, cJSON *a, cJSON *const *reps, size_t n,
                              int want_external, enum line_kind kind)
{
    for (size_t r = 0; r < n; r++) {
        if (cJSON_IsTrue(get(get(reps[r], "store"), "external")) != want_external)
            continue;
        const cJSON *t, *p;
        cJSON_ArrayForEach(t, get(reps[r], "tasks"))
        {
            const cJSON *coh = get(t, "cohort");
            cJSON_ArrayForEach(p, get(t, "predictors"))
            {
                const cJSON *m = get(p, "metrics");
                putf(c, "%s, %s [%s] - ", jstrq(t, "task"), jstrq(p, "name"), role_of(p));
                put_data(c, reps[r]);
                putf(c, " (%.0f samples, %.0f with the outcome): ", jnum(coh, "samples"),
                     jnum(coh, "positives"));
                if (kind != L_CALIBRATION) {
                    put(c, "AUROC ");
                    put_est(c, get(m, "auroc"), 3);
                    put(c, ", AUPRC ");
                    put_est(c, get(m, "auprc"), 3);
                }
                if (kind == L_ALL)
                    put(c, ", ");
                if (kind != L_USEFUL) {
                    put(c, "Brier score ");
                    put_est(c, get(m, "brier"), 4);
                    put(c, ", ECE ");
                    put_est(c, get(m, "ece"), 4);
                    put(c, ", calibration slope ");
                    put_est(c, get(m, "calibration_slope"), 2);
                    put(c, ", calibration intercept ");
                    put_est(c, get(m, "calibration_intercept"), 2);
                    put(c, ", mean risk ");
                    put_est(c, get(m, "mean_risk"), 4);
                    put(c, " against a prevalence of ");
                    put_num(c, jnum(coh, "prevalence"), 4);
                }
                if (kind == L_USEFUL && is_model(p)) {
                    const cJSON *th;
                    cJSON_ArrayForEach(th, get(p, "thresholds"))
                    {
                        putf(c, "; at threshold %g: sensitivity ", jnum(th, "threshold"));
                        put_est(c, get(th, "sensitivity"), 3);
                        put(c, ", specificity ");
                        put_est(c, get(th, "specificity"), 3);
                        put(c, ", PPV ");
                        put_est(c, get(th, "ppv"), 3);
                        put(c, ", net benefit ");
                        put_est(c, get(th, "net_benefit"), 3);
                    }
                }
                push_buf(c, a);
            }
        }
    }
}

static const char *metric_name(const char *k)
{
    return strcmp(k, "auroc") == 0   ? "AUROC"
           : strcmp(k, "brier") == 0 ? "Brier score"
           : strcmp(k, "ece") == 0   ? "ECE"
           : strcmp(k, "auprc") == 0 ? "AUPRC"
                                     : k;
}

/* Every subgroup gap (flagged ones marked), then the model's own metrics by group. */
static void fairness_lines(struct card *c, cJSON *a, cJSON *const *reps, size_t n,
                           int want_external)
{
    for (size_t r = 0; r < n; r++) {
        if (cJSON_IsTrue(get(get(reps[r], "store"), "external")) != want_external)
            continue;
        const cJSON *t, *p, *g;
        cJSON_ArrayForEach(t, get(reps[r], "tasks"))
        {
            cJSON_ArrayForEach(p, get(t, "predictors"))
            {
                cJSON_ArrayForEach(g, get(p, "gaps"))
                {
                    int flagged = cJSON_IsTrue(get(g, "flagged"));
                    putf(c, "%s%s, %s [%s] - ", flagged ? "FLAGGED: " : "", jstrq(t, "task"),
                         jstrq(p, "name"), role_of(p));
                    put_data(c, reps[r]);
                    putf(c, ": largest %s gap by %s ", metric_name(jstrq(g, "metric")),
                         jstrq(g, "attribute"));
                    put_est(c, get(g, "gap"), 3);
                    put(c, ", ");
                    put_group(c, jstr(g, "best"));
                    put(c, " better than ");
                    put_group(c, jstr(g, "worst"));
                    put(c, flagged ? "; the interval excludes zero"
                                   : "; the interval includes zero (no clear difference)");
                    push_buf(c, a);
                }
            }
            cJSON_ArrayForEach(p, get(t, "predictors"))
            {
                if (!is_model(p) || cJSON_GetArraySize(get(p, "subgroups")) == 0)
                    continue;
                putf(c, "%s, %s [%s] - ", jstrq(t, "task"), jstrq(p, "name"), role_of(p));
                put_data(c, reps[r]);
                put(c, ": by group (n, with the outcome): ");
                int first = 1;
                cJSON_ArrayForEach(g, get(p, "subgroups"))
                {
                    putf(c, "%s%s ", first ? "" : "; ", jstrq(g, "attribute"));
                    put_group(c, jstr(g, "group"));
                    putf(c, " (%.0f, %.0f) AUROC ", jnum(g, "n"), jnum(g, "positives"));
                    put_est(c, get(g, "auroc"), 3);
                    put(c, ", Brier score ");
                    put_est(c, get(g, "brier"), 4);
                    first = 0;
                }
                push_buf(c, a);
            }
        }
    }
}

/* The make-up of a report's samples (its first task, from the first predictor's subgroup
 * counts: every predictor scores the same samples). */
static void put_report_demographics(struct card *c, const cJSON *rep)
{
    const cJSON *t = cJSON_GetArrayItem(get(rep, "tasks"), 0);
    const cJSON *p = cJSON_GetArrayItem(get(t, "predictors"), 0);
    const char *attr = NULL;
    double tot = jnum(get(t, "cohort"), "samples");
    const cJSON *g;
    cJSON_ArrayForEach(g, get(p, "subgroups"))
    {
        const char *a = jstrq(g, "attribute");
        if (attr == NULL)
            putf(c, " Make-up of the samples of task %s: %s ", jstrq(t, "task"), a);
        else if (strcmp(a, attr) != 0)
            putf(c, "; %s ", a);
        else
            put(c, ", ");
        attr = a;
        put_group(c, jstr(g, "group"));
        double k = jnum(g, "n");
        if (tot > 0)
            putf(c, " %.1f%% (%.0f)", 100 * (k / tot), k);
        else
            putf(c, " (%.0f)", k);
    }
    if (attr)
        put(c, ".");
}

/* "internal validation, held_out split of store ... (400 patients from fhir), created ...". */
static void testing_data(struct card *c, cJSON *a, cJSON *const *reps, size_t n, int want_external)
{
    for (size_t r = 0; r < n; r++) {
        const cJSON *s = get(reps[r], "store");
        if (want_external >= 0 && cJSON_IsTrue(get(s, "external")) != want_external)
            continue;
        put_data(c, reps[r]);
        put(c, " (");
        put_num(c, jnum(s, "patients"), 0);
        put(c, " patients");
        const cJSON *x;
        int k = 0;
        cJSON_ArrayForEach(x, get(s, "sources"))
        {
            putf(c, "%s%s", k++ ? ", " : " from ", cJSON_GetStringValue(x));
        }
        putf(c, "), report created %s.", jstrq(reps[r], "created"));
        put_report_demographics(c, reps[r]);
        push_buf(c, a);
    }
}

static size_t count_reports(cJSON *const *reps, size_t n, int external)
{
    size_t k = 0;
    for (size_t r = 0; r < n; r++)
        k += cJSON_IsTrue(get(get(reps[r], "store"), "external")) == external;
    return k;
}

/* ---- the card ------------------------------------------------------------------------------- */

/* Which demographic variables are inputs: the vocabulary's prefix tokens tell ("GENDER/...",
 * "AGE/...", "RACE/...", "ETHNICITY/..."), use_race where a vocabulary lists no tokens. */
struct inputs {
    int sex, age, race, ethnicity, known;
};

static struct inputs inputs_of(const cJSON *vocab)
{
    struct inputs in = {0, 0, 0, 0, vocab != NULL};
    const cJSON *toks = get(vocab, "tokens"), *t;
    if (!cJSON_IsArray(toks)) {
        in.sex = in.age = 1;
        in.race = in.ethnicity = cJSON_IsTrue(get(vocab, "use_race"));
        return in;
    }
    cJSON_ArrayForEach(t, toks)
    {
        const char *k = jstr(t, "kind"), *s = jstr(t, "text");
        if (k == NULL || s == NULL || strcmp(k, "prefix") != 0)
            continue;
        in.sex |= strncmp(s, "GENDER/", 7) == 0;
        in.age |= strncmp(s, "AGE/", 4) == 0;
        in.race |= strncmp(s, "RACE/", 5) == 0;
        in.ethnicity |= strncmp(s, "ETHNICITY/", 10) == 0;
    }
    return in;
}

/* HTI-1 (b)(11)(iv)(A)(5)-(13): whether each is an input feature. */
static cJSON *demographic_inputs(const struct inputs *in)
{
    cJSON *a = cJSON_CreateArray();
    if (!in->known) {
        cJSON_Delete(a);
        return cJSON_CreateString(NA " (no vocab.json)");
    }
    static const char *const no_eval =
        "not an input (recorded in the store only to evaluate fairness by group)";
    static const char *const as_events =
        "not a dedicated input; where the record codes it as an event (a coded finding or "
        "answer), the model sees that event like any other";
    char line[512];
    snprintf(line, sizeof line, "race: %s",
             in->race ? "input (the recorded race code is in every prompt's prefix)" : no_eval);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "ethnicity: %s",
             in->ethnicity ? "input (the recorded ethnicity code is in every prompt's prefix)"
                           : no_eval);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "language: %s", as_events);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "sexual orientation: %s", as_events);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "gender identity: %s",
             "not an input (the model sees the administrative sex recorded, below)");
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "sex: %s",
             in->sex ? "input (the recorded administrative sex is in every prompt's prefix)"
                     : "not an input");
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "date of birth: %s",
             in->age ? "input only as age in 5-year bands at the prediction time (the date "
                       "itself is not an input)"
                     : "not an input");
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "social determinants of health: %s", as_events);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    snprintf(line, sizeof line, "health status assessments: %s", as_events);
    cJSON_AddItemToArray(a, cJSON_CreateString(line));
    return a;
}

/* The fixed text: medfm's defaults, each marked for review (REVIEW). */
static const char *const T_USE =
    "Estimates a patient's risk of the outcomes defined by the evaluated task files (for "
    "example death, onset of a chronic condition, readmission) within each task's horizon, "
    "from the longitudinal coded record, to support - not replace - clinicians' judgement, for "
    "example in deciding whom to review first or to offer prevention." REVIEW;
static const char *const T_USERS =
    "Clinicians and clinical decision support teams of the deploying organization, through "
    "its EHR (CDS Hooks, FHIR) or medfm's API; quality and population-health teams for "
    "cohort-level use." REVIEW;
static const char *const T_POPULATION =
    "Adult patients whose records resemble the training data described below (its sources, "
    "time span and demographic make-up). Not validated for children, pregnancy, or groups "
    "absent from or rare in the training data." REVIEW;
static const char *const T_OUT_OF_SCOPE =
    "Not for autonomous decisions or triage without clinician review; not for diagnosis, "
    "treatment selection or dosing; not validated for populations, care settings, coding "
    "practices or time periods unlike the training data, nor for outcomes or horizons other "
    "than the evaluated tasks; what-if (treatment) outputs are associations learned from "
    "records, not causal effects; not for decisions about individuals on tasks whose "
    "evaluation had few patients with the outcome (wide intervals)." REVIEW;
static const char *const T_RISKS =
    "Zero-shot risks are the share of sampled futures with the outcome (20 futures by "
    "default): small risks are coarse (multiples of 1/samples) and uncertain; generated "
    "futures carry no lab values; labels count a record that ends before the horizon as a "
    "negative (no censoring), which can understate risk where follow-up is short; "
    "performance depends on how closely the site's coding matches the training data's "
    "(reports give the vocabulary overlap); figures from small evaluations have wide "
    "intervals; see the flagged subgroup gaps." REVIEW;
static const char *const T_BIASES =
    "The model learns from records, so it learns who was tested, diagnosed and treated, not "
    "only who was ill: groups with less access to care can look healthier than they are. "
    "Sex and age are inputs; whether race and ethnicity are is listed under demographic "
    "inputs. Compare the subgroup results before use.";
static const char *const T_MAINT =
    "Re-run medfm eval on recent local data at least every quarter and after any change of "
    "EHR, coding practice, documentation workflow or patient population; compare the "
    "figures and subgroup gaps with this card's; retrain (a new model folder, a new weights "
    "hash) when discrimination or calibration falls outside this card's intervals or a new "
    "gap is flagged, and card the new model before it replaces the old one." REVIEW;
static const char *const T_FAIRNESS =
    "Every evaluation reports discrimination and calibration by sex, age band, race and "
    "ethnicity where recorded, with patient-bootstrap 95% intervals; per attribute the "
    "largest gap is flagged when its interval excludes zero. The model is compared with "
    "simple baselines on the same patients, so that gaps the data carry are told apart from "
    "gaps the model adds.";
static const char *const T_BIAS_MGMT =
    "medfm does not reweight or constrain training by group: it measures. Flagged gaps are "
    "reported in every evaluation and in this card; the deploying organization decides "
    "whether to restrict use, recalibrate or retrain (for example on more representative "
    "data), and re-evaluates before use." REVIEW;
static const char *const T_VALIDATION =
    "medfm eval: every predictor scores the same prediction times (task triggers, or a "
    "synthetic cohort's index dates); 95% percentile intervals come from a bootstrap that "
    "resamples patients, shared by all predictors and subgroups; every metric follows "
    "scikit-learn's definition and is tested against it. Internal validation uses the "
    "held-out patients of the training store (split by a hash of the patient id); external "
    "validation a store the model was not trained on.";

static cJSON *build(struct card *cd, const char *model_dir, const cJSON *cfg, const cJSON *vocab,
                    const cJSON *tr, const char *sha, const char *weights_date, cJSON *const *reps,
                    const char *const *rep_dirs, size_t n)
{
    cJSON *c = cJSON_CreateObject();
    cd->root = c;
    cJSON_AddStringToObject(c, "format", "medfm-model-card");
    cJSON_AddNumberToObject(c, "version", 2);
    char now[32];
    mf_time_format((int64_t)time(NULL) * 1000000, now);
    cJSON_AddStringToObject(c, "created", now);

    const char *base = strrchr(model_dir, '/');
    base = base && base[1] ? base + 1 : model_dir;
    const cJSON *td = get(tr, "training_data");
    struct inputs in = inputs_of(vocab);
    size_t n_int = count_reports(reps, n, 0), n_ext = count_reports(reps, n, 1);

    /* model */
    cJSON *m = cJSON_AddObjectToObject(c, "model");
    add_str(m, "name", base);
    putf(cd, "weights %.12s", sha);
    if (isfinite(jnum(tr, "steps")))
        putf(cd, " (%.0f training steps)", jnum(tr, "steps"));
    add_buf(cd, m, "version");
    add_str(m, "weights_sha256", sha);
    if (cfg) {
        static const char *const parts[][2] = {{"layers", " layers"},
                                               {"dim", " wide"},
                                               {"heads", " attention heads"},
                                               {"context", " tokens of context"},
                                               {"vocab", " tokens in the vocabulary"}};
        putf(cd, "decoder-only transformer (%s)",
             jstr(cfg, "architecture") ? jstr(cfg, "architecture") : "medfm");
        int first = 1;
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            double v = jnum(cfg, parts[i][0]);
            if (isfinite(v)) {
                putf(cd, "%s%.0f%s", first ? ": " : ", ", v, parts[i][1]);
                first = 0;
            }
        }
        if (isfinite(jnum(tr, "parameters")))
            putf(cd, ", %.0f parameters", jnum(tr, "parameters"));
    }
    add_buf(cd, m, "architecture");
    add_str(m, "training_store_sha256", jstr(tr, "store_manifest_sha256"));
    cJSON *tasks = cJSON_CreateArray();
    for (size_t r = 0; r < n; r++) {
        const cJSON *t;
        cJSON_ArrayForEach(t, get(reps[r], "tasks"))
        {
            putf(cd, "%s", jstrq(t, "task"));
            if (isfinite(jnum(t, "horizon_days")))
                putf(cd, " (outcome within %.0f days)", jnum(t, "horizon_days"));
            const cJSON *e;
            int dup = 0;
            cJSON_ArrayForEach(e, tasks)
            {
                dup |= strcmp(e->valuestring, cd->b.data ? cd->b.data : "") == 0;
            }
            if (dup)
                clear(cd);
            else
                push_buf(cd, tasks);
        }
    }
    cJSON_AddItemToObject(m, "tasks_evaluated", or_na(tasks, NA " (no evaluation report given)"));

    /* the training data, described once, used by both views */
    if (td) {
        put_num(cd, jnum(td, "patients"), 0);
        put(cd, " training patients");
        if (isfinite(jnum(get(tr, "patients"), "tuning")))
            putf(cd, " (and %.0f tuning patients)", jnum(get(tr, "patients"), "tuning"));
        put(cd, ". Sex: ");
        put_shares(cd, get(td, "sex"));
        put(cd, ". Age at the last event: ");
        put_shares(cd, get(td, "age_bands"));
        put(cd, ". Race: ");
        put_shares(cd, get(td, "race"));
        put(cd, ". Ethnicity: ");
        put_shares(cd, get(td, "ethnicity"));
        putf(cd, ". Records from %.10s to %.10s.", jstrq(td, "first_event"),
             jstrq(td, "last_event"));
    }
    char *demo = take_buf(cd);
    const cJSON *x;
    int k = 0;
    cJSON_ArrayForEach(x, get(td, "sources"))
    {
        putf(cd, "%s%s", k++ ? ", " : "Records ingested from ",
             cJSON_GetStringValue(x) ? cJSON_GetStringValue(x) : "?");
    }
    if (td) {
        putf(cd, "%sinto the event store %s (%s).", k ? " " : "Records in ",
             jstrq(tr, "store_manifest_sha256"),
             cJSON_IsTrue(get(td, "deidentified"))
                 ? "de-identified at ingestion: keyed pseudonyms, shifted dates"
                 : "identified: not de-identified at ingestion");
        if (jstr(td, "first_event"))
            putf(cd, " Time range %.10s to %.10s.", jstr(td, "first_event"),
                 jstrq(td, "last_event"));
    }
    char *source = take_buf(cd);

    /* ---- CHAI Applied Model Card ---- */
    cJSON *ch = cJSON_AddObjectToObject(c, "chai");
    cJSON *bi = cJSON_AddObjectToObject(ch, "basic_info");
    add_str(bi, "model_name", base);
    add_str(bi, "model_developer",
            "the deploying organization, which trained this model with medfm (open-source "
            "software)" REVIEW);
    add_str(bi, "developer_contact", NA " (the deploying organization's AI governance contact)");
    cJSON *ri = cJSON_AddObjectToObject(ch, "release_info");
    add_str(ri, "release_stage",
            "local validation: not for clinical use until the deploying organization's "
            "governance approves it" REVIEW);
    putf(cd, NA " (set at approval); the weights file was written on %s", weights_date);
    add_buf(cd, ri, "release_date");
    putf(cd, "weights SHA-256 %s", sha);
    add_buf(cd, ri, "release_version");
    add_str(ri, "global_availability",
            "not distributed: runs on the deploying organization's own servers");
    add_str(ri, "regulatory_approval",
            "none: not cleared or approved by the FDA or any other regulator" REVIEW);
    cJSON *ms = cJSON_AddObjectToObject(ch, "model_summary");
    add_str(ms, "summary",
            "A generative transformer trained on patients' coded timelines (diagnoses, "
            "medications, laboratory results, procedures, encounters). It estimates the risk of "
            "an outcome within a horizon either zero-shot, as the share of sampled futures in "
            "which the outcome occurs, or with a linear probe fitted on its patient embedding. "
            "Each risk comes with an interval.");
    cJSON *kw = cJSON_AddArrayToObject(ms, "keywords");
    static const char *const kws[] = {"foundation model", "electronic health records",
                                      "risk prediction", "generative transformer", "medfm"};
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
        cJSON_AddItemToArray(kw, cJSON_CreateString(kws[i]));
    cJSON *ud = cJSON_AddObjectToObject(ch, "uses_and_directions");
    add_str(ud, "intended_use_and_workflow", T_USE);
    add_str(ud, "primary_intended_users", T_USERS);
    add_str(ud, "how_to_use",
            "Request a risk for a patient and task (medfm predict, the REST or FHIR API, or a "
            "CDS Hooks card); read it with its interval and with the evaluation report of the "
            "same model and task; act on it only together with the clinical picture.");
    add_str(ud, "targeted_patient_population", T_POPULATION);
    add_str(ud, "cautioned_out_of_scope_settings", T_OUT_OF_SCOPE);
    cJSON *w = cJSON_AddObjectToObject(ch, "warnings");
    add_str(w, "known_risks_and_limitations", T_RISKS);
    add_str(w, "known_biases_or_ethical_considerations", T_BIASES);
    add_str(w, "clinical_risk_level", NA " (to be set by the deploying organization)");
    cJSON *ti = cJSON_AddObjectToObject(ch, "trust_ingredients");
    add_str(ti, "outcomes_and_outputs",
            "a probability (0 to 1) of each task's outcome within its horizon, with a 95% "
            "interval; sampled future timelines; patient embeddings (vectors)");
    add_str(ti, "model_type", cJSON_GetStringValue(get(m, "architecture")));
    add_str(ti, "foundation_models_used", "none: trained from scratch on the training store");
    add_str(ti, "input_data_source", source);
    add_str(ti, "output_and_input_data_types",
            "input: the patient's coded events with times and values (ingested from FHIR R4, "
            "MIMIC-IV or MEDS); output: probabilities, token sequences, vectors");
    add_str(ti, "development_data_characterization", demo);
    add_str(ti, "bias_mitigation_approaches", T_FAIRNESS);
    add_str(ti, "ongoing_maintenance", T_MAINT);
    add_str(ti, "security_and_compliance",
            "runs inside the organization's network; ingestion de-identifies records (keyed "
            "pseudonyms, shifted dates) unless told not to, and the training data above say "
            "which; the API keeps no PHI in logs and audits every request" REVIEW);
    add_str(ti, "transparency_and_accountability",
            "open-source code; every prediction names the weights' SHA-256; evaluation reports "
            "and this card are regenerated from the model folder and the reports' metrics.json");
    cJSON *tp = cJSON_AddObjectToObject(ch, "transparency");
    add_str(tp, "funding_source", NA);
    add_str(tp, "third_party_information",
            "built on open-source libraries packaged by Debian (cJSON, Nettle, OpenBLAS, "
            "liblinear, XGBoost, libyaml, zlib)");
    add_str(tp, "stakeholders_consulted", NA);

    cJSON *km = cJSON_AddObjectToObject(ch, "key_metrics");
    struct {
        const char *key, *goal, *interp, *process;
    } const kms[3] = {
        {"usefulness_and_efficacy",
         "Discrimination (AUROC, AUPRC) with 95% intervals, beside simple baselines on the same "
         "patients; sensitivity, specificity, PPV and net benefit at decision thresholds.",
         "AUROC 0.5 is chance and 1 perfect ranking; AUPRC is to be read against the "
         "prevalence. The model adds value where it beats the baselines beyond their "
         "intervals, and at a threshold where its net benefit exceeds both treating everyone "
         "and treating no one.",
         T_VALIDATION},
        {"fairness_and_equity",
         "Comparable discrimination and calibration across sex, age band, race and ethnicity.",
         "A FLAGGED gap's 95% interval excludes zero: the model does measurably worse for "
         "that group. An unflagged gap in a small group is not evidence of equity: its "
         "interval is wide.",
         "Subgroups as recorded in the evaluated store (sex; age band at the prediction time: "
         "<18, 18-39, 40-59, 60-74, 75+; race and ethnicity codes); per attribute the "
         "largest gap between groups large enough and with both outcomes, with a "
         "patient-bootstrap interval. Same process as the other metrics."},
        {"safety_and_reliability",
         "Calibrated risks (Brier score, ECE, calibration slope and intercept, mean risk "
         "against prevalence) internally and on data the model was not trained on.",
         "Calibration slope 1 and intercept 0 are ideal; a slope below 1 means risks that are "
         "too extreme. External figures much worse than internal ones mean the model does not "
         "transfer to that data without recalibration or retraining.",
         T_VALIDATION},
    };
    for (int i = 0; i < 3; i++) {
        cJSON *o = cJSON_AddObjectToObject(km, kms[i].key);
        add_str(o, "metric_goal", kms[i].goal);
        cJSON *a = cJSON_CreateArray();
        if (i == 0) {
            performance_lines(cd, a, reps, n, 0, L_USEFUL);
            performance_lines(cd, a, reps, n, 1, L_USEFUL);
        } else if (i == 1) {
            fairness_lines(cd, a, reps, n, 0);
            fairness_lines(cd, a, reps, n, 1);
        } else {
            performance_lines(cd, a, reps, n, 0, L_CALIBRATION);
            performance_lines(cd, a, reps, n, 1, L_CALIBRATION);
        }
        cJSON_AddItemToObject(o, "results",
                              or_na(a, i == 1 && n ? NA " (the reports hold no subgroup results)"
                                                   : NA " (no evaluation report given)"));
        add_str(o, "interpretation", kms[i].interp);
        if (n) {
            putf(cd,
                 "retrospective validation: %zu internal and %zu external evaluation "
                 "report(s)",
                 n_int, n_ext);
            add_buf(cd, o, "test_type");
        } else {
            add_str(o, "test_type", NA " (no evaluation report given)");
        }
        a = cJSON_CreateArray();
        testing_data(cd, a, reps, n, -1);
        cJSON_AddItemToObject(o, "testing_data_description",
                              or_na(a, NA " (no evaluation report given)"));
        add_str(o, "validation_process_and_justification", kms[i].process);
    }
    cJSON *rs = cJSON_AddObjectToObject(ch, "resources");
    cJSON *refs = cJSON_CreateArray();
    for (size_t r = 0; r < n; r++) {
        putf(cd, "%s/report.html (", rep_dirs[r]);
        put_data(cd, reps[r]);
        putf(cd, ", created %s)", jstrq(reps[r], "created"));
        push_buf(cd, refs);
    }
    cJSON_AddItemToObject(rs, "evaluation_references",
                          or_na(refs, NA " (no evaluation report given)"));
    add_str(rs, "clinical_trials", NA);
    add_str(rs, "peer_reviewed_publications", NA);
    add_str(rs, "reimbursement_status", NA);
    add_str(rs, "patient_consent_or_disclosure", NA " (set by the deploying organization)");
    add_str(ch, "bibliography",
            "Coalition for Health AI, Applied Model Card (draft schema v0.2, 2024); ONC, Health "
            "Data, Technology, and Interoperability (HTI-1) final rule, 89 FR 1192 (2024), 45 "
            "CFR 170.315(b)(11); Steyerberg, Clinical Prediction Models, 2nd ed. (2019) "
            "(calibration); Vickers and Elkin, Decision curve analysis, Med Decis Making 26:565 "
            "(2006); Van Calster et al., Calibration: the Achilles heel of predictive analytics, "
            "BMC Med 17:230 (2019).");

    /* ---- ONC HTI-1 source attributes, 170.315(b)(11)(iv)(B)(1)-(9) ---- */
    cJSON *h = cJSON_AddObjectToObject(c, "hti1");
    cJSON *d = cJSON_AddObjectToObject(h, "details");
    add_str(d, "name", base);
    add_str(d, "developer", cJSON_GetStringValue(get(bi, "model_developer")));
    add_str(d, "developer_contact", cJSON_GetStringValue(get(bi, "developer_contact")));
    add_str(d, "funding_source", NA);
    add_str(d, "output",
            "the probability (0 to 1) that the task's outcome occurs within its horizon, with "
            "a 95% interval; what-if outputs: the change in that probability if a treatment were "
            "given (an association, not a causal effect)");
    add_str(d, "output_type", "prediction");
    cJSON *pu = cJSON_AddObjectToObject(h, "purpose");
    add_str(pu, "intended_use", T_USE);
    add_str(pu, "intended_patient_population", T_POPULATION);
    add_str(pu, "intended_users", T_USERS);
    add_str(pu, "intended_decision_making_role",
            "informs: a risk estimate for a clinician to weigh; it neither augments nor replaces "
            "clinical management on its own, and triggers no action automatically" REVIEW);
    cJSON *oo = cJSON_AddObjectToObject(h, "cautioned_out_of_scope_use");
    add_str(oo, "description", T_OUT_OF_SCOPE);
    add_str(oo, "known_risks_and_limitations", T_RISKS);
    cJSON *dv = cJSON_AddObjectToObject(h, "development");
    if (tr) {
        putf(cd, "Every patient of the training store with at least one event, split by a keyless "
                 "hash of the patient id into training (about 80%%), tuning (10%%) and held-out "
                 "(10%%) patients; ");
        double ptr = jnum(get(tr, "patients"), "train"), ptu = jnum(get(tr, "patients"), "tuning");
        if (isfinite(ptr) && isfinite(ptu))
            putf(cd, "%.0f training and %.0f tuning patients; ", ptr, ptu);
        put(cd, "no other exclusion (every age, sex and recorded code).");
    }
    add_buf(cd, dv, "inclusion_and_exclusion_criteria");
    cJSON_AddItemToObject(dv, "demographic_inputs", demographic_inputs(&in));
    add_str(dv, "training_data_demographics", demo);
    add_str(dv, "training_data_relevance",
            NA " (the deploying organization compares its own patients with the training data "
               "above and with its internal and external evaluation reports)");
    cJSON *fa = cJSON_AddObjectToObject(h, "fairness");
    add_str(fa, "approach", T_FAIRNESS);
    add_str(fa, "bias_management", T_BIAS_MGMT);
    cJSON *ev = cJSON_AddObjectToObject(h, "external_validation");
    cJSON *a = cJSON_CreateArray();
    testing_data(cd, a, reps, n, 1);
    cJSON_AddItemToObject(ev, "data_sources",
                          or_na(a, NA " (no external validation report given)"));
    add_str(ev, "party",
            n_ext ? NA " (whoever ran medfm eval on the external store: to be named)"
                  : NA " (no external validation report given)");
    a = cJSON_CreateArray();
    for (size_t r = 0; r < n; r++) {
        if (!cJSON_IsTrue(get(get(reps[r], "store"), "external")))
            continue;
        put_data(cd, reps[r]);
        put(cd, ".");
        put_report_demographics(cd, reps[r]);
        push_buf(cd, a);
    }
    cJSON_AddItemToObject(ev, "demographics",
                          or_na(a, NA " (no external validation report given)"));
    add_str(ev, "process",
            "medfm eval on a store the model was not trained on (all its patients), the probe "
            "and baselines trained on the training store; the same metrics, intervals and "
            "subgroups as internal validation.");
    cJSON *pf = cJSON_AddObjectToObject(h, "performance");
    const char *no_int = NA " (no internal validation report given)";
    const char *no_ext = NA " (no external validation report given)";
    a = cJSON_CreateArray();
    performance_lines(cd, a, reps, n, 0, L_ALL);
    cJSON_AddItemToObject(pf, "internal_validity", or_na(a, no_int));
    a = cJSON_CreateArray();
    fairness_lines(cd, a, reps, n, 0);
    cJSON_AddItemToObject(pf, "internal_fairness",
                          or_na(a, n_int ? NA " (no subgroup results)" : no_int));
    a = cJSON_CreateArray();
    performance_lines(cd, a, reps, n, 1, L_ALL);
    cJSON_AddItemToObject(pf, "external_validity", or_na(a, no_ext));
    a = cJSON_CreateArray();
    fairness_lines(cd, a, reps, n, 1);
    cJSON_AddItemToObject(pf, "external_fairness",
                          or_na(a, n_ext ? NA " (no subgroup results)" : no_ext));
    add_str(pf, "outcome_references",
            NA " (no study of the model's effect on morbidity, mortality, length of stay or "
               "other outcomes)");
    cJSON *mt = cJSON_AddObjectToObject(h, "maintenance");
    add_str(mt, "validity_monitoring",
            "Re-evaluate with medfm eval on recent local data at least every quarter and after "
            "changes of EHR, coding or population; the server's metrics count predictions per "
            "task." REVIEW);
    add_str(mt, "local_validity",
            n_int ? "the internal validation above, on held-out patients of the training store "
                    "(local data when the deploying organization trained the model on its own "
                    "records)"
                  : NA " (no evaluation on local data given)");
    add_str(mt, "fairness_monitoring",
            "The subgroup gaps of every re-evaluation, compared with this card's." REVIEW);
    add_str(mt, "local_fairness",
            n_int ? "the internal fairness results above (subgroups of the held-out patients)"
                  : NA " (no evaluation on local data given)");
    cJSON *up = cJSON_AddObjectToObject(h, "update");
    add_str(up, "update_process", T_MAINT);
    add_str(up, "performance_correction",
            "when a re-evaluation falls outside this card's intervals or flags a new gap: stop or "
            "restrict use, then recalibrate or retrain and re-evaluate before resuming, within "
            "the governance committee's review cycle" REVIEW);
    free(demo);
    free(source);
    return c;
}

/* ---- checking and markdown ------------------------------------------------------------------ */

static const cJSON *at_path(const cJSON *root, const char *path)
{
    char key[128];
    const cJSON *o = root;
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += n + (dot != NULL);
    }
    return o;
}

int mf_card_check(const cJSON *card, struct mf_err *err)
{
    for (size_t i = 0; mf_card_required_fields[i]; i++) {
        const cJSON *x = at_path(card, mf_card_required_fields[i]);
        int ok = cJSON_IsString(x) && x->valuestring[0];
        if (cJSON_IsArray(x) && cJSON_GetArraySize(x) > 0) {
            ok = 1;
            const cJSON *e;
            cJSON_ArrayForEach(e, x)
            {
                ok &= cJSON_IsString(e) && e->valuestring[0];
            }
        }
        if (!ok)
            return mf_err_set(err, MF_EINVAL, "model card: %s is missing or empty",
                              mf_card_required_fields[i]);
    }
    return 0;
}

/* Section titles that say more than their key. */
static const char *section_title(const char *path)
{
    static const char *const t[][2] = {
        {"model", "Model"},
        {"chai", "CHAI Applied Model Card"},
        {"hti1", "ONC HTI-1 source attributes of a predictive decision support intervention "
                 "(45 CFR 170.315(b)(11)(iv)(B))"},
        {"chai.trust_ingredients", "Trust ingredients (AI system facts)"},
        {"chai.transparency", "Transparency information"},
        {"hti1.details", "(1) Details and output of the intervention"},
        {"hti1.purpose", "(2) Purpose of the intervention"},
        {"hti1.cautioned_out_of_scope_use", "(3) Cautioned out-of-scope use"},
        {"hti1.development", "(4) Development details and input features"},
        {"hti1.fairness", "(5) Process used to ensure fairness in development"},
        {"hti1.external_validation", "(6) External validation process"},
        {"hti1.performance", "(7) Quantitative measures of performance"},
        {"hti1.maintenance", "(8) Ongoing maintenance of implementation and use"},
        {"hti1.update", "(9) Update and continued validation or fairness assessment schedule"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(path, t[i][0]) == 0)
            return t[i][1];
    return NULL;
}

/* A key as a title: "known_risks" -> "Known risks". */
static void md_key(struct mf_buf *b, const char *key)
{
    for (const char *p = key; *p; p++)
        mf_buf_putc(b, *p == '_'                              ? ' '
                       : (p == key && *p >= 'a' && *p <= 'z') ? (char)(*p - 32)
                                                              : *p);
}

/* Text with Markdown's special characters escaped and line breaks flattened, so that input
 * can neither start a heading or list nor carry HTML. */
static void md_text(struct mf_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\n' || *s == '\r')
            mf_buf_putc(b, ' ');
        else if (strchr("<>*_`[]\\|#", *s)) {
            mf_buf_putc(b, '\\');
            mf_buf_putc(b, *s);
        } else
            mf_buf_putc(b, *s);
    }
}

/* Objects as headings (level by depth), strings as paragraphs, arrays as lists. */
static void md(struct mf_buf *b, const cJSON *o, int depth, const char *path)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, o)
    {
        const char *key = x->string ? x->string : "";
        if (depth == 2 && (strcmp(key, "format") == 0 || strcmp(key, "version") == 0 ||
                           strcmp(key, "created") == 0))
            continue;
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
        if (cJSON_IsObject(x)) {
            mf_buf_printf(b, "\n%.*s ", depth < 6 ? depth : 6, "######");
            const char *title = section_title(sub);
            if (title)
                mf_buf_puts(b, title);
            else
                md_key(b, key);
            mf_buf_puts(b, "\n");
            md(b, x, depth + 1, sub);
        } else if (cJSON_IsArray(x)) {
            mf_buf_puts(b, "\n**");
            md_key(b, key);
            mf_buf_puts(b, ":**\n\n");
            const cJSON *e;
            cJSON_ArrayForEach(e, x)
            {
                mf_buf_puts(b, "- ");
                md_text(b, cJSON_GetStringValue(e));
                mf_buf_puts(b, "\n");
            }
        } else if (cJSON_IsString(x)) {
            mf_buf_puts(b, "\n**");
            md_key(b, key);
            mf_buf_puts(b, ":** ");
            md_text(b, x->valuestring);
            mf_buf_puts(b, "\n");
        }
    }
}

/* The headline figures of every report as one table. */
static void md_glance(struct mf_buf *b, cJSON *const *reps, size_t n)
{
    mf_buf_puts(b, "\n## At a glance\n\n");
    if (n == 0) {
        mf_buf_puts(b, "No evaluation report was given: this card holds no performance "
                       "figures.\n");
        return;
    }
    mf_buf_puts(b, "95% intervals in parentheses. Only the medfm rows are this model; the "
                   "others are baselines or, with a synthetic cohort, the true risk.\n\n"
                   "| task | predictor | data | samples (with outcome) | AUROC | AUPRC | Brier "
                   "| ECE | calibration slope |\n|---|---|---|---|---|---|---|---|---|\n");
    struct card c = {NULL, MF_BUF_INIT, 0};
    for (size_t r = 0; r < n; r++) {
        const cJSON *t, *p, *s = get(reps[r], "store");
        const char *split = jstrq(reps[r], "split");
        cJSON_ArrayForEach(t, get(reps[r], "tasks"))
        {
            cJSON_ArrayForEach(p, get(t, "predictors"))
            {
                const cJSON *m = get(p, "metrics");
                mf_buf_puts(b, "| ");
                md_text(b, jstrq(t, "task"));
                mf_buf_puts(b, " | ");
                md_text(b, jstrq(p, "name"));
                mf_buf_printf(b, " | %s, ",
                              cJSON_IsTrue(get(s, "external")) ? "external" : "internal");
                md_text(b, split);
                mf_buf_printf(b, " | %.0f (%.0f) |", jnum(get(t, "cohort"), "samples"),
                              jnum(get(t, "cohort"), "positives"));
                static const char *const keys[] = {"auroc", "auprc", "brier", "ece",
                                                   "calibration_slope"};
                static const int digits[] = {3, 3, 4, 4, 2};
                for (int k = 0; k < 5; k++) {
                    const cJSON *e = get(m, keys[k]);
                    double v = jnum(e, "value"), lo = jnum(e, "lo"), hi = jnum(e, "hi");
                    c.b.len = 0;
                    put_num(&c, v, digits[k]);
                    if (isfinite(v) && isfinite(lo) && isfinite(hi))
                        putf(&c, " (%.*f to %.*f)", digits[k], lo, digits[k], hi);
                    mf_buf_printf(b, " %s |", c.b.data ? c.b.data : "n/a");
                }
                mf_buf_puts(b, "\n");
            }
        }
    }
    mf_buf_release(&c.b);
}

/* ---- writing the card ----------------------------------------------------------------------- */

/* Whether dir may be replaced: absent, an empty folder, or an earlier card. */
static int replaceable(const char *dir, struct mf_err *err)
{
    if (!mf_fs_exists(dir))
        return 0;
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/model_card.json", dir);
    if (mf_fs_is_dir(dir) && mf_fs_exists(p))
        return 0;
    DIR *d = mf_fs_is_dir(dir) ? opendir(dir) : NULL;
    int empty = d != NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    if (d)
        closedir(d);
    return empty ? 0
                 : mf_err_set(err, MF_EEXIST,
                              "'%s' exists and is not an earlier model card; not touching it", dir);
}

int mf_card_write(const char *model_dir, const char *const *report_dirs, size_t n_reports,
                  const char *out_dir, struct mf_err *err)
{
    struct mf_err local = {0};
    if (err == NULL)
        err = &local;
    cJSON *cfg = NULL, *vocab = NULL, *tr = NULL, *card = NULL;
    cJSON **reps = calloc(n_reports ? n_reports : 1, sizeof(cJSON *));
    struct mf_buf b = MF_BUF_INIT;
    struct card cd = {NULL, MF_BUF_INIT, 0};
    char path[PATH_MAX + 64], sha[65] = {0}, out[PATH_MAX], tmp[PATH_MAX + 16];
    char wdate[32] = NA;
    int made = 0; /* whether tmp is ours to remove */
    int rc = reps ? 0 : mf_err_set(err, MF_ENOMEM, "out of memory");
    /* "card/" and "card" are one folder; the partial folder goes beside it, not inside */
    size_t ol = strlen(out_dir);
    while (ol > 1 && out_dir[ol - 1] == '/')
        ol--;
    if (rc == 0 && (ol == 0 || ol >= sizeof out))
        rc = mf_err_set(err, MF_EINVAL, "bad output folder '%s'", out_dir);
    if (rc == 0) {
        memcpy(out, out_dir, ol);
        out[ol] = 0;
        snprintf(tmp, sizeof tmp, "%s.partial", out);
        rc = replaceable(out, err);
    }
    if (rc == 0 && (cfg = read_json(model_dir, "config.json", err)) == NULL)
        rc = err->code ? err->code : MF_EIO;
    if (rc == 0 && (vocab = read_json(model_dir, "vocab.json", err)) == NULL)
        rc = err->code ? err->code : MF_EIO;
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
        rc = sha256_file(path, sha, err);
        struct stat st;
        if (rc == 0 && stat(path, &st) == 0) {
            struct tm tm;
            time_t mt = st.st_mtime;
            if (gmtime_r(&mt, &tm))
                strftime(wdate, sizeof wdate, "%Y-%m-%d", &tm);
        }
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/training.json", model_dir);
        if (mf_fs_exists(path) && (tr = read_json(model_dir, "training.json", err)) == NULL)
            rc = err->code ? err->code : MF_EIO;
    }
    for (size_t i = 0; i < n_reports && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/metrics.json", report_dirs[i]);
        reps[i] = mf_json_read_file(path, (size_t)256 << 20, err);
        if (reps[i] == NULL) {
            rc = err->code ? err->code : MF_EIO;
            break;
        }
        rc = mf_report_check(reps[i], path, err);
        const char *rs = jstr(get(reps[i], "model"), "sha256");
        if (rc == 0 && strcmp(rs, sha) != 0)
            rc = mf_err_set(err, MF_EINVAL,
                            "%s: model.sha256: a report of other weights (%.12s), not of this "
                            "model's (%.12s)",
                            path, rs, sha);
    }
    if (rc == 0) {
        card = build(&cd, model_dir, cfg, vocab, tr, sha, wdate, reps, report_dirs, n_reports);
        if (cd.oom || card == NULL)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        else
            rc = mf_card_check(card, err);
    }
    if (rc == 0) {
        mf_fs_rm_rf(tmp);
        rc = mf_fs_mkdir_p(tmp, err);
        made = 1;
    }
    if (rc == 0 && (mf_json_print(card, &b) != 0 || mf_buf_putc(&b, '\n') != 0))
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/model_card.json", tmp);
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    }
    if (rc == 0) {
        b.len = 0;
        mf_buf_puts(&b, "# Model card: ");
        md_text(&b, cJSON_GetStringValue(at_path(card, "model.name")));
        mf_buf_puts(&b, "\n\nThe CHAI Applied Model Card sections, then the ONC HTI-1 source "
                        "attributes of a predictive decision support intervention, drawn from "
                        "the model folder and its evaluation reports. Text marked \"medfm "
                        "default text\" is a starting point the deploying organization must "
                        "review; \"not available\" marks what is not known. Card written ");
        md_text(&b, cJSON_GetStringValue(at_path(card, "created")));
        mf_buf_puts(&b, ".\n");
        md_glance(&b, reps, n_reports);
        md(&b, card, 2, "");
        mf_buf_putc(&b, '\n');
        snprintf(path, sizeof path, "%s/model_card.md", tmp);
        rc = b.data == NULL ? mf_err_set(err, MF_ENOMEM, "out of memory")
                            : mf_fs_write_file_atomic(path, b.data, b.len, err);
    }
    if (rc == 0)
        rc = mf_fs_replace_dir(tmp, out, err);
    if (rc != 0 && made)
        mf_fs_rm_rf(tmp);
    mf_buf_release(&b);
    mf_buf_release(&cd.b);
    cJSON_Delete(card);
    if (cfg)
        mf_json_release(cfg);
    if (vocab)
        mf_json_release(vocab);
    if (tr)
        mf_json_release(tr);
    for (size_t i = 0; reps && i < n_reports; i++)
        if (reps[i])
            mf_json_release(reps[i]);
    free(reps);
    return rc;
}
