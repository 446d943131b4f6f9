/* serve.h - `medfm serve`: the model over HTTP (REST, FHIR, CDS Hooks).
 *
 * I/O runs on libmicrohttpd's thread pool; inference on a bounded pool of workers, each with
 * its own decoding state.  A request that needs the model is checked (authentication, scope,
 * rate limit) on the I/O thread, queued, and its connection suspended until a worker answers;
 * a full queue answers 429 at once with Retry-After.  A worker takes up to `batch` queued
 * predictions at once and decodes their futures together (micro-batching).  SIGTERM or SIGINT stops
 * accepting, lets queued and running requests finish (up to drain_s seconds), then exits.
 */
#ifndef MF_SERVE_SERVE_H
#define MF_SERVE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mf_serve_limits {
    size_t max_body;     /* bytes of a request body (default 16 MiB) */
    int max_patients;    /* patients in one request (default 16) */
    int max_events;      /* events of one patient (default 100000) */
    int max_samples;     /* futures per prediction (default 256) */
    int default_samples; /* futures per prediction when the request names none (default 20) */
    int max_new;         /* tokens per future (default 512) */
    int max_tasks;       /* tasks in one request (default 16) */
    int timeout_ms;      /* longest wait in the queue before 503 (default 30000) */
    int max_json_depth;  /* nesting of a JSON body (default 64) */
    int rate_per_min;    /* requests per minute per key when the key sets none (default 600) */
};

struct mf_serve_opts {
    const char *model_dir;
    const char *listen;   /* "HOST:PORT" (default 127.0.0.1:8080; port 0: any free port) */
    const char *tls_cert; /* PEM files: both or neither */
    const char *tls_key;
    const char *db;         /* SQLite file or postgresql:// URL (default medfm-state.sqlite) */
    const char *tasks_dir;  /* task definitions served (default: the installed tasks) */
    const char *card_dir;   /* model_card.json / model_card.md (default: made from the model) */
    const char *public_url; /* base URL callers use (JWT audience, links); default from listen */
    const char *cds_auth;   /* "jwt" (default) or "key" */
    const char *jwt_config; /* trusted CDS clients (required with cds_auth jwt) */
    const char *port_file;  /* written with the bound port once listening (tests) */
    int workers;            /* inference workers (default 1) */
    int queue;              /* queued requests at most (default 64) */
    int batch;              /* queued predictions a worker takes at once (default 8; 1: none) */
    int io_threads;         /* libmicrohttpd threads (default: cores) */
    int drain_s;            /* seconds to finish in-flight work on SIGTERM (default 30) */
    struct mf_serve_limits limits;
    int no_model; /* tests and fuzzing: no model, no workers (requests for one get 429) */
};

/* Defaults for every field left 0 / NULL. */
void mf_serve_opts_defaults(struct mf_serve_opts *o);

/* Run until SIGTERM/SIGINT.  Errors before listening (bad model, port taken, bad TLS files)
 * return negative with err set. */
int mf_serve_run(const struct mf_serve_opts *o, struct mf_err *err);

#endif
