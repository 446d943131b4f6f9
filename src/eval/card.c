/* card.c - the model card (see report.h and docs/model-card.md).
 *
 * model_card.json holds two views of the same facts: "chai" (the sections of the CHAI Applied
 * Model Card) and "hti1" (the source attributes ONC's HTI-1 rule requires of a predictive
 * decision support intervention, 45 CFR 170.315(b)(11)(iv)(B)).  Facts come from the model
 * folder (config.json, vocab.json, training.json, the weights' hash) and the reports; the
 * fixed text is medfm's default, marked for a deploying site to review; anything unknown is
 * "not available".  model_card.md is the same tree as headings and bullet lists.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "eval/report.h"

#define NA "not available"
#define REVIEW                                                                                     \
    " (medfm's default text: the deploying organization must review it for its own setting)"

const char *const mf_card_required_fields[] = {
    "model.name",
    "model.version",
    "model.weights_sha256",
    "chai.model_name_developer_inquiries",
    "chai.release_stage_date_version",
    "chai.global_availability",
    "chai.regulatory_approval",
    "chai.summary",
    "chai.keywords",
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
    "chai.trust_ingredients.input_and_output_data_types",
    "chai.trust_ingredients.development_data_characterization",
    "chai.trust_ingredients.bias_mitigation_approaches",
    "chai.trust_ingredients.ongoing_maintenance",
    "chai.trust_ingredients.security_and_compliance",
    "chai.trust_ingredients.transparency_and_accountability",
    "chai.transparency.funding_source",
    "chai.transparency.third_party_information",
    "chai.transparency.stakeholders_consulted",
    "chai.key_metrics.usefulness_and_efficacy",
    "chai.key_metrics.fairness_and_equity",
    "chai.key_metrics.safety_and_reliability",
    "chai.resources.evaluation_references",
    "chai.resources.clinical_trials",
    "chai.resources.publications",
    "chai.resources.reimbursement_status",
    "chai.resources.patient_consent_or_disclosure",
    "hti1.details.name",
    "hti1.details.developer",
    "hti1.details.funding_source",
    "hti1.details.output",
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
    "hti1.fairness_approach",
    "hti1.external_validation.data_sources",
    "hti1.external_validation.party",
    "hti1.external_validation.demographics",
    "hti1.external_validation.process",
    "hti1.performance.internal_validity",
    "hti1.performance.internal_fairness",
    "hti1.performance.external_validity",
    "hti1.performance.external_fairness",
    "hti1.performance.outcome_references",
    "hti1.maintenance.update_and_revalidation_schedule",
    "hti1.maintenance.validity_monitoring",
    "hti1.maintenance.fairness_monitoring",
    "hti1.update_process",
    "hti1.bibliography",
    NULL,
};

static cJSON *read_json(const char *dir, const char *file, struct mf_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return mf_json_read_file(path, (size_t)256 << 20, err);
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddStringToObject(o, k, v && v[0] ? v : NA);
}

/* "0.812 (0.771-0.850)" */
static void est_text(struct mf_buf *b, const cJSON *e, int digits)
{
    double v = jnum(e, "value"), lo = jnum(e, "lo"), hi = jnum(e, "hi");
    if (!isfinite(v)) {
        mf_buf_puts(b, "n/a");
        return;
    }
    mf_buf_printf(b, "%.*f", digits, v);
    if (isfinite(lo) && isfinite(hi))
        mf_buf_printf(b, " (%.*f-%.*f)", digits, lo, digits, hi);
}

/* Performance lines of the reports with external == want_external: per task and predictor,
 * or the subgroup gaps (fair). */
static cJSON *performance(cJSON *const *reps, size_t n, int want_external, int fair)
{
    cJSON *a = cJSON_CreateArray();
    struct mf_buf b = MF_BUF_INIT;
    for (size_t r = 0; r < n; r++) {
        const cJSON *store = cJSON_GetObjectItemCaseSensitive(reps[r], "store");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(store, "external")) != want_external)
            continue;
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(reps[r], "tasks"))
        {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cohort"), *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(t, "predictors"))
            {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "metrics");
                if (!fair) {
                    b.len = 0;
                    mf_buf_printf(&b, "%s, %s (split %s, %.0f samples, %.0f positive): AUROC ",
                                  jstr(t, "task") ? jstr(t, "task") : "?",
                                  jstr(p, "name") ? jstr(p, "name") : "?",
                                  jstr(reps[r], "split") ? jstr(reps[r], "split") : "?",
                                  jnum(c, "samples"), jnum(c, "positives"));
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(m, "auroc"), 3);
                    mf_buf_puts(&b, ", AUPRC ");
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(m, "auprc"), 3);
                    mf_buf_puts(&b, ", Brier ");
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(m, "brier"), 4);
                    mf_buf_puts(&b, ", ECE ");
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(m, "ece"), 4);
                    mf_buf_puts(&b, ", calibration slope ");
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(m, "calibration_slope"), 2);
                    cJSON_AddItemToArray(a, cJSON_CreateString(b.data ? b.data : ""));
                    continue;
                }
                const cJSON *g;
                cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(p, "gaps"))
                {
                    b.len = 0;
                    mf_buf_printf(&b, "%s, %s: %s gap by %s ",
                                  jstr(t, "task") ? jstr(t, "task") : "?",
                                  jstr(p, "name") ? jstr(p, "name") : "?",
                                  jstr(g, "metric") ? jstr(g, "metric") : "?",
                                  jstr(g, "attribute") ? jstr(g, "attribute") : "?");
                    est_text(&b, cJSON_GetObjectItemCaseSensitive(g, "gap"), 3);
                    mf_buf_printf(&b, " (%s better than %s)%s",
                                  jstr(g, "best") ? jstr(g, "best") : "?",
                                  jstr(g, "worst") ? jstr(g, "worst") : "?",
                                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "flagged"))
                                      ? ": FLAGGED, the interval excludes zero"
                                      : "");
                    cJSON_AddItemToArray(a, cJSON_CreateString(b.data ? b.data : ""));
                }
            }
        }
    }
    mf_buf_release(&b);
    if (cJSON_GetArraySize(a) == 0) {
        cJSON_Delete(a);
        return cJSON_CreateString(want_external ? NA " (no external validation report given)"
                                                : NA " (no internal validation report given)");
    }
    return a;
}

/* "FEMALE 51.2%, MALE 48.8%" from {"FEMALE": n, ...} */
static void shares(struct mf_buf *b, const cJSON *o)
{
    double tot = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, o)
    {
        tot += cJSON_IsNumber(x) ? x->valuedouble : 0;
    }
    int first = 1;
    cJSON_ArrayForEach(x, o)
    {
        if (!cJSON_IsNumber(x) || tot <= 0)
            continue;
        mf_buf_printf(b, "%s%s %.1f%%", first ? "" : ", ", x->string ? x->string : "?",
                      100 * x->valuedouble / tot);
        first = 0;
    }
    if (first)
        mf_buf_puts(b, NA);
}

static char *demographics_text(const cJSON *td)
{
    if (!cJSON_IsObject(td))
        return NULL;
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_printf(&b, "%.0f training patients. Sex: ", jnum(td, "patients"));
    shares(&b, cJSON_GetObjectItemCaseSensitive(td, "sex"));
    mf_buf_puts(&b, ". Age at the last event: ");
    shares(&b, cJSON_GetObjectItemCaseSensitive(td, "age_bands"));
    mf_buf_puts(&b, ". Race (US Core codes): ");
    shares(&b, cJSON_GetObjectItemCaseSensitive(td, "race"));
    mf_buf_puts(&b, ". Ethnicity: ");
    shares(&b, cJSON_GetObjectItemCaseSensitive(td, "ethnicity"));
    mf_buf_printf(&b, ". Events from %s to %s.",
                  jstr(td, "first_event") ? jstr(td, "first_event") : "?",
                  jstr(td, "last_event") ? jstr(td, "last_event") : "?");
    char *s = b.data ? strdup(b.data) : NULL;
    mf_buf_release(&b);
    return s;
}

/* The external reports' stores, described. */
static cJSON *external_sources(cJSON *const *reps, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t r = 0; r < n; r++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(reps[r], "store");
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "external")))
            continue;
        struct mf_buf b = MF_BUF_INIT;
        mf_buf_printf(&b, "store %s (%.0f patients, sources:",
                      jstr(s, "sha256") ? jstr(s, "sha256") : "?", jnum(s, "patients"));
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "sources"))
        {
            mf_buf_printf(&b, " %s", cJSON_GetStringValue(x) ? cJSON_GetStringValue(x) : "?");
        }
        mf_buf_printf(&b, "), split %s", jstr(reps[r], "split") ? jstr(reps[r], "split") : "?");
        cJSON_AddItemToArray(a, cJSON_CreateString(b.data ? b.data : ""));
        mf_buf_release(&b);
    }
    if (cJSON_GetArraySize(a) == 0) {
        cJSON_Delete(a);
        return cJSON_CreateString(NA " (no external validation report given)");
    }
    return a;
}

static cJSON *build(const char *model_dir, const cJSON *cfg, const cJSON *vocab, const cJSON *tr,
                    const char *sha, cJSON *const *reps, size_t n)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "format", "medfm-model-card");
    cJSON_AddNumberToObject(c, "version", 1);
    const char *base = strrchr(model_dir, '/');
    base = base && base[1] ? base + 1 : model_dir;
    int use_race = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(vocab, "use_race"));
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(tr, "training_data");
    char *demo = demographics_text(td);
    char buf[1024];

    cJSON *m = cJSON_AddObjectToObject(c, "model");
    add_str(m, "name", base);
    snprintf(buf, sizeof buf, "weights %.12s (%.0f training steps)", sha, jnum(tr, "steps"));
    add_str(m, "version", buf);
    add_str(m, "weights_sha256", sha);
    snprintf(buf, sizeof buf,
             "decoder-only transformer: %.0f layers, width %.0f, %.0f heads, context %.0f "
             "tokens, vocabulary %.0f, %.0f parameters",
             jnum(cfg, "layers"), jnum(cfg, "dim"), jnum(cfg, "heads"), jnum(cfg, "context"),
             jnum(cfg, "vocab"), jnum(tr, "parameters"));
    add_str(m, "architecture", cfg ? buf : NULL);
    add_str(m, "training_store_sha256", jstr(tr, "store_manifest_sha256"));

    const char *use =
        "Estimates a patient's risk of the outcomes defined by task files (death, onset of "
        "chronic conditions, readmission, ...) over a stated horizon, from the longitudinal "
        "record, to support clinicians' judgement (e.g. prioritizing review or prevention); it "
        "never replaces it." REVIEW;
    const char *users = "Clinicians and clinical decision support teams of the deploying "
                        "organization, through its EHR or medfm's API." REVIEW;
    const char *population =
        "Adult patients resembling the training data (below); not validated for children, "
        "pregnancy, or populations absent from it." REVIEW;
    const char *out_of_scope =
        "Not for autonomous decisions, triage without clinician review, diagnosis, dosing, "
        "or populations, settings, code systems or time periods unlike the training data; "
        "what-if (intervention) outputs are associations learned from records, not causal "
        "effects; not for individual-level decisions on outcomes whose evaluation had few "
        "positive cases." REVIEW;
    const char *risks =
        "Risks are estimated from simulated futures (20 by default): small risks are coarse "
        "(multiples of 1/samples) and have wide intervals; generated events carry no lab "
        "values; labels treat a record that ends before the horizon as a negative (no "
        "censoring); performance depends on how well the site's coding matches the training "
        "data; subgroup gaps flagged in the reports." REVIEW;
    const char *maint =
        "Re-run `medfm eval` on recent local data at least quarterly and after any change of "
        "the EHR, coding or population, compare with this card's figures, and retrain "
        "(`medfm train --resume` or a new model) when discrimination or calibration falls "
        "outside the intervals; every model is identified by its weights' SHA-256." REVIEW;
    const char *fairness =
        "Every evaluation reports metrics by sex, age band, race and ethnicity where recorded, "
        "the largest gap per attribute with a patient-bootstrap interval, flagged when the "
        "interval excludes zero; race and ethnicity are inputs only when the vocabulary was "
        "built with them (see demographic inputs).";

    char inputs[512];
    snprintf(inputs, sizeof inputs,
             "Sex and age (from the birth date) are inputs (the prompt's static prefix). Race "
             "and ethnicity: %s. No language, sexual orientation, gender identity or social "
             "determinants are used unless the record codes them as events.",
             vocab ? (use_race ? "inputs" : "not inputs (recorded only for fairness evaluation)")
                   : NA);

    cJSON *ch = cJSON_AddObjectToObject(c, "chai");
    snprintf(buf, sizeof buf,
             "%s, trained with medfm (open source); inquiries: the deploying "
             "organization's AI governance contact" REVIEW,
             base);
    add_str(ch, "model_name_developer_inquiries", buf);
    snprintf(buf, sizeof buf, "research / local validation; version %.12s", sha);
    add_str(ch, "release_stage_date_version", buf);
    add_str(ch, "global_availability", "runs on the deploying organization's own servers");
    add_str(ch, "regulatory_approval",
            "none: not cleared or approved by the FDA or any other regulator" REVIEW);
    add_str(ch, "summary",
            "A generative transformer over patients' timelines of diagnoses, medications, labs, "
            "procedures and encounters; risks come from sampled futures (zero-shot) or from a "
            "linear probe on its patient embedding.");
    add_str(ch, "keywords", "foundation model; EHR; risk prediction; generative; medfm");
    cJSON *ud = cJSON_AddObjectToObject(ch, "uses_and_directions");
    add_str(ud, "intended_use_and_workflow", use);
    add_str(ud, "primary_intended_users", users);
    add_str(ud, "how_to_use",
            "medfm predict / simulate, or the REST, FHIR and CDS Hooks API: each risk comes with "
            "a 95% interval; read it with the evaluation reports of the same model.");
    add_str(ud, "targeted_patient_population", population);
    add_str(ud, "cautioned_out_of_scope_settings", out_of_scope);
    cJSON *w = cJSON_AddObjectToObject(ch, "warnings");
    add_str(w, "known_risks_and_limitations", risks);
    add_str(w, "known_biases_or_ethical_considerations",
            "Patterns of care and coding in the training records (who is tested, diagnosed, "
            "treated) are learned with the outcomes; see the subgroup gaps in the reports.");
    add_str(w, "clinical_risk_level", NA " (to be set by the deploying organization)");
    cJSON *ti = cJSON_AddObjectToObject(ch, "trust_ingredients");
    add_str(ti, "outcomes_and_outputs",
            "probability of a task's outcome within its horizon, with a 95% interval; sampled "
            "futures; patient embeddings");
    add_str(ti, "model_type",
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "architecture")));
    add_str(ti, "foundation_models_used", "none: trained from scratch on the training store");
    struct mf_buf src = MF_BUF_INIT;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(td, "sources"))
    {
        mf_buf_printf(&src, "%s%s", src.len ? ", " : "",
                      cJSON_GetStringValue(x) ? cJSON_GetStringValue(x) : "?");
    }
    if (td) {
        mf_buf_printf(&src, "%s event store %s%s", src.len ? " records in" : "records in",
                      jstr(tr, "store_manifest_sha256") ? jstr(tr, "store_manifest_sha256") : "?",
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(td, "deidentified"))
                          ? ", de-identified"
                          : ", identified");
    }
    add_str(ti, "input_data_source", src.data);
    add_str(ti, "input_and_output_data_types",
            "input: coded events (FHIR R4, MIMIC-IV or MEDS) with times and values; output: "
            "probabilities, token sequences, float vectors");
    add_str(ti, "development_data_characterization", demo);
    add_str(ti, "bias_mitigation_approaches", fairness);
    add_str(ti, "ongoing_maintenance", maint);
    add_str(ti, "security_and_compliance",
            "runs inside the organization's network; training data de-identified by medfm "
            "ingest (keyed pseudonyms, date shifts) unless identified on purpose; the API keeps "
            "no PHI and audits every request");
    add_str(ti, "transparency_and_accountability",
            "open source code; every output names the model's weights hash; evaluation reports "
            "and this card are regenerated from the model folder");
    cJSON *tp = cJSON_AddObjectToObject(ch, "transparency");
    add_str(tp, "funding_source", NA);
    add_str(tp, "third_party_information",
            "dependencies are Debian packages (docs/architecture.md)");
    add_str(tp, "stakeholders_consulted", NA);
    cJSON *km = cJSON_AddObjectToObject(ch, "key_metrics");
    cJSON_AddItemToObject(km, "usefulness_and_efficacy", performance(reps, n, 0, 0));
    cJSON_AddItemToObject(km, "fairness_and_equity", performance(reps, n, 0, 1));
    cJSON_AddItemToObject(km, "safety_and_reliability", performance(reps, n, 1, 0));
    cJSON *rs = cJSON_AddObjectToObject(ch, "resources");
    add_str(rs, "evaluation_references",
            n ? "the evaluation reports (report.html) of this model" : NULL);
    add_str(rs, "clinical_trials", NA);
    add_str(rs, "publications", NA);
    add_str(rs, "reimbursement_status", NA);
    add_str(rs, "patient_consent_or_disclosure", NA " (set by the deploying organization)");

    cJSON *h = cJSON_AddObjectToObject(c, "hti1");
    cJSON *d = cJSON_AddObjectToObject(h, "details");
    add_str(d, "name", base);
    add_str(d, "developer", "trained by the deploying organization with medfm" REVIEW);
    add_str(d, "funding_source", NA);
    add_str(d, "output",
            "probability (0-1) of the task's outcome within its horizon, with a 95% "
            "interval");
    cJSON *pu = cJSON_AddObjectToObject(h, "purpose");
    add_str(pu, "intended_use", use);
    add_str(pu, "intended_patient_population", population);
    add_str(pu, "intended_users", users);
    add_str(pu, "intended_decision_making_role",
            "informs: a risk estimate for a clinician to weigh, never an automatic action" REVIEW);
    cJSON *oo = cJSON_AddObjectToObject(h, "cautioned_out_of_scope_use");
    add_str(oo, "description", out_of_scope);
    add_str(oo, "known_risks_and_limitations", risks);
    cJSON *dv = cJSON_AddObjectToObject(h, "development");
    snprintf(buf, sizeof buf,
             "every patient of the training store in the training split (a keyless hash of the "
             "patient id: about 80%%, tuning 10%%, held out 10%%) with at least one event; %.0f "
             "training and %.0f tuning patients",
             jnum(cJSON_GetObjectItemCaseSensitive(tr, "patients"), "train"),
             jnum(cJSON_GetObjectItemCaseSensitive(tr, "patients"), "tuning"));
    add_str(dv, "inclusion_and_exclusion_criteria", tr ? buf : NULL);
    add_str(dv, "demographic_inputs", inputs);
    add_str(dv, "training_data_demographics", demo);
    add_str(dv, "training_data_relevance",
            NA " (the deploying organization compares its population with the training data "
               "above and its own evaluation reports)");
    add_str(h, "fairness_approach", fairness);
    cJSON *ev = cJSON_AddObjectToObject(h, "external_validation");
    cJSON_AddItemToObject(ev, "data_sources", external_sources(reps, n));
    add_str(ev, "party", NA " (whoever ran medfm eval on the external store)");
    add_str(ev, "demographics", "see the subgroup tables of the external reports");
    add_str(ev, "process",
            "medfm eval on a store the model was not trained on (all its patients), the probe "
            "and baselines trained on the training store; same metrics, intervals and "
            "subgroups as internal validation");
    cJSON *pf = cJSON_AddObjectToObject(h, "performance");
    cJSON_AddItemToObject(pf, "internal_validity", performance(reps, n, 0, 0));
    cJSON_AddItemToObject(pf, "internal_fairness", performance(reps, n, 0, 1));
    cJSON_AddItemToObject(pf, "external_validity", performance(reps, n, 1, 0));
    cJSON_AddItemToObject(pf, "external_fairness", performance(reps, n, 1, 1));
    add_str(pf, "outcome_references", NA " (no study of the model's effect on patient outcomes)");
    cJSON *mt = cJSON_AddObjectToObject(h, "maintenance");
    add_str(mt, "update_and_revalidation_schedule", maint);
    add_str(mt, "validity_monitoring",
            "the server's metrics report predictions per task and input drift; re-evaluate "
            "with medfm eval on recent data" REVIEW);
    add_str(mt, "fairness_monitoring", "subgroup gaps of each re-evaluation" REVIEW);
    add_str(h, "update_process",
            "a new model folder (new weights hash) after retraining, evaluated and carded "
            "before it replaces the old one" REVIEW);
    add_str(h, "bibliography",
            "CHAI Applied Model Card; ONC HTI-1 final rule, 45 CFR 170.315(b)(11); Steyerberg, "
            "Clinical Prediction Models (calibration); Vickers and Elkin 2006 (decision "
            "curves)");
    mf_buf_release(&src);
    free(demo);
    return c;
}

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
        if (!(cJSON_IsString(x) && x->valuestring[0]) &&
            !(cJSON_IsArray(x) && cJSON_GetArraySize(x)))
            return mf_err_set(err, MF_EINVAL, "model card: %s is missing or empty",
                              mf_card_required_fields[i]);
    }
    return 0;
}

/* Markdown: objects as headings (level by depth), strings as paragraphs, arrays as lists. */
static void md_title(struct mf_buf *b, const char *key)
{
    if (strcmp(key, "chai") == 0) {
        mf_buf_puts(b, "CHAI Applied Model Card");
        return;
    }
    if (strcmp(key, "hti1") == 0) {
        mf_buf_puts(b, "ONC HTI-1 source attributes (45 CFR 170.315(b)(11))");
        return;
    }
    for (const char *p = key; *p; p++)
        mf_buf_putc(b, *p == '_'                              ? ' '
                       : (p == key && *p >= 'a' && *p <= 'z') ? (char)(*p - 32)
                                                              : *p);
}

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

static void md(struct mf_buf *b, const cJSON *o, int depth)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, o)
    {
        if (cJSON_IsObject(x)) {
            mf_buf_printf(b, "\n%.*s ", depth < 6 ? depth : 6, "######");
            md_title(b, x->string ? x->string : "");
            mf_buf_puts(b, "\n");
            md(b, x, depth + 1);
        } else if (cJSON_IsArray(x)) {
            mf_buf_puts(b, "\n**");
            md_title(b, x->string ? x->string : "");
            mf_buf_puts(b, "**\n\n");
            const cJSON *e;
            cJSON_ArrayForEach(e, x)
            {
                mf_buf_puts(b, "- ");
                md_text(b, cJSON_GetStringValue(e));
                mf_buf_puts(b, "\n");
            }
        } else if (cJSON_IsString(x) && !(depth == 2 && strcmp(x->string, "format") == 0)) {
            mf_buf_puts(b, "\n**");
            md_title(b, x->string ? x->string : "");
            mf_buf_puts(b, ":** ");
            md_text(b, x->valuestring);
            mf_buf_puts(b, "\n");
        }
    }
}

int mf_card_write(const char *model_dir, const char *const *report_dirs, size_t n_reports,
                  const char *out_dir, struct mf_err *err)
{
    cJSON *cfg = NULL, *vocab = NULL, *tr = NULL, *card = NULL;
    cJSON **reps = calloc(n_reports ? n_reports : 1, sizeof(cJSON *));
    struct mf_buf wbuf = MF_BUF_INIT, b = MF_BUF_INIT;
    int rc = reps ? 0 : mf_err_set(err, MF_ENOMEM, "out of memory");
    char path[PATH_MAX + 64], sha[65] = {0};
    if (rc == 0 && (cfg = read_json(model_dir, "config.json", err)) == NULL)
        rc = err->code ? err->code : MF_EIO;
    if (rc == 0 && (vocab = read_json(model_dir, "vocab.json", err)) == NULL)
        rc = err->code ? err->code : MF_EIO;
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
        rc = mf_fs_read_file(path, (size_t)16 << 30, &wbuf, err);
        if (rc == 0 && mf_sha256_hex(wbuf.data, wbuf.len, sha) != 0)
            rc = mf_err_set(err, MF_ENOMEM, "cannot hash %s", path);
        mf_buf_release(&wbuf);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/training.json", model_dir);
        if (mf_fs_exists(path) && (tr = read_json(model_dir, "training.json", err)) == NULL)
            rc = err->code ? err->code : MF_EIO;
    }
    for (size_t i = 0; i < n_reports && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/metrics.json", report_dirs[i]);
        reps[i] = mf_json_read_file(path, (size_t)256 << 20, err);
        if (reps[i] == NULL)
            rc = err->code ? err->code : MF_EIO;
        else
            rc = mf_report_check(reps[i], path, err);
    }
    if (rc == 0) {
        card = build(model_dir, cfg, vocab, tr, sha, reps, n_reports);
        rc = mf_card_check(card, err);
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.partial", out_dir);
    if (rc == 0) {
        mf_fs_rm_rf(tmp);
        rc = mf_fs_mkdir_p(tmp, err);
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
                        "attributes of a predictive decision support intervention. Text marked "
                        "as medfm's default must be reviewed by the deploying organization; "
                        "\"not available\" marks what is not known.\n");
        md(&b, card, 2);
        snprintf(path, sizeof path, "%s/model_card.md", tmp);
        rc = mf_fs_write_file_atomic(path, b.data, b.len ? b.len : 0, err);
    }
    if (rc == 0)
        rc = mf_fs_replace_dir(tmp, out_dir, err);
    else
        mf_fs_rm_rf(tmp);
    mf_buf_release(&b);
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
