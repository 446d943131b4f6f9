/* state_cli.c - the state database of the server's verbs (see state_cli.h). */
#include "cli/state_cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/fs.h"
#include "serve/state.h"

const char *state_cli_db(const char *db)
{
    if (db)
        return db;
    const char *env = getenv("MEDFM_DB");
    return env && env[0] ? env : "medfm-state.sqlite";
}

struct mf_state *state_cli_open(const char *db, int create)
{
    db = state_cli_db(db);
    if (!create && !mf_state_where_is_pg(db) && !mf_fs_exists(db)) {
        fprintf(stderr,
                "medfm: no state database at '%s' (`medfm keys create` or `medfm serve` makes "
                "one; --db or $MEDFM_DB name another)\n",
                db);
        return NULL;
    }
    struct mf_state *st = NULL;
    struct mf_err err = {0};
    if (mf_state_open(db, &st, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return NULL;
    }
    return st;
}
