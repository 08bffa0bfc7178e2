/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQL store: one small API (open, prepare, bind, step, transactions)
 * over pluggable back ends, SQLite today.  A struct store keeps the database
 * settings and hands each thread its own connection, and each connection
 * keeps a cache of prepared statements keyed by SQL text.  The store returns
 * status codes and never logs; store_errmsg() gives the database's message.
 */
#ifndef PW_STORE_STORE_H
#define PW_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_conn;
struct store_stmt;

/* Settings for store_open(); zero fields take the defaults shown. */
struct store_options {
    int busy_timeout_ms;     /* wait for a lock this long; 0 = 5000 */
    int stmt_cache_max;      /* cached statements per connection; 0 = 128 */
};

/* store_step() results other than a negative ERR_*. */
enum store_step {
    STORE_DONE = 0,          /* the statement has finished */
    STORE_ROW = 1,           /* a result row is ready for the getters */
};

/* Counters of one connection's statement cache. */
struct store_stats {
    uint64_t cache_hits;     /* store_prepare() served from the cache */
    uint64_t cache_misses;   /* store_prepare() that compiled the SQL */
    size_t cached;           /* statements held in the cache now */
};

/*
 * Open the database named by url and store the new handle in *out.  url is
 * "sqlite:PATH" or a bare PATH for SQLite; "mariadb://..." and any other
 * scheme return ERR_UNSUPPORTED.  opts may be NULL for the defaults.
 *
 * SQLite connections use WAL, synchronous=NORMAL, foreign keys and the busy
 * timeout.  Opening connects once to check the database (creating the file
 * if missing) and keeps that connection for the calling thread.
 *
 * Returns 0, ERR_INVALID (empty path), ERR_UNSUPPORTED, ERR_IO (the file
 * cannot be opened or created), ERR_CORRUPT (not a database), ERR_NOMEM or
 * ERR_DB.  On error *out is NULL and, when errbuf is not NULL, the
 * database's message is copied into errbuf (errbuf_size bytes, truncated).
 * The caller frees the store with store_free().
 */
int store_open(struct store **out, const char *url,
               const struct store_options *opts, char *errbuf,
               size_t errbuf_size);

/*
 * Close every connection and free s.  Call it only once no thread uses s
 * or any statement or connection from it.  store_free(NULL) does nothing.
 */
void store_free(struct store *s);

/* Return the SQL dialect of s ("sqlite"), naming its migrations directory. */
const char *store_dialect(const struct store *s);

/*
 * Store in *out the calling thread's connection to s, opening it on first
 * use.  The connection belongs to s: it is closed when the thread exits or
 * by store_free(), never by the caller.  Cheap after the first call (one
 * thread-specific lookup) and safe from any number of threads.  Returns 0
 * or the errors of store_open().
 */
int store_conn_get(struct store *s, struct store_conn **out);

/*
 * Open a connection of s that is not tied to a thread, for code that needs
 * two connections at once (tests, the migration tool).  Use it from one
 * thread at a time and close it with store_conn_close() before
 * store_free(s).  Returns 0 or the errors of store_open().
 */
int store_conn_open(struct store *s, struct store_conn **out);

/* Close a connection from store_conn_open(); NULL does nothing. */
void store_conn_close(struct store_conn *c);

/*
 * Return the database's message for the last failed call on c, e.g.
 * "UNIQUE constraint failed: users.email", or "" when none failed.  The
 * text is borrowed until the next call on c.
 */
const char *store_errmsg(const struct store_conn *c);

/* Fill *stats with the counters of c's statement cache. */
void store_conn_stats(const struct store_conn *c, struct store_stats *stats);

/*
 * Return in *out a statement for sql (one statement, `?` placeholders),
 * taken from c's cache or compiled and cached.  When the cached statement
 * for the same text is still in use, a separate uncached one is compiled.
 * The statement borrows c and is handed back with store_finalize().
 * Returns 0, ERR_NOMEM or ERR_DB (syntax error, unknown table).
 */
int store_prepare(struct store_conn *c, const char *sql,
                  struct store_stmt **out);

/*
 * Bind a value to the placeholder at pos, counted from 1.  Text and blobs
 * are copied, so the caller's buffer need not outlive the call.  A NULL
 * text binds SQL NULL.  Returns 0, ERR_INVALID (pos out of range),
 * ERR_TOO_BIG or ERR_NOMEM.
 */
int store_bind_int64(struct store_stmt *st, int pos, int64_t value);
int store_bind_double(struct store_stmt *st, int pos, double value);
int store_bind_text(struct store_stmt *st, int pos, const char *text);
int store_bind_blob(struct store_stmt *st, int pos, const void *data,
                    size_t size);
int store_bind_null(struct store_stmt *st, int pos);

/*
 * Run st to its next row.  Returns STORE_ROW, STORE_DONE, or ERR_EXISTS
 * (unique or primary key violated), ERR_BUSY (lock not granted within the
 * busy timeout), ERR_NOMEM or ERR_DB (any other failure, including other
 * constraints).  After an error, store_errmsg() of the connection gives
 * the database's message and st must be reset or finalized.
 */
int store_step(struct store_stmt *st);

/*
 * Column getters for the current row, columns counted from 0.  Text and
 * blob pointers are borrowed until the next step, reset or finalize of st;
 * *size (when not NULL) receives the length in bytes without the NUL.  A
 * NULL column reads as 0, 0.0 or NULL.
 */
int store_column_count(struct store_stmt *st);
bool store_column_is_null(struct store_stmt *st, int col);
int64_t store_column_int64(struct store_stmt *st, int col);
double store_column_double(struct store_stmt *st, int col);
const char *store_column_text(struct store_stmt *st, int col, size_t *size);
const void *store_column_blob(struct store_stmt *st, int col, size_t *size);

/*
 * Rewind st so that it can be stepped again, and clear its bindings.
 * Returns 0; an error of the last step is not reported again.
 */
int store_reset(struct store_stmt *st);

/*
 * Hand st back: a cached statement is reset and returned to the cache, an
 * uncached one is freed.  st must not be used afterwards.  NULL does
 * nothing.
 */
void store_finalize(struct store_stmt *st);

/*
 * Run sql, which may hold several statements separated by semicolons and
 * returns no rows to the caller.  For one-off and DDL statements; anything
 * run repeatedly or with values goes through store_prepare().  Returns 0 or
 * the errors of store_step().
 */
int store_exec(struct store_conn *c, const char *sql);

/*
 * Transactions on c.  store_begin() starts a write transaction that takes
 * the write lock at once (SQLite BEGIN IMMEDIATE).  Because the lock is
 * taken up front, a transaction that reads first never fails later when
 * it writes.  store_begin_read() starts a read-only snapshot.
 *
 * Transactions do not nest, so beginning twice returns ERR_INTERNAL, and
 * so does a commit without a transaction.  A failed store_commit() rolls
 * the transaction back before returning.  store_rollback() without a
 * transaction does nothing, so that cleanup paths may call it
 * unconditionally.  Return 0, ERR_BUSY or ERR_DB.
 */
int store_begin(struct store_conn *c);
int store_begin_read(struct store_conn *c);
int store_commit(struct store_conn *c);
int store_rollback(struct store_conn *c);

/* Return true while c has an open transaction. */
bool store_in_transaction(const struct store_conn *c);

/* Return the row id of c's last successful INSERT, 0 if none. */
int64_t store_last_insert_id(struct store_conn *c);

/* Return the number of rows changed by c's last INSERT, UPDATE or DELETE. */
int64_t store_changes(struct store_conn *c);

/*
 * Run a trivial query on the calling thread's connection, for the
 * readiness probe.  Returns 0 or a negative ERR_*.
 */
int store_ping(struct store *s);

#endif
