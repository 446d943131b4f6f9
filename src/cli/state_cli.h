/* state_cli.h - what the verbs using the server's state (serve, keys, audit) share: which
 * database, and opening it. */
#ifndef MF_CLI_STATE_CLI_H
#define MF_CLI_STATE_CLI_H

struct mf_state;

#define STATE_DB_HELP                                                                              \
    "the state database: a SQLite file or a postgresql:// URL (default $MEDFM_DB, else "           \
    "medfm-state.sqlite)"

/* The database named by --db (db), else $MEDFM_DB, else medfm-state.sqlite. */
const char *state_cli_db(const char *db);

/* Open the state at db (state_cli_db's choice); create: 1 to make a new SQLite file when
 * absent, 0 to require one.  Prints the error and returns NULL on failure. */
struct mf_state *state_cli_open(const char *db, int create);

#endif
