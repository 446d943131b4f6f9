/* err.h - error codes and the error detail carried out of library calls.
 *
 * Every library function returns int: 0 on success, a negative MF_E* code on failure.  Detail
 * goes into an optional caller-owned struct mf_err.  Messages name the place (file, line, byte
 * offset, field path) and never the value found there, which may be PHI.
 */
#ifndef MF_CORE_ERR_H
#define MF_CORE_ERR_H

#include <stddef.h>

enum {
    MF_OK = 0,
    MF_EINVAL = -1,      /* bad argument or bad input */
    MF_ENOMEM = -2,      /* allocation failed */
    MF_EIO = -3,         /* read, write, rename failed */
    MF_EPARSE = -4,      /* malformed input data */
    MF_ENOTFOUND = -5,   /* file, patient or key absent */
    MF_EEXIST = -6,      /* target exists */
    MF_ETOOBIG = -7,     /* input over a hard limit */
    MF_EUNSUPPORTED = -8 /* valid but not handled */
};

struct mf_err {
    int code;
    char msg[768];
};

/* Set err (when not NULL) to code and a printf-style message; returns code so callers can
 * write `return mf_err_set(err, MF_EIO, "cannot open '%s'", path);`.  An error already set is
 * kept: the first failure is the one reported. */
int mf_err_set(struct mf_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err for reuse. */
void mf_err_clear(struct mf_err *err);

/* A short constant name for a code, e.g. "parse error". */
const char *mf_strerror(int code);

#endif
