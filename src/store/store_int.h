/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interface between the generic store (store.c: connections per thread,
 * statement cache, transactions) and a database back end (sqlite.c, later
 * mariadb.c).  A back end fills a struct store_ops; every operation works
 * on the back end's own handle kept in the generic struct.
 */
#ifndef PW_STORE_STORE_INT_H
#define PW_STORE_STORE_INT_H

#include "store/migrate.h"
#include "store/store.h"

#include <pthread.h>

#define STORE_ERRMSG_MAX 256

struct store_ops {
    const char *dialect;     /* names the migrations/<dialect> directory */
    const char *begin_write; /* SQL that starts a write transaction */
    const char *begin_read;  /* SQL that starts a read transaction */

    /*
     * Open a connection to target (the URL without its scheme) and store
     * the back end's handle in *db.  On error *db is NULL and errbuf
     * contains the message.  Returns 0 or a negative ERR_*.
     */
    int (*connect)(const char *target, const struct store_options *opts,
                   void **db, char *errbuf, size_t errbuf_size);

    /*
     * Prepare the database through the first connection of a store (SQLite:
     * WAL mode).  On error errbuf contains the message.
     */
    int (*setup)(void *db, char *errbuf, size_t errbuf_size);
    void (*disconnect)(void *db);

    /* Compile one statement into *stmt; ERR_* on error, see errmsg. */
    int (*prepare)(void *db, const char *sql, void **stmt);
    void (*finalize)(void *stmt);
    int (*reset)(void *stmt);

    int (*bind_int64)(void *stmt, int pos, int64_t value);
    int (*bind_double)(void *stmt, int pos, double value);
    int (*bind_text)(void *stmt, int pos, const char *text);
    int (*bind_blob)(void *stmt, int pos, const void *data, size_t size);
    int (*bind_null)(void *stmt, int pos);

    /* STORE_ROW, STORE_DONE or a negative ERR_*. */
    int (*step)(void *stmt);

    int (*column_count)(void *stmt);
    bool (*column_is_null)(void *stmt, int col);
    int64_t (*column_int64)(void *stmt, int col);
    double (*column_double)(void *stmt, int col);
    const char *(*column_text)(void *stmt, int col, size_t *size);
    const void *(*column_blob)(void *stmt, int col, size_t *size);

    /* Run sql, possibly several statements, discarding rows. */
    int (*exec)(void *db, const char *sql);

    /* True while db has an open transaction, even one begun by exec. */
    bool (*in_transaction)(void *db);

    int64_t (*last_insert_id)(void *db);
    int64_t (*changes)(void *db);

    /* The message of the last failed call on db; borrowed. */
    const char *(*errmsg)(void *db);
};

struct store {
    const struct store_ops *ops;
    char *target;                /* URL without the scheme, e.g. a path */
    struct store_options opts;   /* with the defaults filled in */
    pthread_key_t thread_conn;   /* each thread's struct store_conn */
    pthread_mutex_t lock;        /* guards conns */
    struct store_conn *conns;    /* every open connection, for store_free */
};

struct store_conn {
    struct store *store;
    void *db;                    /* the back end's connection */
    bool thread_owned;           /* closed at thread exit, not by callers */
    char errmsg[STORE_ERRMSG_MAX]; /* message of the last failed call */

    struct store_stmt **cache;   /* hash table of cached statements */
    size_t cache_buckets;        /* a power of two */
    size_t cached;               /* statements in the table */
    uint64_t cache_clock;        /* increments per prepare, for LRU */
    uint64_t cache_hits;
    uint64_t cache_misses;

    struct store_conn *prev;     /* in store->conns */
    struct store_conn *next;
};

struct store_stmt {
    struct store_conn *conn;
    void *handle;                /* the back end's statement */
    char *sql;                   /* cache key (owned); NULL when uncached */
    uint64_t hash;
    uint64_t last_used;          /* conn->cache_clock at the last prepare */
    bool in_use;                 /* handed out and not yet finalized */
    struct store_stmt *next;     /* hash chain */
};

extern const struct store_ops store__sqlite_ops;

/*
 * The migrations of one dialect.  The build generates the table from
 * migrations/<dialect>/NNNN_name.sql (see src/store/CMakeLists.txt), and
 * an entry whose dialect is NULL ends it.
 */
struct store__migration_set {
    const char *dialect;
    const struct store_migration *list; /* sorted by version */
    size_t count;
};

extern const struct store__migration_set store__migration_sets[];

#endif
