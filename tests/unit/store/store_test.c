/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store API against real SQLite files in a temporary directory: opening
 * and its failures, CRUD, transactions, error mapping, locking between
 * connections, a connection per thread, the statement cache, and every
 * SQLite allocation failing in turn.
 */
#include "core/base.h"
#include "store/store.h"

#include "core/err.h"
#include "core/utc.h"
#include "store/store_int.h"

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct fixture {
    char dir[64];            /* mkdtemp() directory, removed at teardown */
    char url[160];           /* "sqlite:<dir>/test.db" */
    char path[128];          /* <dir>/test.db */
    struct store *store;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    strlcpy_pw(f->dir, "/tmp/pw-store-XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    *state = f;
    return 0;
}

/* Remove every file of the flat temporary directory, then the directory. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    struct dirent *entry;
    DIR *dir;

    store_free(f->store);
    dir = opendir(f->dir);
    if (dir) {
        while ((entry = readdir(dir))) {
            char path[sizeof(f->dir) + sizeof(entry->d_name) + 1];

            if (entry->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", f->dir, entry->d_name);
            if (unlink(path) != 0 && rmdir(path) != 0)
                fprintf(stderr, "cannot remove \"%s\"\n", path);
        }
        closedir(dir);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct store_conn *open_default(struct fixture *f)
{
    struct store_conn *c = NULL;
    char err[256] = "";
    int rc = store_open(&f->store, f->url, NULL, err, sizeof(err));

    if (rc != 0)
        fail_msg("store_open(\"%s\") returned %d: %s", f->url, rc, err);
    assert_int_equal(store_conn_get(f->store, &c), 0);
    return c;
}

/* Run a query that returns one integer, or fail the test. */
static int64_t query_int(struct store_conn *c, const char *sql)
{
    struct store_stmt *st = NULL;
    int64_t value;

    assert_int_equal(store_prepare(c, sql, &st), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    value = store_column_int64(st, 0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
    return value;
}

static void query_text(struct store_conn *c, const char *sql, char *buf,
                       size_t size)
{
    struct store_stmt *st = NULL;

    assert_int_equal(store_prepare(c, sql, &st), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    strlcpy_pw(buf, store_column_text(st, 0, NULL), size);
    store_finalize(st);
}

static void test_store__url_forms(void **state)
{
    struct fixture *f = *state;
    struct store *s = (struct store *)&s;
    char err[256];

    err[0] = '\0';
    assert_int_equal(store_open(&s, "mariadb://user@localhost/pw", NULL, err,
                                sizeof(err)),
                     ERR_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(err, "unsupported scheme"));

    assert_int_equal(store_open(&s, "postgres://x/y", NULL, NULL, 0),
                     ERR_UNSUPPORTED);
    assert_int_equal(store_open(&s, "", NULL, err, sizeof(err)),
                     ERR_INVALID);
    assert_int_equal(store_open(&s, "sqlite:", NULL, err, sizeof(err)),
                     ERR_INVALID);
    assert_int_equal(store_open(&s, NULL, NULL, err, sizeof(err)),
                     ERR_INVALID);

    /* A bare path is a SQLite file too. */
    assert_int_equal(store_open(&s, f->path, NULL, err, sizeof(err)), 0);
    assert_string_equal(store_dialect(s), "sqlite");
    store_free(s);
    assert_int_equal(access(f->path, F_OK), 0);
}

static void test_store__open_sets_pragmas(void **state)
{
    struct fixture *f = *state;
    struct store_options opts = {.busy_timeout_ms = 1234};
    struct store_conn *c = NULL;
    struct store_conn *other = NULL;
    char mode[16];

    assert_int_equal(store_open(&f->store, f->url, &opts, NULL, 0), 0);
    assert_int_equal(store_conn_get(f->store, &c), 0);
    assert_int_equal(store_conn_open(f->store, &other), 0);

    /* Each connection has the settings, not only the first one. */
    struct store_conn *conns[] = {c, other};
    for (size_t i = 0; i < ARRAY_SIZE(conns); i++) {
        query_text(conns[i], "PRAGMA journal_mode", mode, sizeof(mode));
        assert_string_equal(mode, "wal");
        assert_int_equal(query_int(conns[i], "PRAGMA foreign_keys"), 1);
        /* 1 is NORMAL in SQLite's numbering of synchronous levels. */
        assert_int_equal(query_int(conns[i], "PRAGMA synchronous"), 1);
        assert_int_equal(query_int(conns[i], "PRAGMA busy_timeout"), 1234);
    }
    store_conn_close(other);
}

static void test_store__open_unwritable_path(void **state)
{
    struct fixture *f = *state;
    struct store *s = (struct store *)&s;
    char url[256];
    char err[256];
    FILE *file;

    /* A regular file where a directory should be: ENOTDIR. */
    file = fopen(f->path, "w");
    assert_non_null(file);
    fclose(file);
    snprintf(url, sizeof(url), "sqlite:%s/sub/x.db", f->path);
    err[0] = '\0';
    assert_int_equal(store_open(&s, url, NULL, err, sizeof(err)), ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "unable to open"));

    snprintf(url, sizeof(url), "sqlite:%s/missing/x.db", f->dir);
    assert_int_equal(store_open(&s, url, NULL, err, sizeof(err)), ERR_IO);

    /* A directory is not a database file either. */
    snprintf(url, sizeof(url), "sqlite:%s", f->dir);
    assert_int_equal(store_open(&s, url, NULL, err, sizeof(err)), ERR_IO);
}

static void test_store__open_not_a_database(void **state)
{
    struct fixture *f = *state;
    struct store *s = (struct store *)&s;
    char err[256] = "";
    FILE *file = fopen(f->path, "w");

    assert_non_null(file);
    for (int i = 0; i < 256; i++)
        fputs("this is not an SQLite file\n", file);
    fclose(file);

    assert_int_equal(store_open(&s, f->url, NULL, err, sizeof(err)),
                     ERR_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "not a database"));
}

static void test_store__crud_round_trip(void **state)
{
    static const unsigned char blob[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_stmt *st = NULL;
    const unsigned char *data;
    size_t size = 0;
    int64_t id;

    assert_int_equal(store_exec(c, "CREATE TABLE item ("
                                   " id INTEGER PRIMARY KEY,"
                                   " name TEXT NOT NULL UNIQUE,"
                                   " score REAL, payload BLOB, note TEXT)"),
                     0);

    assert_int_equal(store_prepare(c, "INSERT INTO item (name, score, payload,"
                                      " note) VALUES (?, ?, ?, ?)",
                                   &st),
                     0);
    assert_int_equal(store_bind_text(st, 1, "café"), 0);
    assert_int_equal(store_bind_double(st, 2, 17.25), 0);
    assert_int_equal(store_bind_blob(st, 3, blob, sizeof(blob)), 0);
    assert_int_equal(store_bind_null(st, 4), 0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
    id = store_last_insert_id(c);
    assert_true(id > 0);
    assert_int_equal(store_changes(c), 1);

    assert_int_equal(store_prepare(c, "SELECT id, name, score, payload, note"
                                      " FROM item WHERE id = ?",
                                   &st),
                     0);
    assert_int_equal(store_bind_int64(st, 1, id), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    assert_int_equal(store_column_count(st), 5);
    assert_int_equal(store_column_int64(st, 0), id);
    assert_string_equal(store_column_text(st, 1, &size), "café");
    assert_int_equal(size, strlen("café"));
    assert_true(store_column_double(st, 2) == 17.25);
    data = store_column_blob(st, 3, &size);
    assert_int_equal(size, sizeof(blob));
    assert_memory_equal(data, blob, sizeof(blob));
    assert_false(store_column_is_null(st, 3));
    assert_true(store_column_is_null(st, 4));
    assert_null(store_column_text(st, 4, &size));
    assert_int_equal(size, 0);
    assert_int_equal(store_column_int64(st, 4), 0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);

    assert_int_equal(store_prepare(c, "UPDATE item SET score = score + 1", &st),
                     0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
    assert_int_equal(store_changes(c), 1);

    assert_int_equal(store_exec(c, "INSERT INTO item (name) VALUES ('b');"
                                   "INSERT INTO item (name) VALUES ('c')"),
                     0);
    assert_int_equal(query_int(c, "SELECT count(*) FROM item"), 3);

    assert_int_equal(store_prepare(c, "DELETE FROM item WHERE name <> ?", &st),
                     0);
    assert_int_equal(store_bind_text(st, 1, "café"), 0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
    assert_int_equal(store_changes(c), 2);
    assert_int_equal(query_int(c, "SELECT count(*) FROM item"), 1);
}

static void test_store__empty_blob_is_not_null(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_stmt *st = NULL;

    assert_int_equal(store_exec(c, "CREATE TABLE b (v BLOB)"), 0);
    assert_int_equal(store_prepare(c, "INSERT INTO b VALUES (?)", &st), 0);
    assert_int_equal(store_bind_blob(st, 1, NULL, 0), 0);
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
    assert_int_equal(query_int(c, "SELECT count(*) FROM b WHERE v IS NOT NULL"
                                  " AND length(v) = 0"),
                     1);
}

static void test_store__transaction_commit_rollback(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_conn *other = NULL;

    assert_int_equal(store_exec(c, "CREATE TABLE t (v INTEGER)"), 0);
    assert_int_equal(store_conn_open(f->store, &other), 0);

    assert_int_equal(store_begin(c), 0);
    assert_true(store_in_transaction(c));
    assert_int_equal(store_exec(c, "INSERT INTO t VALUES (1)"), 0);
    assert_int_equal(query_int(c, "SELECT count(*) FROM t"), 1);
    assert_int_equal(store_rollback(c), 0);
    assert_false(store_in_transaction(c));
    assert_int_equal(query_int(c, "SELECT count(*) FROM t"), 0);

    assert_int_equal(store_begin(c), 0);
    assert_int_equal(store_exec(c, "INSERT INTO t VALUES (2)"), 0);
    /* WAL: the other connection reads the last commit, not the write. */
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 0);
    assert_int_equal(store_commit(c), 0);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 1);

    /* A read transaction keeps its snapshot while another writer commits. */
    assert_int_equal(store_begin_read(other), 0);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 1);
    assert_int_equal(store_exec(c, "INSERT INTO t VALUES (3)"), 0);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 1);
    assert_int_equal(store_commit(other), 0);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 2);

    store_conn_close(other);
}

static void test_store__transaction_misuse(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);

    assert_int_equal(store_rollback(c), 0);
    assert_int_equal(store_commit(c), ERR_INTERNAL);
    assert_non_null(strstr(store_errmsg(c), "no transaction"));

    assert_int_equal(store_begin(c), 0);
    assert_int_equal(store_begin(c), ERR_INTERNAL);
    assert_int_equal(store_begin_read(c), ERR_INTERNAL);
    assert_non_null(strstr(store_errmsg(c), "already open"));
    assert_true(store_in_transaction(c));
    assert_int_equal(store_rollback(c), 0);
    assert_false(store_in_transaction(c));
}

static void test_store__constraint_errors(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_stmt *st = NULL;

    assert_int_equal(store_errmsg(c)[0], '\0');
    assert_int_equal(store_exec(c, "CREATE TABLE u (id INTEGER PRIMARY KEY,"
                                   " email TEXT NOT NULL UNIQUE);"
                                   "CREATE TABLE r (u INTEGER NOT NULL"
                                   " REFERENCES u (id));"
                                   "INSERT INTO u VALUES (1, 'a@x')"),
                     0);

    assert_int_equal(store_prepare(c, "INSERT INTO u (email) VALUES (?)", &st),
                     0);
    assert_int_equal(store_bind_text(st, 1, "a@x"), 0);
    assert_int_equal(store_step(st), ERR_EXISTS);
    assert_non_null(strstr(store_errmsg(c), "UNIQUE constraint failed"));
    store_finalize(st);

    assert_int_equal(store_exec(c, "INSERT INTO u VALUES (1, 'b@x')"),
                     ERR_EXISTS);
    assert_int_equal(store_exec(c, "INSERT INTO u VALUES (2, NULL)"), ERR_DB);
    assert_non_null(strstr(store_errmsg(c), "NOT NULL"));

    /* Foreign keys are enforced on every connection. */
    assert_int_equal(store_exec(c, "INSERT INTO r VALUES (99)"), ERR_DB);
    assert_non_null(strstr(store_errmsg(c), "FOREIGN KEY"));
    assert_int_equal(store_exec(c, "INSERT INTO r VALUES (1)"), 0);
}

static void test_store__prepare_and_bind_errors(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_stmt *st = (struct store_stmt *)&st;

    assert_int_equal(store_prepare(c, "SELEC 1", &st), ERR_DB);
    assert_null(st);
    assert_non_null(strstr(store_errmsg(c), "syntax error"));
    assert_int_equal(store_prepare(c, "SELECT * FROM missing", &st), ERR_DB);
    assert_non_null(strstr(store_errmsg(c), "no such table"));
    assert_int_equal(store_prepare(c, "  -- nothing\n", &st), ERR_INVALID);

    assert_int_equal(store_prepare(c, "SELECT ?", &st), 0);
    assert_int_equal(store_bind_int64(st, 2, 1), ERR_INVALID);
    assert_int_equal(store_bind_text(st, 0, "x"), ERR_INVALID);
    assert_int_equal(store_bind_int64(st, 1, 7), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    assert_int_equal(store_column_int64(st, 0), 7);

    /* reset clears the bindings and rewinds. */
    assert_int_equal(store_reset(st), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    assert_true(store_column_is_null(st, 0));
    store_finalize(st);

    assert_int_equal(store_exec(c, "CREATE TABLE"), ERR_DB);
}

static void test_store__busy_timeout_two_connections(void **state)
{
    struct fixture *f = *state;
    struct store_options opts = {.busy_timeout_ms = 150};
    struct store_conn *writer = NULL;
    struct store_conn *c = NULL;
    int64_t start, elapsed;

    assert_int_equal(store_open(&f->store, f->url, &opts, NULL, 0), 0);
    assert_int_equal(store_conn_get(f->store, &c), 0);
    assert_int_equal(store_exec(c, "CREATE TABLE t (v INTEGER)"), 0);
    assert_int_equal(store_conn_open(f->store, &writer), 0);

    assert_int_equal(store_begin(writer), 0);
    start = utc_monotonic_ms();
    assert_int_equal(store_begin(c), ERR_BUSY);
    elapsed = utc_monotonic_ms() - start;
    assert_non_null(strstr(store_errmsg(c), "locked"));
    assert_false(store_in_transaction(c));
    /* SQLite sleeps in steps, so allow for the last step ending early. */
    assert_true(elapsed >= 100);
    assert_true(elapsed < 2000);

    /* A plain write outside a transaction waits and fails the same way. */
    assert_int_equal(store_exec(c, "INSERT INTO t VALUES (1)"), ERR_BUSY);

    /* Readers are not blocked by the writer. */
    assert_int_equal(query_int(c, "SELECT count(*) FROM t"), 0);

    assert_int_equal(store_commit(writer), 0);
    assert_int_equal(store_begin(c), 0);
    assert_int_equal(store_exec(c, "INSERT INTO t VALUES (1)"), 0);
    assert_int_equal(store_commit(c), 0);
    store_conn_close(writer);
}

#define THREADS         4
#define ROWS_PER_THREAD 50

struct worker {
    struct store *store;
    pthread_barrier_t *all_connected; /* waited on once connected */
    struct store_conn *conn; /* what store_conn_get() returned */
    int rc;                  /* first failure, 0 if none */
    int id;
};

static void *insert_rows(void *arg)
{
    struct worker *w = arg;
    struct store_conn *again = NULL;

    w->rc = store_conn_get(w->store, &w->conn);
    if (w->rc == 0)
        w->rc = store_conn_get(w->store, &again);
    if (w->rc == 0 && again != w->conn)
        w->rc = ERR_INTERNAL;

    /*
     * Hold every connection open at once, so that the addresses compared
     * by the test cannot be reused by malloc after a thread exits.
     */
    pthread_barrier_wait(w->all_connected);

    for (int i = 0; w->rc == 0 && i < ROWS_PER_THREAD; i++) {
        struct store_stmt *st = NULL;

        w->rc = store_begin(w->conn);
        if (w->rc < 0)
            break;
        w->rc = store_prepare(w->conn, "INSERT INTO t (worker, n)"
                                       " VALUES (?, ?)", &st);
        if (w->rc == 0)
            w->rc = store_bind_int64(st, 1, w->id);
        if (w->rc == 0)
            w->rc = store_bind_int64(st, 2, i);
        if (w->rc == 0)
            w->rc = store_step(st);
        store_finalize(st);
        if (w->rc == 0)
            w->rc = store_commit(w->conn);
        else
            store_rollback(w->conn);
    }
    return NULL;
}

static size_t count_conns(struct store *s)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    for (struct store_conn *c = s->conns; c; c = c->next)
        n++;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void test_store__threads_own_connections(void **state)
{
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    pthread_barrier_t all_connected;

    assert_int_equal(store_exec(c, "CREATE TABLE t (worker INTEGER,"
                                   " n INTEGER, UNIQUE (worker, n))"),
                     0);
    assert_int_equal(count_conns(f->store), 1);
    assert_int_equal(pthread_barrier_init(&all_connected, NULL, THREADS), 0);

    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){.store = f->store,
                                     .all_connected = &all_connected,
                                     .id = i};
        assert_int_equal(
            pthread_create(&threads[i], NULL, insert_rows, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    pthread_barrier_destroy(&all_connected);

    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(workers[i].rc, 0);
        assert_ptr_not_equal(workers[i].conn, c);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(workers[i].conn, workers[j].conn);
    }
    assert_int_equal(query_int(c, "SELECT count(*) FROM t"),
                     THREADS * ROWS_PER_THREAD);

    /* Each worker's connection was closed when its thread exited. */
    assert_int_equal(count_conns(f->store), 1);
}

struct parked_worker {
    struct worker w;
    sem_t ready;             /* posted once the worker has its connection */
    sem_t release;           /* posted to let the worker exit */
};

static void *get_conn_and_wait(void *arg)
{
    struct parked_worker *p = arg;

    p->w.rc = store_conn_get(p->w.store, &p->w.conn);
    sem_post(&p->ready);
    sem_wait(&p->release);
    return NULL;
}

static void test_store__free_closes_live_thread_conns(void **state)
{
    struct fixture *f = *state;
    struct parked_worker p = {0};
    pthread_t thread;

    open_default(f);
    p.w.store = f->store;
    assert_int_equal(sem_init(&p.ready, 0, 0), 0);
    assert_int_equal(sem_init(&p.release, 0, 0), 0);
    assert_int_equal(pthread_create(&thread, NULL, get_conn_and_wait, &p), 0);
    assert_int_equal(sem_wait(&p.ready), 0);
    assert_int_equal(p.w.rc, 0);
    assert_int_equal(count_conns(f->store), 2);

    /*
     * Free the store while the worker still runs.  Its connection is
     * closed now, and its thread-exit destructor must not run afterwards
     * (the sanitizer build reports a double free or a leak otherwise).
     */
    store_free(f->store);
    f->store = NULL;
    assert_int_equal(sem_post(&p.release), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    sem_destroy(&p.ready);
    sem_destroy(&p.release);
}

static void test_store__statement_cache_reuse(void **state)
{
    static const char sql[] = "SELECT ? + 1";
    struct fixture *f = *state;
    struct store_conn *c = open_default(f);
    struct store_stmt *first = NULL;
    struct store_stmt *second = NULL;
    struct store_stmt *third = NULL;
    struct store_stats stats;

    assert_int_equal(store_prepare(c, sql, &first), 0);
    assert_int_equal(store_bind_int64(first, 1, 41), 0);
    assert_int_equal(store_step(first), STORE_ROW);
    store_finalize(first);

    /* Same text: the same compiled statement, with its bindings cleared. */
    assert_int_equal(store_prepare(c, sql, &second), 0);
    assert_ptr_equal(second, first);
    assert_int_equal(store_step(second), STORE_ROW);
    assert_true(store_column_is_null(second, 0));

    /* While it is in use, the same text gets a separate statement. */
    assert_int_equal(store_prepare(c, sql, &third), 0);
    assert_ptr_not_equal(third, second);
    assert_int_equal(store_bind_int64(third, 1, 1), 0);
    assert_int_equal(store_step(third), STORE_ROW);
    assert_int_equal(store_column_int64(third, 0), 2);
    store_finalize(third);
    store_finalize(second);

    store_conn_stats(c, &stats);
    assert_int_equal(stats.cache_hits, 1);
    assert_int_equal(stats.cache_misses, 2);
    assert_int_equal(stats.cached, 1);

    assert_int_equal(store_prepare(c, sql, &first), 0);
    assert_ptr_equal(first, second);
    store_finalize(first);
    store_conn_stats(c, &stats);
    assert_int_equal(stats.cache_hits, 2);
}

static void test_store__statement_cache_evicts_lru(void **state)
{
    static const char *const sqls[] = {"SELECT 1", "SELECT 2", "SELECT 3"};
    struct fixture *f = *state;
    struct store_options opts = {.stmt_cache_max = 2};
    struct store_stmt *held[3] = {NULL};
    struct store_stmt *st = NULL;
    struct store_conn *c = NULL;
    struct store_stats stats;

    assert_int_equal(store_open(&f->store, f->url, &opts, NULL, 0), 0);
    assert_int_equal(store_conn_get(f->store, &c), 0);

    for (size_t i = 0; i < ARRAY_SIZE(sqls); i++) {
        assert_int_equal(store_prepare(c, sqls[i], &st), 0);
        store_finalize(st);
    }
    store_conn_stats(c, &stats);
    assert_int_equal(stats.cached, 2);

    /* "SELECT 1" was the least recently used and is compiled again. */
    assert_int_equal(store_prepare(c, "SELECT 3", &st), 0);
    store_finalize(st);
    assert_int_equal(store_prepare(c, "SELECT 1", &st), 0);
    store_finalize(st);
    store_conn_stats(c, &stats);
    assert_int_equal(stats.cache_hits, 1);
    assert_int_equal(stats.cache_misses, 4);

    /* With every cached statement in use, a new one stays uncached. */
    for (size_t i = 0; i < ARRAY_SIZE(sqls); i++)
        assert_int_equal(store_prepare(c, sqls[i], &held[i]), 0);
    store_conn_stats(c, &stats);
    assert_int_equal(stats.cached, 2);
    for (size_t i = 0; i < ARRAY_SIZE(sqls); i++) {
        assert_int_equal(store_step(held[i]), STORE_ROW);
        assert_int_equal(store_column_int64(held[i], 0), (int64_t)i + 1);
        store_finalize(held[i]);
    }
}

static void test_store__ping(void **state)
{
    struct fixture *f = *state;

    open_default(f);
    assert_int_equal(store_ping(f->store), 0);
    assert_int_equal(store_ping(f->store), 0);
}

/*
 * Fault injection: an allocator that fails the Nth SQLite allocation and
 * every one after it, installed while SQLite is shut down.
 */
static sqlite3_mem_methods real_mem;
static long alloc_countdown = -1; /* allocations left; -1 = never fail */
static long alloc_failures;

static bool alloc_should_fail(void)
{
    if (alloc_countdown < 0)
        return false;
    if (alloc_countdown == 0) {
        alloc_failures++;
        return true;
    }
    alloc_countdown--;
    return false;
}

static void *faulty_malloc(int size)
{
    return alloc_should_fail() ? NULL : real_mem.xMalloc(size);
}

static void *faulty_realloc(void *p, int size)
{
    return alloc_should_fail() ? NULL : real_mem.xRealloc(p, size);
}

/* One open-write-read cycle; returns 0 or the first error. */
static int crud_cycle(const char *url)
{
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct store_stmt *st = NULL;
    int rc;

    rc = store_open(&s, url, NULL, NULL, 0);
    if (rc < 0)
        return rc;
    rc = store_conn_get(s, &c);
    if (rc == 0)
        rc = store_exec(c, "CREATE TABLE IF NOT EXISTS t (k TEXT UNIQUE,"
                           " v BLOB)");
    if (rc == 0)
        rc = store_begin(c);
    if (rc == 0)
        rc = store_prepare(c, "INSERT OR REPLACE INTO t VALUES (?, ?)", &st);
    if (rc == 0)
        rc = store_bind_text(st, 1, "key");
    if (rc == 0)
        rc = store_bind_blob(st, 2, "value", 5);
    if (rc == 0)
        rc = store_step(st);
    store_finalize(st);
    st = NULL;
    if (rc == 0)
        rc = store_commit(c);
    else
        store_rollback(c);
    if (rc == 0)
        rc = store_prepare(c, "SELECT v FROM t WHERE k = ?", &st);
    if (rc == 0)
        rc = store_bind_text(st, 1, "key");
    if (rc == 0)
        rc = store_step(st) == STORE_ROW ? 0 : ERR_DB;
    store_finalize(st);
    store_free(s);
    return rc;
}

static void test_store__sqlite_alloc_failures(void **state)
{
    struct fixture *f = *state;
    sqlite3_mem_methods faulty;
    struct store_conn *c = NULL;
    char check[16];
    long n;
    int nomem = 0;

    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem),
                     SQLITE_OK);
    faulty = real_mem;
    faulty.xMalloc = faulty_malloc;
    faulty.xRealloc = faulty_realloc;
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &faulty), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);

    for (n = 0; n < 5000; n++) {
        int rc;

        alloc_failures = 0;
        alloc_countdown = n;
        rc = crud_cycle(f->url);
        alloc_countdown = -1;
        if (alloc_failures == 0) {
            /* Nothing failed: the cycle covers fewer than n allocations. */
            assert_int_equal(rc, 0);
            break;
        }
        assert_true(rc <= 0);
        if (rc == ERR_NOMEM)
            nomem++;
    }
    assert_true(n < 5000);
    assert_true(nomem > 0);
    print_message("SQLite allocation failures injected: %ld (%d as "
                  "ERR_NOMEM)\n",
                  n, nomem);

    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &real_mem),
                     SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);

    /* The file survived every failure intact. */
    c = open_default(f);
    query_text(c, "PRAGMA integrity_check", check, sizeof(check));
    assert_string_equal(check, "ok");
    assert_int_equal(query_int(c, "SELECT count(*) FROM t"), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store__url_forms),
        T(test_store__open_sets_pragmas),
        T(test_store__open_unwritable_path),
        T(test_store__open_not_a_database),
        T(test_store__crud_round_trip),
        T(test_store__empty_blob_is_not_null),
        T(test_store__transaction_commit_rollback),
        T(test_store__transaction_misuse),
        T(test_store__constraint_errors),
        T(test_store__prepare_and_bind_errors),
        T(test_store__busy_timeout_two_connections),
        T(test_store__threads_own_connections),
        T(test_store__free_closes_live_thread_conns),
        T(test_store__statement_cache_reuse),
        T(test_store__statement_cache_evicts_lru),
        T(test_store__ping),
        T(test_store__sqlite_alloc_failures),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
