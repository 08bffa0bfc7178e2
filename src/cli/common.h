/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up steps shared by the subcommands: load the configuration with the
 * common flags applied on top, set up logging, create the data directory,
 * and open (and migrate) the database.  Each prints its own error to stderr
 * in words an operator can act on.
 */
#ifndef PW_CLI_COMMON_H
#define PW_CLI_COMMON_H

#include "core/base.h"

struct store;

/* Flags every subcommand that touches the data accepts. */
struct cli_common {
    const char *env_file; /* --env-file; NULL: ".env" if present */
    const char *data_dir; /* --data-dir; NULL: PW_DATA_DIR */
    const char *listen;   /* --listen; NULL: PW_LISTEN */
};

/*
 * If argv[*i] is a common flag ("--data-dir DIR" or "--data-dir=DIR", and
 * likewise --env-file and --listen), store its value in c, advance *i past
 * it and return 1; return 0 for another argument, or -1 after printing an
 * error for a flag without its value.
 */
int cli_common_arg(struct cli_common *c, int argc, char **argv, int *i);

/*
 * Load the configuration (defaults, .env file, environment, then the
 * flags in c), set up logging from it, and create the data directory.
 * Returns 0 or 1 after printing the error.
 */
int cli_setup(const struct cli_common *c);

/*
 * The database URL: PW_DATABASE_URL, or sqlite:<data dir>/proctorwise.db.
 * Returns a new string the caller frees.
 */
char *cli_database_url(void);

/*
 * Open the configured database and apply pending migrations.  Returns 0
 * and the store in *out (freed with store_free), or 1 after printing the
 * error.
 */
int cli_open_store(struct store **out);

#endif
