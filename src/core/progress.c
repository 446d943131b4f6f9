/* progress.c - progress bars and periodic progress lines (see progress.h). */
#include "core/progress.h"
#include "core/log.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double mf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mf_progress_start(struct mf_progress *p, const char *label, const char *unit, int64_t total)
{
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->done = 0;
    p->start = p->last_print = mf_now();
    p->tty = isatty(STDERR_FILENO);
    p->enabled = mf_log_get_level() <= MF_LOG_INFO;
}

static void print(struct mf_progress *p, double now, int final)
{
    double el = now - p->start;
    int64_t done = __atomic_load_n(&p->done, __ATOMIC_RELAXED);
    double rate = el > 0 ? (double)done / el : 0;
    char line[256];
    if (p->total > 0) {
        double f = (double)done / (double)p->total;
        if (f > 1)
            f = 1;
        double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
        if (p->tty) {
            char bar[31];
            int k = (int)(f * 30);
            for (int i = 0; i < 30; i++)
                bar[i] = i < k ? '#' : '.';
            bar[30] = '\0';
            snprintf(line, sizeof line, "\r%s [%s] %3.0f%% %lld/%lld %s  %.0f %s/s  eta %.0fs ",
                     p->label, bar, f * 100, (long long)done, (long long)p->total, p->unit, rate,
                     p->unit, eta);
        } else {
            snprintf(line, sizeof line, "%s: %lld/%lld %s (%.0f%%), %.0f %s/s, eta %.0fs\n",
                     p->label, (long long)done, (long long)p->total, p->unit, f * 100, rate,
                     p->unit, eta);
        }
    } else {
        snprintf(line, sizeof line,
                 p->tty ? "\r%s: %lld %s  %.0f %s/s " : "%s: %lld %s, %.0f %s/s\n", p->label,
                 (long long)done, p->unit, rate, p->unit);
    }
    fputs(line, stderr);
    if (final && p->tty)
        fputs("\n", stderr);
}

void mf_progress_add(struct mf_progress *p, int64_t n)
{
    __atomic_add_fetch(&p->done, n, __ATOMIC_RELAXED);
    if (!p->enabled)
        return;
    double now = mf_now();
    double gap = p->tty ? 0.2 : 5.0;
    double last = p->last_print;
    if (now - last < gap)
        return;
    /* one thread prints per interval */
    if (__atomic_compare_exchange(&p->last_print, &last, &now, 0, __ATOMIC_RELAXED,
                                  __ATOMIC_RELAXED))
        print(p, now, 0);
}

void mf_progress_finish(struct mf_progress *p)
{
    if (p->enabled && (p->tty || mf_now() - p->start > 5.0))
        print(p, mf_now(), 1);
}
