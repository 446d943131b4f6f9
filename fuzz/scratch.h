/* scratch.h - a scratch file for fuzz targets whose code under test reads or writes files:
 * one per process, in $MEDFM_TEST_TMP when it is writable, else /tmp. */
#ifndef MF_FUZZ_SCRATCH_H
#define MF_FUZZ_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path <dir>/<name>-<pid><ext>, made on the first call (name and ext must not change). */
static const char *scratch_path(const char *name, const char *ext)
{
    static char path[512];
    if (path[0] == '\0') {
        const char *dir = getenv("MEDFM_TEST_TMP");
        if (dir == NULL || dir[0] == '\0' || access(dir, W_OK) != 0)
            dir = "/tmp";
        snprintf(path, sizeof path, "%s/%s-%ld%s", dir, name, (long)getpid(), ext);
    }
    return path;
}

#endif
