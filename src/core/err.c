/* err.c - error detail for library calls (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

int mf_err_set(struct mf_err *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void mf_err_clear(struct mf_err *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *mf_strerror(int code)
{
    switch (code) {
    case MF_OK:
        return "ok";
    case MF_EINVAL:
        return "invalid argument";
    case MF_ENOMEM:
        return "out of memory";
    case MF_EIO:
        return "i/o error";
    case MF_EPARSE:
        return "parse error";
    case MF_ENOTFOUND:
        return "not found";
    case MF_EEXIST:
        return "already exists";
    case MF_ETOOBIG:
        return "too big";
    case MF_EUNSUPPORTED:
        return "unsupported";
    default:
        return "unknown error";
    }
}
