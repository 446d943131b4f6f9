/* fuzz_task_yaml.c - libFuzzer target for task files (src/tasks/: the ACES YAML reader and the
 * labeler).
 *
 * The input is a whole task file.  A refused one must say why, naming the file; an accepted one
 * is run over a small event list made from the input's bytes (labels, label_at, the horizon),
 * so the evaluation meets whatever windows the parser lets through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mf_task *t = NULL;
    struct mf_err err = {0};
    int rc = mf_task_parse((const char *)data, size, "fuzz.yaml", &t, &err);
    if (rc != 0) {
        if (rc > 0 || t != NULL || strstr(err.msg, "fuzz.yaml") == NULL)
            abort();
        return 0;
    }
    if (t == NULL || mf_task_name(t) == NULL || strcmp(mf_task_name(t), "fuzz") != 0)
        abort();
    size_t np = mf_task_n_plain(t);
    if (np > MF_TASK_MAX_PLAIN)
        abort();
    for (size_t i = 0; i < np; i++)
        if (mf_task_plain_name(t, i) == NULL)
            abort();
    int64_t h = mf_task_horizon(t);
    if (h < -1)
        abort();
    /* events from the input's bytes: static facts first, then times that go up by 0..3 hours */
    enum { N = 24 };
    int64_t time[N];
    uint64_t mask[N];
    int64_t now = INT64_C(1600000000) * 1000000;
    uint64_t all = np == 64 ? UINT64_MAX : (UINT64_C(1) << np) - 1;
    for (size_t i = 0; i < N; i++) {
        uint8_t b = size ? data[(i * 7) % size] : 0;
        uint8_t c = size ? data[(i * 13 + 5) % size] : 0;
        if (i < 2 && (b & 1)) {
            time[i] = INT64_MIN;
        } else {
            now += (int64_t)(b % 4) * 3600 * 1000000;
            time[i] = now;
        }
        mask[i] = (((uint64_t)c << 8 | b) * UINT64_C(0x9e3779b97f4a7c15)) & all;
        mask[i] = mf_task_match_value(t, mask[i], (double)(c % 16));
    }
    struct mf_task_events ev = {N, time, mask};
    struct mf_task_sample *s = NULL;
    size_t n = 0, cap = 0;
    if (mf_task_label(t, &ev, &s, &n, &cap, &err) != 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i].label < -1 || s[i].label > 1 || (s[i].label >= 0) != mf_task_has_label(t))
            abort();
        if (i > 0 && s[i].trigger <= s[i - 1].trigger)
            abort();
        int64_t index = 0;
        int l = mf_task_label_at(t, &ev, s[i].trigger, &index);
        if (l != s[i].label || index != s[i].index)
            abort();
    }
    int64_t index = 0;
    (void)mf_task_label_at(t, &ev, time[N - 1] + 1, &index);
    free(s);
    mf_task_free(t);
    return 0;
}
