/* teststore.h - hand-made event stores for the unit suites.
 *
 * Include after cmocka.h and after declaring `static char tmpdir[...]`, the suite's scratch
 * folder: stores are written to and opened from tmpdir/NAME. */
#ifndef MF_TEST_TESTSTORE_H
#define MF_TEST_TESTSTORE_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* One event: patient, time (MF_TIME_NONE for a static fact), code, value (NaN: none). */
struct ev {
    const char *subj;
    int64_t t;
    const char *code;
    double v;
};

static void write_store(const char *name, const struct ev *evs, size_t n)
{
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
    struct mf_store_writer *w;
    struct mf_err err = {0};
    assert_int_equal(mf_store_writer_open(&w, dst, 1, NULL, &err), 0);
    struct mf_store_batch *b = mf_store_writer_batch(w, 0);
    for (size_t i = 0; i < n; i++) {
        struct mf_event e = mf_event_make(evs[i].subj, evs[i].t, evs[i].code, evs[i].v, NULL, NULL);
        assert_int_equal(mf_store_batch_add(b, &e), 0);
    }
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
}

static struct mf_store *open_store(const char *name)
{
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
    struct mf_store *s;
    struct mf_err err = {0};
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    return s;
}

#endif
