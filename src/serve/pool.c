/* pool.c - the bounded queue and the inference workers (see serve_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer.h"
#include "serve/serve_int.h"

/* Answer 503 to a call that waited too long or comes after the drain's deadline: 1 when
 * answered. */
static int refuse_late(struct mf_server *s, struct mf_call *c)
{
    int64_t waited = mf_now_us() - c->queued;
    if (s->stopping == 2) {
        c->retry_after = 5;
        mf_call_error(c, 503, "unavailable", "the server is shutting down");
        return 1;
    }
    if (waited > (int64_t)s->o.limits.timeout_ms * 1000) {
        c->retry_after = 1;
        mf_call_error(c, 503, "timeout", "the request waited %.1f s in the queue, over the limit",
                      (double)waited / 1e6);
        return 1;
    }
    return 0;
}

static void run_call(struct mf_worker *w, struct mf_call *c)
{
    if (refuse_late(w->srv, c))
        return;
    switch (c->route) {
    case R_PREDICT:
        mf_route_predict(w, c);
        break;
    case R_SIMULATE:
        mf_route_simulate(w, c);
        break;
    case R_EMBEDDINGS:
        mf_route_embeddings(w, c);
        break;
    case R_CDS_SERVICE:
        mf_cds_service(w, c);
        break;
    default:
        mf_call_error(c, 500, "internal", "no worker for this route");
    }
}

static void *worker_main(void *arg)
{
    struct mf_worker *w = arg;
    struct mf_server *s = w->srv;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->qhead == NULL && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        struct mf_call *c = s->qhead;
        if (c == NULL) { /* stopping and nothing left */
            pthread_mutex_unlock(&s->mu);
            break;
        }
        /* predictions waiting right behind it join it (micro-batching) */
        struct mf_call *group[64];
        int n = 0;
        do {
            group[n++] = c;
            s->qhead = c->next;
            s->qlen--;
            atomic_fetch_sub(&s->m.queued, 1);
            c = s->qhead;
        } while (c && group[0]->route == R_PREDICT && c->route == R_PREDICT && n < s->o.batch &&
                 n < 64);
        if (s->qhead == NULL)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->mu);
        if (n == 1) {
            run_call(w, group[0]);
            group[0]->done(group[0]);
            continue;
        }
        struct mf_call *ready[64];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (refuse_late(s, group[i]))
                group[i]->done(group[i]);
            else
                ready[k++] = group[i];
        }
        if (k) /* answers each call as soon as it is ready */
            mf_route_predict_batch(w, ready, k, 1);
    }
    return NULL;
}

int mf_pool_start(struct mf_server *s, struct mf_err *err)
{
    s->workers = calloc((size_t)s->o.workers, sizeof *s->workers);
    if (s->workers == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (int i = 0; i < s->o.workers; i++) {
        struct mf_worker *w = &s->workers[i];
        w->srv = s;
        int rc = mf_infer_open(s->o.model_dir, s->o.limits.max_samples, &w->in, err);
        if (rc)
            return rc;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            mf_infer_free(w->in);
            w->in = NULL;
            return mf_err_set(err, MF_ENOMEM, "cannot start an inference worker");
        }
        s->n_workers++;
    }
    return 0;
}

int mf_pool_submit(struct mf_server *s, struct mf_call *c)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->qlen >= s->o.queue) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    c->queued = mf_now_us();
    c->next = NULL;
    if (s->qtail)
        s->qtail->next = c;
    else
        s->qhead = c;
    s->qtail = c;
    s->qlen++;
    atomic_fetch_add(&s->m.queued, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void mf_pool_stop(struct mf_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i].thread, NULL);
    for (int i = 0; s->workers && i < s->o.workers; i++)
        mf_infer_free(s->workers[i].in);
    free(s->workers);
    s->workers = NULL;
    s->n_workers = 0;
}
