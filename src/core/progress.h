/* progress.h - progress of long work: a bar with rate and ETA on a terminal, a line every few
 * seconds otherwise (logs, CI).  Thread-safe: workers call mf_progress_add. */
#ifndef MF_CORE_PROGRESS_H
#define MF_CORE_PROGRESS_H

#include <stdint.h>

struct mf_progress {
    const char *label;
    const char *unit;
    int64_t total; /* 0 when unknown */
    int64_t done;  /* updated atomically */
    double start;
    double last_print;
    int tty;
    int enabled;
};

void mf_progress_start(struct mf_progress *p, const char *label, const char *unit, int64_t total);
void mf_progress_add(struct mf_progress *p, int64_t n);
void mf_progress_finish(struct mf_progress *p);

/* Seconds on a monotonic clock. */
double mf_now(void);

#endif
