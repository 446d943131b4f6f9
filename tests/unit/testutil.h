/* testutil.h - shared fixtures for the unit suites: a scratch folder per suite.
 *
 * Include after cmocka.h; pass setup_tmp / teardown_tmp to cmocka_run_group_tests.  The folder
 * is /tmp/medfm-test-XXXXXX, in tmpdir, and is removed with everything in it at the end. */
#ifndef MF_TEST_TESTUTIL_H
#define MF_TEST_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "core/fs.h"

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/medfm-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    return mf_fs_rm_rf(tmpdir);
}

#endif
