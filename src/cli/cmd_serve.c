/* cmd_serve.c - `medfm serve`: the model over REST, FHIR and CDS Hooks (src/serve). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/state_cli.h"
#include "serve/serve.h"

int cmd_serve(int argc, char **argv)
{
    struct mf_serve_opts o;
    memset(&o, 0, sizeof o);
    size_t max_body = 0;
    const struct opt opts[] = {
        {"model", OPT_STRING, &o.model_dir, "DIR", "the model folder"},
        {"listen", OPT_STRING, &o.listen, "HOST:PORT",
         "address to listen on (default 127.0.0.1:8080; port 0: any free port)"},
        {"tls-cert", OPT_STRING, &o.tls_cert, "CERT.pem", "serve HTTPS with this certificate"},
        {"tls-key", OPT_STRING, &o.tls_key, "KEY.pem", "the certificate's private key"},
        {"db", OPT_STRING, &o.db, "STATE", STATE_DB_HELP},
        {"tasks", OPT_STRING, &o.tasks_dir, "DIR",
         "task definitions to serve (default: the installed tasks)"},
        {"card", OPT_STRING, &o.card_dir, "DIR",
         "model card folder from medfm card (default: a card made from the model)"},
        {"public-url", OPT_STRING, &o.public_url, "URL",
         "the base URL callers use (JWT audience, links; default from --listen)"},
        {"cds-auth", OPT_STRING, &o.cds_auth, "jwt|key",
         "how CDS Hooks callers authenticate (default jwt, as the specification asks)"},
        {"jwt-config", OPT_STRING, &o.jwt_config, "FILE",
         "trusted CDS clients: issuers and their JWKS (JSON)"},
        {"workers", OPT_INT, &o.workers, "N", "inference workers (default 1)"},
        {"queue", OPT_INT, &o.queue, "Q", "requests waiting for a worker at most (default 64)"},
        {"batch", OPT_INT, &o.batch, "N",
         "queued predictions a worker decodes together (default 8; 1: one at a time)"},
        {"io-threads", OPT_INT, &o.io_threads, "N", "HTTP threads (default: cores, at most 16)"},
        {"drain", OPT_INT, &o.drain_s, "S", "seconds to finish work on SIGTERM (default 30)"},
        {"max-body", OPT_SIZE, &max_body, "BYTES", "largest request body (default 16M)"},
        {"max-patients", OPT_INT, &o.limits.max_patients, "N", "patients per request (default 16)"},
        {"max-events", OPT_INT, &o.limits.max_events, "N", "events per patient (default 100000)"},
        {"max-samples", OPT_INT, &o.limits.max_samples, "N",
         "futures per prediction at most (default 256)"},
        {"samples", OPT_INT, &o.limits.default_samples, "N",
         "futures per prediction when a request names none (default 20)"},
        {"max-new", OPT_INT, &o.limits.max_new, "N", "tokens per future at most (default 512)"},
        {"max-tasks", OPT_INT, &o.limits.max_tasks, "N", "tasks per request (default 16)"},
        {"timeout", OPT_INT, &o.limits.timeout_ms, "MS",
         "longest wait in the queue before 503 (default 30000)"},
        {"max-depth", OPT_INT, &o.limits.max_json_depth, "N",
         "deepest JSON nesting of a body (default 64)"},
        {"rate", OPT_INT, &o.limits.rate_per_min, "N",
         "requests per minute per key unless the key sets its own (default 600)"},
        {"port-file", OPT_STRING, &o.port_file, "FILE",
         "write the port listened on to FILE once ready"},
    };
    const struct cmd_help help = {
        "medfm serve --model M [--listen 127.0.0.1:8080] [--tls-cert C --tls-key K]\n"
        "                   [--db STATE.sqlite] [--workers N] [--queue Q] [--jwt-config FILE]",
        "Serve the model: REST (/v1/predict, /v1/simulate, /v1/embeddings, /v1/info,\n"
        "/v1/models), FHIR RiskAssessment answers, CDS Hooks (/cds-services), the model card,\n"
        "/health, Prometheus /metrics and /openapi.json.  Callers authenticate with API keys\n"
        "from `medfm keys create` (CDS Hooks clients with signed JWTs); every request is\n"
        "written to a hash-chained audit log without PHI.  SIGTERM drains, then exits.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm keys create --name ehr --scopes predict\n"
        "  medfm serve --model model/ --listen 0.0.0.0:8443 --tls-cert c.pem --tls-key k.pem"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !o.model_dir) {
        fprintf(stderr, "medfm: serve needs --model\nusage: %s\n", help.usage);
        return 2;
    }
    if (o.workers < 0 || o.workers > 64 || o.queue < 0 || o.queue > 100000 || o.batch < 0 ||
        o.batch > 64 || o.io_threads < 0 || o.io_threads > 256 || o.limits.max_samples < 0 ||
        o.limits.max_samples > 4096 || o.limits.max_patients < 0 || o.limits.max_events < 0 ||
        o.limits.max_new < 0 || o.limits.max_new > 1 << 20 || o.limits.default_samples < 0 ||
        o.drain_s < 0 || o.limits.timeout_ms < 0 || o.limits.rate_per_min < 0 ||
        o.limits.max_json_depth < 0 || o.limits.max_tasks < 0) {
        fprintf(stderr, "medfm: serve: a number option is out of range (see --help)\n");
        return 2;
    }
    o.limits.max_body = max_body;
    o.db = state_cli_db(o.db);
    struct mf_err err = {0};
    if (mf_serve_run(&o, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    return 0;
}
