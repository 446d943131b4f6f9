/* ingest_sink.h - a throwaway ingest context for parser fuzz targets.
 *
 * The context writes into one batch of a store writer whose temporary folder lives under /tmp
 * and is never committed: after every input the batch is rolled back, and every few thousand
 * inputs the writer is reopened so that its code dictionaries do not grow without bound.
 * Issues go nowhere (no error report) and are not printed.  At exit everything is freed and
 * the temporary folder removed, so LeakSanitizer sees no leak.
 */
#ifndef MF_FUZZ_INGEST_SINK_H
#define MF_FUZZ_INGEST_SINK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "ingest/ingest.h"
#include "store/store.h"

static struct mf_store_writer *sink_writer;
static struct mf_ingest_ctx sink_ctx;
static size_t sink_mark;
static long sink_inputs;

static void sink_close(void)
{
    mf_store_writer_free(sink_writer); /* removes the uncommitted temporary folder */
    sink_writer = NULL;
    mf_buf_release(&sink_ctx.scratch);
}

/* The context for the next input (NULL when the writer cannot be opened). */
static struct mf_ingest_ctx *sink_begin(const char *name)
{
    if (sink_writer && ++sink_inputs % 4096 == 0)
        sink_close();
    if (sink_writer == NULL) {
        static int registered;
        char dst[128];
        struct mf_err err = {0, {0}};
        /* large enough that no fuzz input makes a batch spill (which would invalidate marks) */
        struct mf_store_writer_opts wo = {(size_t)1 << 30, 0, 0};
        snprintf(dst, sizeof dst, "/tmp/medfm-fuzz-%s-%ld", name, (long)getpid());
        if (mf_store_writer_open(&sink_writer, dst, 1, &wo, &err) != 0) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            return NULL;
        }
        if (!registered) {
            atexit(sink_close);
            mf_log_set_level(MF_LOG_QUIET);
            registered = 1;
        }
        memset(&sink_ctx, 0, sizeof sink_ctx);
        sink_ctx.out = mf_store_writer_batch(sink_writer, 0);
        sink_mark = mf_store_batch_mark(sink_ctx.out);
    }
    mf_err_clear(&sink_ctx.err);
    sink_ctx.file = "fuzz-input";
    return &sink_ctx;
}

/* Forget the input's events. */
static void sink_end(void)
{
    if (sink_writer)
        mf_store_batch_rollback(sink_ctx.out, sink_mark);
}

#endif
