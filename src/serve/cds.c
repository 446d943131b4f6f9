/* cds.c - CDS Hooks: discovery, the patient-view service, feedback.
 *
 * One service, "medfm-risk", on the patient-view hook.  It needs the prefetch of its discovery
 * entry (the patient and searches for their conditions, observations, medication requests and
 * encounters) and answers 412 when one is missing: the server fetches nothing itself.  The
 * prefetched resources are read as one FHIR Bundle, every served task with a fixed horizon is
 * predicted, and each decided risk becomes a card.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/hash.h"
#include "serve/serve_int.h"
#include "tasks/task.h"

#define SERVICE_ID "medfm-risk"

static const char *const prefetch_keys[] = {"patient", "conditions", "observations", "medications",
                                            "encounters"};
static const char *const prefetch_queries[] = {
    "Patient/{{context.patientId}}", "Condition?patient={{context.patientId}}",
    "Observation?patient={{context.patientId}}", "MedicationRequest?patient={{context.patientId}}",
    "Encounter?patient={{context.patientId}}"};
#define N_PREFETCH 5

void mf_cds_discovery(struct mf_call *c)
{
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, "{\"services\":[{\"hook\":\"patient-view\",\"id\":\"" SERVICE_ID "\","
                    "\"title\":\"medfm risk forecast\",\"description\":\"Risks of the next "
                    "months' diagnoses and outcomes, from futures the model simulates for the "
                    "patient, with 95% intervals.\",\"prefetch\":{");
    for (int i = 0; i < N_PREFETCH; i++)
        mf_buf_printf(&b, "%s\"%s\":\"%s\"", i ? "," : "", prefetch_keys[i], prefetch_queries[i]);
    mf_buf_puts(&b, "},\"usageRequirements\":\"The client sends every prefetch; the service "
                    "fetches nothing.\"}]}");
    mf_call_json(c, 200, "application/json", &b);
}

int mf_cds_check(struct mf_call *c)
{
    if (strcmp(c->service, SERVICE_ID) != 0) {
        mf_call_error(c, 404, "not_found", "no CDS service '%.60s'", c->service);
        return -1;
    }
    cJSON *root = c->body.len ? cJSON_ParseWithLength(c->body.data, c->body.len) : NULL;
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        mf_call_error(c, 400, "bad_json", "the body is not a JSON object");
        goto out;
    }
    const cJSON *hook = cJSON_GetObjectItemCaseSensitive(root, "hook");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ctx, "patientId");
    if (!cJSON_IsString(hook) || strcmp(hook->valuestring, "patient-view") != 0) {
        mf_call_error(c, 400, "bad_request", "hook: this service answers patient-view");
        goto out;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "hookInstance"))) {
        mf_call_error(c, 400, "bad_request", "hookInstance: missing");
        goto out;
    }
    if (!cJSON_IsString(pid)) {
        mf_call_error(c, 400, "bad_request", "context.patientId: missing");
        goto out;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "prefetch");
    for (int i = 0; i < N_PREFETCH; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(pre, prefetch_keys[i]);
        if (!cJSON_IsObject(p)) {
            mf_call_error(c, 412, "prefetch_missing",
                          "prefetch.%s is missing: the service needs every prefetch of its "
                          "discovery entry",
                          prefetch_keys[i]);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* The prefetch as one Bundle (the patient, then every entry of the searches). */
static char *prefetch_bundle(const cJSON *pre, size_t *len)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *entries = cJSON_AddArrayToObject(b, "entry");
    cJSON_AddStringToObject(b, "resourceType", "Bundle");
    cJSON_AddStringToObject(b, "type", "collection");
    for (int i = 0; i < N_PREFETCH; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(pre, prefetch_keys[i]);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(p, "resourceType");
        if (cJSON_IsString(rt) && strcmp(rt->valuestring, "Bundle") == 0) {
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "entry"))
            {
                cJSON *dup = cJSON_Duplicate(e, 1);
                if (dup)
                    cJSON_AddItemToArray(entries, dup);
            }
        } else {
            cJSON *ent = cJSON_CreateObject();
            cJSON_AddItemToObject(ent, "resource", cJSON_Duplicate(p, 1));
            cJSON_AddItemToArray(entries, ent);
        }
    }
    char *text = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    *len = text ? strlen(text) : 0;
    return text;
}

/* "death_1y" -> a readable outcome for the summary */
static void task_label(const char *name, int64_t horizon, char *out, size_t cap)
{
    char h[32] = "";
    if (horizon > 0) {
        double d = (double)horizon / 86400e6;
        if (d >= 360)
            snprintf(h, sizeof h, " within %.0f year%s", d / 365.25, d >= 700 ? "s" : "");
        else if (d >= 28)
            snprintf(h, sizeof h, " within %.0f months", d / 30.4);
        else
            snprintf(h, sizeof h, " within %.0f days", d);
    }
    char base[64];
    snprintf(base, sizeof base, "%s", name);
    char *u = strrchr(base, '_');
    if (u && (strchr(u, 'y') || strchr(u, 'm') || strchr(u, 'd')) && u[1] >= '0' && u[1] <= '9')
        *u = '\0';
    for (char *p = base; *p; p++)
        if (*p == '_')
            *p = ' ';
    snprintf(out, cap, "%s%s", base, h);
}

void mf_cds_service(struct mf_worker *w, struct mf_call *c)
{
    struct mf_server *s = w->srv;
    mf_sha256_hex(c->body.data, c->body.len, c->input_sha256); /* the request as received */
    cJSON *root = cJSON_ParseWithLength(c->body.data, c->body.len);
    size_t blen = 0;
    char *bundle =
        root ? prefetch_bundle(cJSON_GetObjectItemCaseSensitive(root, "prefetch"), &blen) : NULL;
    cJSON_Delete(root);
    if (bundle == NULL) {
        mf_call_error(c, 503, "unavailable", "out of memory");
        return;
    }
    /* the served request: the Bundle as its body, every task with a fixed horizon */
    mf_buf_release(&c->body);
    c->body.data = bundle;
    c->body.len = blen;
    c->body.cap = blen + 1;
    struct mf_served_req r;
    if (mf_served_req_prepare(w, c, &r, 0) != 0) {
        mf_served_req_free(&r);
        return;
    }
    for (size_t i = 0; i < s->n_tasks && r.n_tasks < s->o.limits.max_tasks && r.n_tasks < 64; i++)
        if (mf_task_horizon(s->tasks[i].task) > 0 && mf_task_has_label(s->tasks[i].task))
            r.tasks[r.n_tasks++] = (int)i;
    struct mf_served_risk rk[64];
    memset(rk, 0, sizeof rk);
    struct mf_err err = {0};
    int64_t at;
    if (r.pts.n != 1) {
        mf_call_error(c, 422, "bad_input", "the prefetch holds %zu patients, not one", r.pts.n);
        mf_served_req_free(&r);
        return;
    }
    if (mf_served_risks(w, &r, 0, rk, &at, &err) != 0) {
        mf_call_error(c, 422, "cannot_predict", "%s", err.msg);
        mf_served_req_free(&r);
        return;
    }
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_puts(&b, "{\"cards\":[");
    int first = 1;
    for (int k = 0; k < r.n_tasks; k++) {
        const struct mf_risk *x = &rk[k].risk;
        if (isnan(x->p))
            continue;
        const struct mf_served_task *t = &s->tasks[rk[k].task];
        char label[128], summary[160], id[37];
        task_label(t->name, rk[k].horizon, label, sizeof label);
        snprintf(summary, sizeof summary, "%.60s: %.0f%% (95%% CI %.0f-%.0f%%)", label, 100 * x->p,
                 100 * x->lo, 100 * x->hi);
        mf_uuid4(id);
        const char *ind = x->p >= 0.30 ? "critical" : x->p >= 0.10 ? "warning" : "info";
        mf_buf_printf(&b, "%s{\"uuid\":\"%s\",\"summary\":", first ? "" : ",", id);
        first = 0;
        mf_buf_json_string(&b, summary, strlen(summary));
        mf_buf_printf(&b, ",\"indicator\":\"%s\",\"detail\":", ind);
        struct mf_buf d = MF_BUF_INIT;
        mf_buf_printf(&d,
                      "**%s**\n\n| task | risk | 95%% interval | futures decided |\n"
                      "|---|---|---|---|\n| `%s` | %.1f%% | %.1f%% - %.1f%% | %u of %u |\n\n"
                      "The risk is the share of %u futures simulated by %s %s from the record "
                      "in which the outcome happens (Wilson interval).  It is a forecast to "
                      "support, not replace, clinical judgement.",
                      label, t->name, 100 * x->p, 100 * x->lo, 100 * x->hi, x->decided, x->futures,
                      x->futures, s->model_name, s->model_version);
        mf_buf_json_string(&b, d.data, d.len);
        mf_buf_release(&d);
        mf_buf_puts(&b, ",\"source\":{\"label\":");
        char src[160];
        snprintf(src, sizeof src, "medfm %s", s->model_version);
        mf_buf_json_string(&b, src, strlen(src));
        mf_buf_printf(&b,
                      ",\"url\":\"%s/model-card\",\"topic\":{\"system\":"
                      "\"https://medfm.invalid/tasks\",\"code\":",
                      s->base_url);
        mf_buf_json_string(&b, t->name, strlen(t->name));
        mf_buf_puts(&b, "}}}");
    }
    mf_buf_puts(&b, "]}");
    mf_call_json(c, 200, "application/json", &b);
    mf_served_req_free(&r);
}

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return 0;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

void mf_cds_feedback(struct mf_call *c)
{
    struct mf_server *s = c->srv;
    if (strcmp(c->service, SERVICE_ID) != 0) {
        mf_call_error(c, 404, "not_found", "no CDS service '%.60s'", c->service);
        return;
    }
    cJSON *root = c->body.len ? cJSON_ParseWithLength(c->body.data, c->body.len) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "feedback");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 || cJSON_GetArraySize(list) > 100) {
        mf_call_error(c, 400, "bad_request", "feedback: a list of 1 to 100 items");
        cJSON_Delete(root);
        return;
    }
    int i = 0, created_n = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
    {
        const cJSON *card = cJSON_GetObjectItemCaseSensitive(f, "card");
        const cJSON *oc = cJSON_GetObjectItemCaseSensitive(f, "outcome");
        if (!cJSON_IsString(card) || !is_uuid(card->valuestring) || !cJSON_IsString(oc) ||
            (strcmp(oc->valuestring, "accepted") != 0 &&
             strcmp(oc->valuestring, "overridden") != 0)) {
            mf_call_error(c, 400, "bad_request",
                          "feedback[%d]: card (a uuid) and outcome (accepted or overridden) "
                          "are required",
                          i);
            cJSON_Delete(root);
            return;
        }
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(f, list)
    {
        const cJSON *card = cJSON_GetObjectItemCaseSensitive(f, "card");
        const cJSON *oc = cJSON_GetObjectItemCaseSensitive(f, "outcome");
        char *text = cJSON_PrintUnformatted(f);
        int created = 0;
        struct mf_err err = {0};
        int rc = mf_state_feedback(s->state, card->valuestring, c->key_id, c->service,
                                   oc->valuestring, text ? text : "{}", &created, &err);
        free(text);
        if (rc) {
            mf_call_error(c, 503, "unavailable", "the feedback cannot be stored");
            cJSON_Delete(root);
            return;
        }
        created_n += created;
        i++;
    }
    cJSON_Delete(root);
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_printf(&b, "{\"recorded\":%d,\"already_recorded\":%d}", created_n, i - created_n);
    mf_call_json(c, 200, "application/json", &b);
}
