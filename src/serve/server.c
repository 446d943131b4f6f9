/* server.c - libmicrohttpd glue: connections, bodies, suspend/resume, TLS, signals, draining
 * (see serve.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/fs.h"
#include "serve/serve_int.h"

enum conn_state { C_RECEIVING, C_QUEUED, C_READY };

struct conn {
    struct mf_call call;
    struct MHD_Connection *mc;
    atomic_int state;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct mf_call *c = cls;
    if (c->n_args >= CALL_MAX_ARGS || key == NULL)
        return MHD_YES;
    char *k = strdup(key), *v = strdup(value ? value : "");
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return MHD_YES;
    }
    c->args[c->n_args].key = k;
    c->args[c->n_args].value = v;
    c->n_args++;
    return MHD_YES;
}

static enum MHD_Result respond(struct conn *k)
{
    struct mf_call *c = &k->call;
    if (c->status == 0)
        mf_call_error(c, 500, "internal", "no answer was made");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        c->resp.len, c->resp.data ? c->resp.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        mf_call_finish(c);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", c->ctype ? c->ctype : "application/json");
    MHD_add_response_header(r, "x-request-id", c->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (c->route != R_HEALTH && c->route != R_OPENAPI && c->route != R_MODEL_CARD)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (c->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", c->retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (c->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"medfm\"");
    if (c->route == R_CDS_DISCOVERY || c->route == R_CDS_SERVICE || c->route == R_CDS_FEEDBACK)
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ok = MHD_queue_response(k->mc, (unsigned)c->status, r);
    MHD_destroy_response(r);
    mf_call_finish(c);
    return ok;
}

static void call_done(struct mf_call *c)
{
    struct conn *k = (struct conn *)c;
    atomic_store(&k->state, C_READY);
    MHD_resume_connection(k->mc);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct mf_server *s = cls;
    struct conn *k = *con_cls;
    if (k == NULL) {
        k = calloc(1, sizeof *k);
        if (k == NULL)
            return MHD_NO;
        *con_cls = k;
        k->mc = mc;
        struct mf_call *c = &k->call;
        c->srv = s;
        c->t0 = mf_now_us();
        c->body = (struct mf_buf)MF_BUF_INIT;
        c->resp = (struct mf_buf)MF_BUF_INIT;
        c->done = call_done;
        atomic_fetch_add(&s->m.in_flight, 1);
        snprintf(c->method, sizeof c->method, "%s", method);
        if (strlen(url) >= sizeof c->path)
            snprintf(c->path, sizeof c->path, "/(too-long)");
        else
            snprintf(c->path, sizeof c->path, "%s", url);
        snprintf(c->url, sizeof c->url, "%s%s", s->base_url, c->path);
        c->authorization =
            dup_or_null(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization"));
        c->api_key = dup_or_null(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "api-key"));
        c->content_type =
            dup_or_null(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type"));
        c->accept = dup_or_null(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Accept"));
        mf_call_set_request_id(c, MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "x-request-id"));
        MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, collect_arg, c);
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->o.limits.max_body)
            c->body_too_big = 1;
        return MHD_YES;
    }
    struct mf_call *c = &k->call;
    if (*upload_size) {
        if (!c->body_too_big) {
            /* over the limit (or out of memory): forget the body, answer 413 at the end */
            if (c->body.len + *upload_size > s->o.limits.max_body ||
                mf_buf_append(&c->body, upload_data, *upload_size) != 0) {
                c->body_too_big = 1;
                mf_buf_release(&c->body);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    int st = atomic_load(&k->state);
    if (st == C_READY)
        return respond(k);
    if (st == C_QUEUED) /* resumed before the worker finished: keep waiting */
        return MHD_YES;
    if (mf_server_dispatch(c))
        return respond(k);
    /* suspend before the worker can resume */
    atomic_store(&k->state, C_QUEUED);
    MHD_suspend_connection(mc);
    if (mf_server_submit(c) != 0) {
        atomic_store(&k->state, C_READY);
        MHD_resume_connection(mc);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)mc;
    (void)toe;
    struct mf_server *s = cls;
    struct conn *k = *con_cls;
    if (k == NULL)
        return;
    mf_call_free_fields(&k->call);
    free(k);
    *con_cls = NULL;
    atomic_fetch_sub(&s->m.in_flight, 1);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *host,
                        size_t hcap, struct mf_err *err)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return mf_err_set(err, MF_EINVAL, "--listen must be HOST:PORT (is '%s')", listen);
    size_t hn = (size_t)(colon - listen);
    if (listen[0] == '[' && hn > 2 && listen[hn - 1] == ']') {
        listen++;
        hn -= 2;
    }
    if (hn >= hcap)
        return mf_err_set(err, MF_EINVAL, "--listen: the host is too long");
    memcpy(host, listen, hn);
    host[hn] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return mf_err_set(err, MF_EINVAL, "--listen: bad port '%s'", colon + 1);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return mf_err_set(err, MF_EINVAL, "--listen: '%s' is not a numeric address", host);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

static int read_pem(const char *path, char **out, struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, (size_t)1 << 20, &b, err);
    if (rc == 0 && mf_buf_putc(&b, '\0') != 0)
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    if (rc) {
        mf_buf_release(&b);
        return rc;
    }
    *out = mf_buf_detach(&b, NULL);
    return 0;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("medfm serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int mf_serve_run(const struct mf_serve_opts *o, struct mf_err *err)
{
    static struct mf_server srv;
    struct mf_server *s = &srv;
    struct MHD_Daemon *d = NULL;
    char *cert = NULL, *key = NULL;
    int rc;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    char host[128];
    memset(&ss, 0, sizeof ss);
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return mf_err_set(err, MF_EINVAL, "--tls-cert and --tls-key go together");
    struct mf_serve_opts oo = *o;
    mf_serve_opts_defaults(&oo);
    if ((rc = parse_listen(oo.listen, &ss, &sslen, host, sizeof host, err)) != 0)
        return rc;
    if (o->tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
            return mf_err_set(err, MF_EUNSUPPORTED, "this libmicrohttpd has no TLS");
        if ((rc = read_pem(o->tls_cert, &cert, err)) != 0 ||
            (rc = read_pem(o->tls_key, &key, err)) != 0) {
            free(cert);
            return rc;
        }
    }
    /* signals: handled by this thread only (sigwait), so block them before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "medfm serve: loading the model from %s (%d worker%s)\n", oo.model_dir,
            oo.workers, oo.workers == 1 ? "" : "s");
    if ((rc = mf_server_init(s, &oo, err)) != 0)
        goto out;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)oo.io_threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 4096u,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, s, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (d == NULL) {
        rc = mf_err_set(err, MF_EIO, "cannot listen on %s (in use, or not allowed)", oo.listen);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (oo.public_url)
        snprintf(s->base_url, sizeof s->base_url, "%s", oo.public_url);
    else
        snprintf(s->base_url, sizeof s->base_url, "%s://%s%s%s:%u", cert ? "https" : "http",
                 ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "",
                 port);
    size_t bl = strlen(s->base_url);
    while (bl > 0 && s->base_url[bl - 1] == '/')
        s->base_url[--bl] = '\0';
    if (oo.port_file) {
        char pb[16];
        int n = snprintf(pb, sizeof pb, "%u\n", port);
        if ((rc = mf_fs_write_file_atomic(oo.port_file, pb, (size_t)n, err)) != 0)
            goto out;
    }
    fprintf(stderr, "medfm serve: listening on %s (%zu tasks, %d I/O threads, queue %d)\n",
            s->base_url, s->n_tasks, oo.io_threads, oo.queue);
    if (s->cds_auth_jwt && oo.jwt_config == NULL)
        fprintf(stderr, "medfm serve: warning: no --jwt-config: every CDS Hooks call will be "
                        "refused (401) until trusted clients are configured\n");
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "medfm serve: %s: draining (%d in flight, %d s at most)\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", atomic_load(&s->m.in_flight), oo.drain_s);
    /* stop accepting; requests already received are answered */
    MHD_socket lsock = MHD_quiesce_daemon(d);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    int64_t deadline = mf_now_us() + (int64_t)oo.drain_s * 1000000;
    while ((atomic_load(&s->m.queued) > 0 || atomic_load(&s->m.in_flight) > 0) &&
           mf_now_us() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->m.queued) > 0) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 2; /* past the deadline: what is still queued gets 503 */
        pthread_mutex_unlock(&s->mu);
    }
    mf_pool_stop(s); /* every queued call is answered before the workers exit */
    /* let the resumed connections send their answers */
    for (int i = 0; i < 100 && atomic_load(&s->m.in_flight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "medfm serve: stopped\n");
out:
    if (d)
        MHD_stop_daemon(d);
    mf_server_fini(s);
    free(cert);
    free(key);
    return rc;
}
