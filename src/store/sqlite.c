/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite back end of the store.  Each connection is opened in multi-thread
 * mode (no per-connection mutex) because the store never shares one
 * connection between threads at the same time.  SQLite result codes are
 * mapped to ERR_* here and nowhere else.
 */
#include "core/base.h"
#include "store/store_int.h"

#include "core/err.h"

#include <sqlite3.h>

/* Map an (extended) SQLite result code to a negative ERR_*. */
static int map_rc(int rc)
{
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return ERR_EXISTS;
    if (rc == SQLITE_IOERR_NOMEM)
        return ERR_NOMEM;

    /* The primary code is the low byte of an extended one. */
    switch (rc & 0xff) {
    case SQLITE_OK:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ERR_BUSY;
    case SQLITE_NOMEM:
        return ERR_NOMEM;
    case SQLITE_TOOBIG:
        return ERR_TOO_BIG;
    case SQLITE_RANGE:
        return ERR_INVALID;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ERR_CORRUPT;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
        return ERR_IO;
    default:
        return ERR_DB;
    }
}

static int sqlite_connect(const char *target, const struct store_options *opts,
                          void **out, char *errbuf, size_t errbuf_size)
{
    static const char pragmas[] = "PRAGMA foreign_keys = ON;"
                                  "PRAGMA synchronous = NORMAL;";
    sqlite3 *db = NULL;
    int rc;

    *out = NULL;
    rc = sqlite3_open_v2(target, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK)
        goto out_close;

    sqlite3_extended_result_codes(db, 1);
    rc = sqlite3_busy_timeout(db, opts->busy_timeout_ms);
    if (rc != SQLITE_OK)
        goto out_close;
    rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto out_close;

    *out = db;
    return 0;

out_close:
    /* db is NULL only when SQLite could not allocate the handle. */
    strlcpy_pw(errbuf, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
               errbuf_size);
    sqlite3_close(db);
    return map_rc(rc);
}

/*
 * WAL mode is a property of the database file, so it is set once per
 * store.  The pragma returns the mode in force, which stays "delete" when
 * the file system cannot hold WAL's shared memory.
 */
static int sqlite_setup(void *db, char *errbuf, size_t errbuf_size)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int rc;

    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        strlcpy_pw(errbuf, sqlite3_errmsg(db), errbuf_size);
        return map_rc(rc);
    }

    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        strlcpy_pw(errbuf, sqlite3_errmsg(db), errbuf_size);
        rc = map_rc(sqlite3_extended_errcode(db));
        goto out_finalize;
    }
    mode = sqlite3_column_text(st, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        snprintf(errbuf, errbuf_size,
                 "journal_mode is \"%s\" instead of \"wal\"",
                 mode ? (const char *)mode : "unknown");
        rc = ERR_DB;
        goto out_finalize;
    }
    rc = 0;

out_finalize:
    sqlite3_finalize(st);
    return rc;
}

static void sqlite_disconnect(void *db)
{
    /*
     * With a statement still open, close_v2 defers the close until that
     * statement is finalized instead of failing with SQLITE_BUSY.
     */
    sqlite3_close_v2(db);
}

static int sqlite_prepare(void *db, const char *sql, void **out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return map_rc(rc);

    /* Empty SQL (only whitespace or comments) compiles to no statement. */
    if (!st)
        return ERR_INVALID;
    *out = st;
    return 0;
}

static void sqlite_finalize(void *st)
{
    sqlite3_finalize(st);
}

static int sqlite_reset(void *st)
{
    /* reset repeats the last step's error, which was already reported. */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
}

static int sqlite_bind_int64(void *st, int pos, int64_t value)
{
    return map_rc(sqlite3_bind_int64(st, pos, value));
}

static int sqlite_bind_double(void *st, int pos, double value)
{
    return map_rc(sqlite3_bind_double(st, pos, value));
}

static int sqlite_bind_text(void *st, int pos, const char *text)
{
    if (!text)
        return map_rc(sqlite3_bind_null(st, pos));
    return map_rc(sqlite3_bind_text64(st, pos, text, strlen(text),
                                      SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sqlite_bind_blob(void *st, int pos, const void *data, size_t size)
{
    /* A zero-length blob is still a blob, not NULL. */
    if (size == 0)
        return map_rc(sqlite3_bind_zeroblob(st, pos, 0));
    return map_rc(sqlite3_bind_blob64(st, pos, data, size, SQLITE_TRANSIENT));
}

static int sqlite_bind_null(void *st, int pos)
{
    return map_rc(sqlite3_bind_null(st, pos));
}

static int sqlite_step(void *st)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return STORE_ROW;
    if (rc == SQLITE_DONE)
        return STORE_DONE;
    return map_rc(sqlite3_extended_errcode(sqlite3_db_handle(st)));
}

static int sqlite_column_count(void *st)
{
    return sqlite3_column_count(st);
}

static bool sqlite_column_is_null(void *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL;
}

static int64_t sqlite_column_int64(void *st, int col)
{
    return sqlite3_column_int64(st, col);
}

static double sqlite_column_double(void *st, int col)
{
    return sqlite3_column_double(st, col);
}

/* Fetch the pointer before the size, as SQLite's documentation requires. */
static const char *sqlite_column_text(void *st, int col, size_t *size)
{
    const unsigned char *text = sqlite3_column_text(st, col);

    if (size)
        *size = text ? (size_t)sqlite3_column_bytes(st, col) : 0;
    return (const char *)text;
}

static const void *sqlite_column_blob(void *st, int col, size_t *size)
{
    const void *data = sqlite3_column_blob(st, col);

    if (size)
        *size = data ? (size_t)sqlite3_column_bytes(st, col) : 0;
    return data;
}

static int sqlite_exec(void *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc == SQLITE_OK)
        return 0;
    return map_rc(sqlite3_extended_errcode(db));
}

static bool sqlite_in_transaction(void *db)
{
    return sqlite3_get_autocommit(db) == 0;
}

static int64_t sqlite_last_insert_id(void *db)
{
    return sqlite3_last_insert_rowid(db);
}

static int64_t sqlite_changes(void *db)
{
    return sqlite3_changes64(db);
}

static const char *sqlite_errmsg(void *db)
{
    return sqlite3_errmsg(db);
}

const struct store_ops store__sqlite_ops = {
    .dialect = "sqlite",
    .begin_write = "BEGIN IMMEDIATE",
    .begin_read = "BEGIN DEFERRED",
    .connect = sqlite_connect,
    .setup = sqlite_setup,
    .disconnect = sqlite_disconnect,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .reset = sqlite_reset,
    .bind_int64 = sqlite_bind_int64,
    .bind_double = sqlite_bind_double,
    .bind_text = sqlite_bind_text,
    .bind_blob = sqlite_bind_blob,
    .bind_null = sqlite_bind_null,
    .step = sqlite_step,
    .column_count = sqlite_column_count,
    .column_is_null = sqlite_column_is_null,
    .column_int64 = sqlite_column_int64,
    .column_double = sqlite_column_double,
    .column_text = sqlite_column_text,
    .column_blob = sqlite_column_blob,
    .exec = sqlite_exec,
    .in_transaction = sqlite_in_transaction,
    .last_insert_id = sqlite_last_insert_id,
    .changes = sqlite_changes,
    .errmsg = sqlite_errmsg,
};
