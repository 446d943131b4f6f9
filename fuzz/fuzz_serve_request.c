/* fuzz_serve_request.c - libFuzzer target for the server's request handler (src/serve/app.c,
 * cds.c, patient.c).
 *
 * The input is a request as text:
 *     METHOD PATH[?QUERY]\n
 *     Header: value\n ...
 *     \n
 *     body
 * It goes through routing, authentication (API keys and CDS Hooks JWTs, against an empty key
 * store and no trusted issuer), content-type and size checks, CDS Hooks prefetch checks and
 * feedback, and the body through the patient reader (FHIR or events JSON).  The server has no
 * model: requests for one are refused as a full queue.  Every answer must be a status in
 * 200..599 with a JSON body, and an error body must name its code.
 */
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "scratch.h"
#include "serve/patient.h"
#include "serve/serve_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mf_server srv;
static int ready;

static void cleanup(void)
{
    const char *db = scratch_path("fuzz-serve", ".sqlite");
    char extra[600];
    remove(db);
    snprintf(extra, sizeof extra, "%s-wal", db);
    remove(extra);
    snprintf(extra, sizeof extra, "%s-shm", db);
    remove(extra);
}

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void parse_query(struct mf_call *c, const char *q, size_t n)
{
    while (n > 0 && c->n_args < CALL_MAX_ARGS) {
        const char *amp = memchr(q, '&', n);
        size_t len = amp ? (size_t)(amp - q) : n;
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        c->args[c->n_args].key = dup_n(q, kl);
        c->args[c->n_args].value = eq ? dup_n(eq + 1, len - kl - 1) : dup_n("", 0);
        c->n_args++;
        if (!amp)
            break;
        n -= len + 1;
        q = amp + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        struct mf_serve_opts o;
        memset(&o, 0, sizeof o);
        o.no_model = 1;
        o.model_dir = "none";
        o.db = scratch_path("fuzz-serve", ".sqlite");
        o.limits.max_body = 1 << 20;
        struct mf_err err = {0};
        if (mf_server_init(&srv, &o, &err) != 0)
            abort();
        snprintf(srv.base_url, sizeof srv.base_url, "http://127.0.0.1:1");
        atexit(cleanup);
        ready = 1;
    }
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    if (nl == NULL)
        return 0;
    struct mf_call c;
    memset(&c, 0, sizeof c);
    c.srv = &srv;
    c.body = (struct mf_buf)MF_BUF_INIT;
    c.resp = (struct mf_buf)MF_BUF_INIT;
    const char *sp = memchr(p, ' ', (size_t)(nl - p));
    if (sp == NULL || (size_t)(sp - p) >= sizeof c.method)
        return 0;
    memcpy(c.method, p, (size_t)(sp - p));
    const char *path = sp + 1, *qm = memchr(path, '?', (size_t)(nl - path));
    size_t plen = (size_t)((qm ? qm : nl) - path);
    if (plen >= sizeof c.path)
        return 0;
    memcpy(c.path, path, plen);
    if (memchr(c.path, '\0', plen))
        return 0;
    if (qm)
        parse_query(&c, qm + 1, (size_t)(nl - qm - 1));
    snprintf(c.url, sizeof c.url, "%s%s", srv.base_url, c.path);
    const char *rid = NULL;
    char *rid_copy = NULL;
    p = nl + 1;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le == p) {
            p = le + 1;
            break;
        }
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            size_t kn = (size_t)(colon - p);
            const char *v = colon + 1;
            while (v < le && *v == ' ')
                v++;
            char *val = dup_n(v, (size_t)(le - v));
            char **slot = NULL;
            if (kn == 13 && strncasecmp(p, "authorization", kn) == 0)
                slot = &c.authorization;
            else if (kn == 7 && strncasecmp(p, "api-key", kn) == 0)
                slot = &c.api_key;
            else if (kn == 12 && strncasecmp(p, "content-type", kn) == 0)
                slot = &c.content_type;
            else if (kn == 6 && strncasecmp(p, "accept", kn) == 0)
                slot = &c.accept;
            else if (kn == 12 && strncasecmp(p, "x-request-id", kn) == 0)
                slot = &rid_copy;
            if (slot) {
                free(*slot);
                *slot = val;
            } else {
                free(val);
            }
        }
        p = nl ? nl + 1 : end;
    }
    rid = rid_copy;
    mf_call_set_request_id(&c, rid);
    free(rid_copy);
    c.t0 = mf_now_us();
    if (p < end && mf_buf_append(&c.body, p, (size_t)(end - p)) != 0)
        abort();
    if (c.body.len > srv.o.limits.max_body)
        c.body_too_big = 1;
    if (mf_server_dispatch(&c) == 0 && mf_server_submit(&c) == 0)
        abort(); /* no workers: nothing may be queued */
    if (c.status < 200 || c.status > 599 || c.resp.len == 0)
        abort();
    if (c.ctype && strstr(c.ctype, "json")) {
        cJSON *j = cJSON_ParseWithLength(c.resp.data, c.resp.len);
        if (j == NULL)
            abort();
        if (c.status >= 400 && !cJSON_GetObjectItemCaseSensitive(j, "error") &&
            !cJSON_GetObjectItemCaseSensitive(j, "issue"))
            abort();
        cJSON_Delete(j);
    }
    mf_call_finish(&c);
    /* the body through the patient reader as well */
    if (c.body.len) {
        cJSON *root = cJSON_ParseWithLength(c.body.data, c.body.len);
        if (root && mf_json_depth(root, 65) <= 64) {
            struct mf_patients pts;
            struct mf_err err = {0};
            if (mf_patients_parse(root, c.body.data, c.body.len, &srv.o.limits, &pts, &err) == 0) {
                if (pts.n == 0 || pts.events <= 0)
                    abort();
                mf_patients_free(&pts);
            } else if (err.msg[0] == '\0') {
                abort();
            }
        }
        cJSON_Delete(root);
    }
    mf_call_free_fields(&c);
    return 0;
}
