/* log.c - leveled messages on stderr (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum mf_log_level current = MF_LOG_INFO;

void mf_log_set_level(enum mf_log_level level)
{
    current = level;
}

enum mf_log_level mf_log_get_level(void)
{
    return current;
}

void mf_log(enum mf_log_level level, const char *fmt, ...)
{
    static const char *prefix[] = {"debug: ", "", "warning: ", "error: ", ""};
    if (level < current || level >= MF_LOG_QUIET)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fputs per line so lines from several threads do not interleave */
    char out[1100];
    snprintf(out, sizeof out, "medfm: %s%s\n", prefix[level], line);
    fputs(out, stderr);
}
