/* defaults.c - the server's option defaults and clock (see serve.h, serve_int.h). */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

int64_t mf_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void mf_serve_opts_defaults(struct mf_serve_opts *o)
{
    if (!o->listen)
        o->listen = "127.0.0.1:8080";
    if (!o->db)
        o->db = "medfm-state.sqlite";
    if (!o->cds_auth)
        o->cds_auth = "jwt";
    if (o->workers <= 0)
        o->workers = 1;
    if (o->queue <= 0)
        o->queue = 64;
    if (o->batch <= 0)
        o->batch = 8;
    if (o->io_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->io_threads = n > 0 ? (int)(n < 16 ? n : 16) : 2;
    }
    if (o->drain_s <= 0)
        o->drain_s = 30;
    struct mf_serve_limits *l = &o->limits;
    if (!l->max_body)
        l->max_body = (size_t)16 << 20;
    if (l->max_patients <= 0)
        l->max_patients = 16;
    if (l->max_events <= 0)
        l->max_events = 100000;
    if (l->max_samples <= 0)
        l->max_samples = 256;
    if (l->default_samples <= 0)
        l->default_samples = 20;
    if (l->default_samples > l->max_samples)
        l->default_samples = l->max_samples;
    if (l->max_new <= 0)
        l->max_new = 512;
    if (l->max_tasks <= 0)
        l->max_tasks = 16;
    if (l->timeout_ms <= 0)
        l->timeout_ms = 30000;
    if (l->max_json_depth <= 0)
        l->max_json_depth = 64;
    if (l->rate_per_min <= 0)
        l->rate_per_min = 600;
}

void mf_uuid4(char out[37])
{
    unsigned char r[16] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        int64_t t = mf_now_us();
        memcpy(r, &t, sizeof t);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}
