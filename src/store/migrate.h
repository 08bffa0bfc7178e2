/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema migrations: numbered SQL scripts per dialect, embedded in the
 * binary at build time from migrations/<dialect>/NNNN_name.sql.  Each one
 * runs once, in its own transaction, and is recorded with a checksum of
 * its text in the schema_migrations table.
 */
#ifndef PW_STORE_MIGRATE_H
#define PW_STORE_MIGRATE_H

#include <stddef.h>

#include "store/store.h"

/* One migration script; all fields are static strings. */
struct store_migration {
    unsigned version;        /* NNNN of the file name, above 0 */
    const char *name;        /* file name without ".sql", "0002_users" */
    const char *sql;         /* statements, separated by semicolons */
};

/* Outcome of store_migrate(): counts, or the migration it stopped at. */
struct store_migrate_result {
    int applied;             /* migrations applied by this call */
    int skipped;             /* migrations found already applied */
    int unknown;             /* applied versions missing from the list */
    unsigned failed_version; /* the migration that failed; 0 if none */
    char failed_name[128];   /* its name; "" if none */
    char message[256];       /* the database's message or the reason */
};

/*
 * Apply the embedded migrations of s's dialect that the database lacks,
 * in version order, on the calling thread's connection.  Each migration
 * runs in its own write transaction together with its schema_migrations
 * row, so a failure rolls back that migration alone and leaves the ones
 * before it applied.  Versions recorded in the database but not embedded
 * (a newer binary migrated it) are counted in res->unknown, not rejected.
 *
 * Returns 0 on success.  Returns ERR_CONFLICT, before anything is applied,
 * when an applied migration's text changed (its checksum differs).  When a
 * migration fails, returns the error of the failing statement (ERR_DB,
 * ERR_EXISTS, ERR_BUSY, ...).  On error res names the migration and
 * contains the message.  res may be NULL when the caller needs no report.
 * Safe to run from several processes at once, because each migration is
 * re-checked inside its transaction.
 */
int store_migrate(struct store *s, struct store_migrate_result *res);

/*
 * Apply the count migrations of list, like store_migrate().  list must be
 * sorted by strictly increasing version; otherwise returns ERR_INVALID.
 * list is borrowed for the call.
 */
int store_migrate_list(struct store *s, const struct store_migration *list,
                       size_t count, struct store_migrate_result *res);

/*
 * Return the migrations embedded for dialect, sorted by version, and store
 * their number in *count (0 and NULL for an unknown dialect).  The array
 * is static.
 */
const struct store_migration *store_migrations(const char *dialect,
                                               size_t *count);

#endif
