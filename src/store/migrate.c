/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applies numbered migrations and records them in schema_migrations.  The
 * table is created here in SQL that SQLite and MariaDB both accept, so the
 * bookkeeping exists before the first migration runs.  Checksums of every
 * applied migration are verified before anything new is applied.
 */
#include "core/base.h"
#include "store/migrate.h"

#include "core/err.h"
#include "core/utc.h"
#include "store/store_int.h"

#include <sodium.h>

#define CHECKSUM_HEX_SIZE (crypto_hash_sha256_BYTES * 2 + 1)

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " checksum CHAR(64) NOT NULL,"
    " applied_at VARCHAR(32) NOT NULL)";

const struct store_migration *store_migrations(const char *dialect,
                                               size_t *count)
{
    for (const struct store__migration_set *set = store__migration_sets;
         set->dialect; set++) {
        if (strcmp(set->dialect, dialect) == 0) {
            *count = set->count;
            return set->list;
        }
    }
    *count = 0;
    return NULL;
}

/* Hex SHA-256 of the migration's text, the same on every platform. */
static void checksum_sql(const char *sql, char hex[CHECKSUM_HEX_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(digest, (const unsigned char *)sql, strlen(sql));
    sodium_bin2hex(hex, CHECKSUM_HEX_SIZE, digest, sizeof(digest));
}

static int fail(struct store_migrate_result *res,
                const struct store_migration *m, int rc, const char *msg)
{
    if (m) {
        res->failed_version = m->version;
        strlcpy_pw(res->failed_name, m->name, sizeof(res->failed_name));
    }
    strlcpy_pw(res->message, msg, sizeof(res->message));
    return rc;
}

static const struct store_migration *
find_version(const struct store_migration *list, size_t count,
             int64_t version)
{
    size_t lo = 0;
    size_t hi = count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if ((int64_t)list[mid].version == version)
            return &list[mid];
        if ((int64_t)list[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Compare every recorded migration with the list and mark the applied ones
 * in applied[].  A changed text means that the database and the binary
 * disagree on the schema, which no later migration can repair safely.
 */
static int verify_applied(struct store_conn *c,
                          const struct store_migration *list, size_t count,
                          bool *applied, struct store_migrate_result *res)
{
    struct store_stmt *st = NULL;
    char want[CHECKSUM_HEX_SIZE];
    char msg[sizeof(res->message)];
    int rc;

    rc = store_prepare(c, "SELECT version, checksum FROM schema_migrations"
                          " ORDER BY version", &st);
    if (rc < 0)
        return fail(res, NULL, rc, store_errmsg(c));

    while ((rc = store_step(st)) == STORE_ROW) {
        const struct store_migration *m;
        const char *have = store_column_text(st, 1, NULL);

        m = find_version(list, count, store_column_int64(st, 0));
        if (!m) {
            res->unknown++;
            continue;
        }
        applied[m - list] = true;
        checksum_sql(m->sql, want);
        if (!have || strcmp(have, want) != 0) {
            snprintf(msg, sizeof(msg),
                     "migration \"%s\" was changed after it was applied "
                     "(checksum %.12s, applied %.12s); add a new migration "
                     "instead",
                     m->name, want, have ? have : "none");
            rc = fail(res, m, ERR_CONFLICT, msg);
            goto out_finalize;
        }
    }
    if (rc < 0)
        fail(res, NULL, rc, store_errmsg(c));
    else
        rc = 0;

out_finalize:
    store_finalize(st);
    return rc;
}

/*
 * Look up m's record inside the current transaction.  Returns 1 when it is
 * applied with the same checksum, 0 when it is not applied, or an error.
 */
static int is_applied(struct store_conn *c, const struct store_migration *m,
                      const char *checksum, struct store_migrate_result *res)
{
    struct store_stmt *st = NULL;
    int rc;

    rc = store_prepare(c, "SELECT checksum FROM schema_migrations"
                          " WHERE version = ?", &st);
    if (rc < 0)
        return fail(res, m, rc, store_errmsg(c));
    rc = store_bind_int64(st, 1, m->version);
    if (rc < 0)
        goto out_error;

    rc = store_step(st);
    if (rc < 0)
        goto out_error;
    if (rc == STORE_ROW) {
        const char *have = store_column_text(st, 0, NULL);

        if (!have || strcmp(have, checksum) != 0) {
            rc = fail(res, m, ERR_CONFLICT,
                      "another process applied a different text");
            goto out_finalize;
        }
        rc = 1;
    }
    goto out_finalize;

out_error:
    fail(res, m, rc, store_errmsg(c));
out_finalize:
    store_finalize(st);
    return rc;
}

static int record(struct store_conn *c, const struct store_migration *m,
                  const char *checksum)
{
    struct store_stmt *st = NULL;
    char now[UTC_ISO_SIZE];
    int rc;

    rc = store_prepare(c, "INSERT INTO schema_migrations"
                          " (version, name, checksum, applied_at)"
                          " VALUES (?, ?, ?, ?)", &st);
    if (rc < 0)
        return rc;

    utc_format(utc_now_ms(), now);
    rc = store_bind_int64(st, 1, m->version);
    if (rc == 0)
        rc = store_bind_text(st, 2, m->name);
    if (rc == 0)
        rc = store_bind_text(st, 3, checksum);
    if (rc == 0)
        rc = store_bind_text(st, 4, now);
    if (rc == 0)
        rc = store_step(st);

    store_finalize(st);
    return rc < 0 ? rc : 0;
}

/*
 * Apply m in its own transaction.  Returns 1 when applied, 0 when another
 * process applied it first, or an error after rolling back.
 */
static int apply_one(struct store_conn *c, const struct store_migration *m,
                     struct store_migrate_result *res)
{
    char checksum[CHECKSUM_HEX_SIZE];
    int rc;

    checksum_sql(m->sql, checksum);
    rc = store_begin(c);
    if (rc < 0)
        return fail(res, m, rc, store_errmsg(c));

    rc = is_applied(c, m, checksum, res);
    if (rc < 0)
        goto out_rollback;
    if (rc == 1) {
        store_rollback(c);
        return 0;
    }

    rc = store_exec(c, m->sql);
    if (rc == 0)
        rc = record(c, m, checksum);
    if (rc < 0) {
        fail(res, m, rc, store_errmsg(c));
        goto out_rollback;
    }

    rc = store_commit(c);
    if (rc < 0)
        return fail(res, m, rc, store_errmsg(c));
    return 1;

out_rollback:
    store_rollback(c);
    return rc;
}

int store_migrate_list(struct store *s, const struct store_migration *list,
                       size_t count, struct store_migrate_result *res)
{
    struct store_migrate_result unused;
    struct store_conn *c;
    bool *applied = NULL;
    int rc;

    if (!res)
        res = &unused;
    memset(res, 0, sizeof(*res));

    for (size_t i = 0; i < count; i++) {
        if (list[i].version == 0 ||
            (i > 0 && list[i].version <= list[i - 1].version))
            return fail(res, &list[i], ERR_INVALID,
                        "migration versions are not above 0 and increasing");
    }

    rc = store_conn_get(s, &c);
    if (rc < 0)
        return fail(res, NULL, rc, "opening a database connection failed");
    if (sodium_init() < 0)
        return fail(res, NULL, ERR_INTERNAL, "libsodium initialisation failed");

    rc = store_exec(c, create_table_sql);
    if (rc < 0)
        return fail(res, NULL, rc, store_errmsg(c));
    applied = xcalloc(count ? count : 1, sizeof(*applied));
    rc = verify_applied(c, list, count, applied, res);
    if (rc < 0)
        goto out_free_applied;

    for (size_t i = 0; i < count; i++) {
        if (applied[i]) {
            res->skipped++;
            continue;
        }
        rc = apply_one(c, &list[i], res);
        if (rc < 0)
            goto out_free_applied;
        if (rc == 1)
            res->applied++;
        else
            res->skipped++;
    }
    rc = 0;

out_free_applied:
    free(applied);
    return rc;
}

int store_migrate(struct store *s, struct store_migrate_result *res)
{
    size_t count;
    const struct store_migration *list =
        store_migrations(store_dialect(s), &count);

    return store_migrate_list(s, list, count, res);
}
