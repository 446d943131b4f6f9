/* patient.c - a request's patients as an in-memory store (see patient.h). */
#include "serve/patient.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/timeutil.h"
#include "ingest/ingest.h"
#include "serve/serve.h"
#include "store/store.h"

int mf_json_depth(const cJSON *j, int stop)
{
    if (j == NULL || stop <= 0)
        return 0;
    int best = 0;
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, j)
        {
            int d = mf_json_depth(c, stop - 1);
            if (d > best)
                best = d;
            if (best >= stop - 1)
                break;
        }
    }
    return best + 1;
}

/* One patient of events JSON into the batch; at is the JSON path for errors. */
static int events_patient(const cJSON *p, const char *at, const struct mf_serve_limits *lim,
                          struct mf_store_batch *b, struct mf_err *err)
{
    if (!cJSON_IsObject(p))
        return mf_err_set(err, MF_EPARSE, "%s: a patient must be a JSON object", at);
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(p, "subject_id");
    char idbuf[32];
    const char *subject;
    if (cJSON_IsString(sid) && sid->valuestring[0]) {
        subject = sid->valuestring;
    } else if (cJSON_IsNumber(sid)) {
        snprintf(idbuf, sizeof idbuf, "%.0f", sid->valuedouble);
        subject = idbuf;
    } else {
        return mf_err_set(err, MF_EPARSE, "%s.subject_id: missing (a string or number)", at);
    }
    if (strlen(subject) > MF_MAX_SUBJECT_LEN)
        return mf_err_set(err, MF_ETOOBIG, "%s.subject_id: longer than %d characters", at,
                          MF_MAX_SUBJECT_LEN);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(p, "events");
    if (!cJSON_IsArray(evs))
        return mf_err_set(err, MF_EPARSE, "%s.events: missing (an array)", at);
    int n = cJSON_GetArraySize(evs);
    if (n > lim->max_events)
        return mf_err_set(err, MF_ETOOBIG, "%s.events: %d events, more than the limit of %d", at, n,
                          lim->max_events);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, evs)
    {
        if (!cJSON_IsObject(e))
            return mf_err_set(err, MF_EPARSE, "%s.events[%d]: not an object", at, i);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(e, "numeric_value");
        const cJSON *unit = cJSON_GetObjectItemCaseSensitive(e, "unit");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "text_value");
        int64_t time = MF_TIME_NONE;
        if (cJSON_IsString(t)) {
            if (mf_time_parse(t->valuestring, strlen(t->valuestring), &time) != 0)
                return mf_err_set(err, MF_EPARSE, "%s.events[%d].time: not an ISO 8601 time", at,
                                  i);
        } else if (t && !cJSON_IsNull(t)) {
            return mf_err_set(err, MF_EPARSE, "%s.events[%d].time: a string or null", at, i);
        }
        if (!cJSON_IsString(code) || code->valuestring[0] == '\0')
            return mf_err_set(err, MF_EPARSE, "%s.events[%d].code: missing (a string)", at, i);
        double v = NAN;
        if (cJSON_IsNumber(val) && isfinite(val->valuedouble))
            v = val->valuedouble;
        else if (val && !cJSON_IsNull(val))
            return mf_err_set(err, MF_EPARSE, "%s.events[%d].numeric_value: a number or null", at,
                              i);
        if ((unit && !cJSON_IsNull(unit) && !cJSON_IsString(unit)) ||
            (text && !cJSON_IsNull(text) && !cJSON_IsString(text)))
            return mf_err_set(err, MF_EPARSE, "%s.events[%d]: unit and text_value are strings", at,
                              i);
        struct mf_event ev = mf_event_make(subject, time, code->valuestring, v,
                                           unit && cJSON_IsString(unit) ? unit->valuestring : NULL,
                                           text && cJSON_IsString(text) ? text->valuestring : NULL);
        int rc = mf_store_batch_add(b, &ev);
        if (rc == MF_EINVAL)
            return mf_err_set(err, MF_ETOOBIG, "%s.events[%d]: a string over medfm's limits", at,
                              i);
        if (rc)
            return mf_err_set(err, rc, "out of memory");
        i++;
    }
    return 0;
}

static int parse_events(const cJSON *root, const struct mf_serve_limits *lim,
                        struct mf_store_batch *b, struct mf_err *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "patients");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(root, "patient");
    if (list) {
        if (!cJSON_IsArray(list))
            return mf_err_set(err, MF_EPARSE, "patients: not an array");
        int n = cJSON_GetArraySize(list);
        if (n > lim->max_patients)
            return mf_err_set(err, MF_ETOOBIG, "patients: %d patients, more than the limit of %d",
                              n, lim->max_patients);
        int i = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, list)
        {
            char at[32];
            snprintf(at, sizeof at, "patients[%d]", i++);
            int rc = events_patient(p, at, lim, b, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (one)
        return events_patient(one, "patient", lim, b, err);
    if (cJSON_GetObjectItemCaseSensitive(root, "events"))
        return events_patient(root, "$", lim, b, err);
    return mf_err_set(err, MF_EINVAL,
                      "no patient in the body: send a FHIR Bundle, or events JSON with "
                      "\"events\", \"patient\" or \"patients\"");
}

static int parse_fhir(const char *text, size_t len, struct mf_store_batch *b, int64_t *skipped,
                      struct mf_err *err)
{
    struct mf_ingest_ctx c;
    memset(&c, 0, sizeof c);
    c.out = b;
    c.file = "request body";
    c.offset = -1;
    c.scratch = (struct mf_buf)MF_BUF_INIT;
    int rc = mf_fhir_ingest_json(&c, "request body", text, len);
    mf_buf_release(&c.scratch);
    *skipped = c.skipped;
    if (rc)
        return mf_err_set(err, rc == MF_ENOMEM ? MF_ENOMEM : MF_EPARSE, "%s",
                          c.err.msg[0] ? c.err.msg : "the FHIR body cannot be read");
    return 0;
}

int mf_patients_parse(const cJSON *root, const char *text, size_t len,
                      const struct mf_serve_limits *lim, struct mf_patients *out,
                      struct mf_err *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(root))
        return mf_err_set(err, MF_EPARSE, "the body must be a JSON object");
    struct mf_store_batch *b = mf_store_batch_new();
    if (b == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    int rc;
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "resourceType");
    if (rt) {
        out->fhir = 1;
        if (!cJSON_IsString(rt))
            rc = mf_err_set(err, MF_EPARSE, "resourceType: not a string");
        else
            rc = parse_fhir(text, len, b, &out->skipped, err);
    } else {
        rc = parse_events(root, lim, b, err);
    }
    if (rc == 0 && mf_store_batch_count(b) == 0)
        rc = mf_err_set(err, MF_EINVAL, "the body holds no event medfm can use%s",
                        out->skipped ? " (every resource was left out as bad input)" : "");
    if (rc == 0)
        rc = mf_store_from_batch(b, &out->store, err);
    mf_store_batch_free(b);
    if (rc)
        return rc;
    out->n = (size_t)mf_store_n_patients(out->store);
    out->events = (int64_t)mf_store_n_events(out->store);
    if (out->n > (size_t)lim->max_patients) {
        rc = mf_err_set(err, MF_ETOOBIG, "%zu patients, more than the limit of %d", out->n,
                        lim->max_patients);
    } else {
        struct mf_timeline tl;
        for (uint64_t i = 0; i < out->n && rc == 0; i++)
            if (mf_store_shard_timeline(out->store, 0, i, &tl) == 0 &&
                tl.n > (size_t)lim->max_events)
                rc = mf_err_set(err, MF_ETOOBIG,
                                "a patient has %zu events, more than the limit of %d", tl.n,
                                lim->max_events);
    }
    if (rc)
        mf_patients_free(out);
    return rc;
}

void mf_patients_free(struct mf_patients *p)
{
    mf_store_close(p->store);
    p->store = NULL;
}
