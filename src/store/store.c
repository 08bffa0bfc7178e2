/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The generic half of the store: URL parsing, one connection per thread
 * through a pthread key, the per-connection statement cache and the
 * transaction rules.  Everything database-specific goes through the
 * back end's struct store_ops.  A connection is only ever used by one
 * thread at a time, so connections need no lock; only the store's list of
 * connections does.
 */
#include "core/base.h"
#include "store/store.h"

#include "core/err.h"
#include "store/store_int.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DEFAULT_STMT_CACHE_MAX  128

/*
 * Find the back end for url and the part its connect() takes.  A URL
 * without a scheme is a SQLite path.
 */
static int parse_url(const char *url, const struct store_ops **ops,
                     const char **target, char *msg, size_t msg_size)
{
    static const char sqlite_scheme[] = "sqlite:";

    if (!url || !*url) {
        snprintf(msg, msg_size, "database URL is empty");
        return ERR_INVALID;
    }

    if (strncmp(url, sqlite_scheme, sizeof(sqlite_scheme) - 1) == 0) {
        *target = url + sizeof(sqlite_scheme) - 1;
    } else if (strstr(url, "://")) {
        /*
         * NEEDSWORK: mariadb:// is rejected like any unknown scheme until a
         * MariaDB back end fills a struct store_ops, so the scaled
         * deployment cannot open its database yet.
         */
        snprintf(msg, msg_size,
                 "database URL \"%.64s\" has an unsupported scheme; use "
                 "sqlite:PATH",
                 url);
        return ERR_UNSUPPORTED;
    } else {
        *target = url;
    }

    if (!**target) {
        snprintf(msg, msg_size, "database URL \"%s\" has an empty path", url);
        return ERR_INVALID;
    }
    *ops = &store__sqlite_ops;
    return 0;
}

/* Copy c's back-end message into c and pass rc through. */
static int record_error(struct store_conn *c, int rc)
{
    if (rc < 0)
        strlcpy_pw(c->errmsg, c->store->ops->errmsg(c->db),
                   sizeof(c->errmsg));
    return rc;
}

static size_t cache_buckets_for(int max)
{
    size_t buckets = 16;

    while (buckets < (size_t)max)
        buckets *= 2;
    return buckets;
}

/* Connect a new connection of s and link it into s->conns. */
static int conn_new(struct store *s, struct store_conn **out, char *msg,
                    size_t msg_size)
{
    struct store_conn *c = xcalloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    rc = s->ops->connect(s->target, &s->opts, &c->db, msg, msg_size);
    if (rc < 0) {
        free(c);
        return rc;
    }

    c->store = s;
    c->cache_buckets = cache_buckets_for(s->opts.stmt_cache_max);
    c->cache = xcalloc(c->cache_buckets, sizeof(*c->cache));

    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);

    *out = c;
    return 0;
}

/* Finalize c's statements and disconnect.  c must already be unlinked. */
static void conn_destroy(struct store_conn *c)
{
    const struct store_ops *ops = c->store->ops;

    for (size_t i = 0; i < c->cache_buckets; i++) {
        struct store_stmt *st = c->cache[i];

        while (st) {
            struct store_stmt *next = st->next;

            ops->finalize(st->handle);
            free(st->sql);
            free(st);
            st = next;
        }
    }
    free(c->cache);
    ops->disconnect(c->db);
    free(c);
}

static void conn_unlink_and_destroy(struct store_conn *c)
{
    struct store *s = c->store;

    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);

    conn_destroy(c);
}

/* Close a thread's connection when the thread exits (key destructor). */
static void close_thread_conn(void *arg)
{
    conn_unlink_and_destroy(arg);
}

int store_open(struct store **out, const char *url,
               const struct store_options *opts, char *errbuf,
               size_t errbuf_size)
{
    char msg[STORE_ERRMSG_MAX] = "";
    const struct store_ops *ops = NULL;
    const char *target = NULL;
    struct store_conn *c = NULL;
    struct store *s = NULL;
    int rc;

    *out = NULL;
    rc = parse_url(url, &ops, &target, msg, sizeof(msg));
    if (rc < 0)
        goto out_report;

    s = xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->target = xstrdup(target);
    if (opts)
        s->opts = *opts;
    if (s->opts.busy_timeout_ms <= 0)
        s->opts.busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    if (s->opts.stmt_cache_max <= 0)
        s->opts.stmt_cache_max = DEFAULT_STMT_CACHE_MAX;
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->thread_conn, close_thread_conn) != 0) {
        snprintf(msg, sizeof(msg), "no thread-specific key left");
        rc = ERR_INTERNAL;
        goto out_free_settings;
    }

    rc = conn_new(s, &c, msg, sizeof(msg));
    if (rc < 0)
        goto out_free_store;
    rc = ops->setup(c->db, msg, sizeof(msg));
    if (rc < 0)
        goto out_free_store;

    c->thread_owned = true;
    if (pthread_setspecific(s->thread_conn, c) != 0) {
        snprintf(msg, sizeof(msg), "out of memory for thread-specific data");
        rc = ERR_NOMEM;
        goto out_free_store;
    }

    *out = s;
    return 0;

out_free_store:
    store_free(s);
    goto out_report;
out_free_settings:
    pthread_mutex_destroy(&s->lock);
    free(s->target);
    free(s);
out_report:
    if (errbuf)
        strlcpy_pw(errbuf, msg, errbuf_size);
    return rc;
}

void store_free(struct store *s)
{
    struct store_conn *c;

    if (!s)
        return;

    /* After the delete no thread-exit destructor runs for this store. */
    pthread_key_delete(s->thread_conn);

    pthread_mutex_lock(&s->lock);
    c = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c) {
        struct store_conn *next = c->next;

        conn_destroy(c);
        c = next;
    }

    pthread_mutex_destroy(&s->lock);
    free(s->target);
    free(s);
}

const char *store_dialect(const struct store *s)
{
    return s->ops->dialect;
}

int store_conn_get(struct store *s, struct store_conn **out)
{
    char msg[STORE_ERRMSG_MAX];
    struct store_conn *c = pthread_getspecific(s->thread_conn);
    int rc;

    if (c) {
        *out = c;
        return 0;
    }

    /*
     * NEEDSWORK: a failed connect's message is dropped here because no
     * connection exists yet to keep it, so the caller can log only the
     * code.  store_open() has already proved the database reachable.
     */
    *out = NULL;
    rc = conn_new(s, &c, msg, sizeof(msg));
    if (rc < 0)
        return rc;
    c->thread_owned = true;
    if (pthread_setspecific(s->thread_conn, c) != 0) {
        conn_unlink_and_destroy(c);
        return ERR_NOMEM;
    }
    *out = c;
    return 0;
}

int store_conn_open(struct store *s, struct store_conn **out)
{
    char msg[STORE_ERRMSG_MAX];

    return conn_new(s, out, msg, sizeof(msg));
}

void store_conn_close(struct store_conn *c)
{
    if (!c)
        return;
    assert(!c->thread_owned);
    conn_unlink_and_destroy(c);
}

const char *store_errmsg(const struct store_conn *c)
{
    return c->errmsg;
}

void store_conn_stats(const struct store_conn *c, struct store_stats *stats)
{
    stats->cache_hits = c->cache_hits;
    stats->cache_misses = c->cache_misses;
    stats->cached = c->cached;
}

/* FNV-1a: the cache keys are short SQL strings from the program itself. */
static uint64_t hash_sql(const char *sql)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3u;
    }
    return h;
}

/*
 * Unlink and free the least recently used idle statement.  Returns false
 * when every cached statement is in use.
 */
static bool cache_evict(struct store_conn *c)
{
    struct store_stmt **victim = NULL;
    struct store_stmt *st;

    for (size_t i = 0; i < c->cache_buckets; i++) {
        for (struct store_stmt **link = &c->cache[i]; *link;
             link = &(*link)->next) {
            if ((*link)->in_use)
                continue;
            if (!victim || (*link)->last_used < (*victim)->last_used)
                victim = link;
        }
    }
    if (!victim)
        return false;

    st = *victim;
    *victim = st->next;
    c->store->ops->finalize(st->handle);
    free(st->sql);
    free(st);
    c->cached--;
    return true;
}

int store_prepare(struct store_conn *c, const char *sql,
                  struct store_stmt **out)
{
    uint64_t hash = hash_sql(sql);
    size_t bucket = hash & (c->cache_buckets - 1);
    bool duplicate = false;
    struct store_stmt *st;
    void *handle = NULL;
    int rc;

    *out = NULL;
    c->cache_clock++;
    for (st = c->cache[bucket]; st; st = st->next) {
        if (st->hash != hash || strcmp(st->sql, sql) != 0)
            continue;
        if (st->in_use) {
            duplicate = true;
            break;
        }
        st->in_use = true;
        st->last_used = c->cache_clock;
        c->cache_hits++;
        *out = st;
        return 0;
    }

    c->cache_misses++;
    rc = c->store->ops->prepare(c->db, sql, &handle);
    if (rc < 0)
        return record_error(c, rc);

    st = xcalloc(1, sizeof(*st));
    st->conn = c;
    st->handle = handle;
    st->in_use = true;

    /*
     * A second user of the same SQL gets a private statement, and so does
     * any statement once the cache is full of statements in use.
     */
    if (!duplicate && (c->cached < (size_t)c->store->opts.stmt_cache_max ||
                       cache_evict(c))) {
        st->sql = xstrdup(sql);
        st->hash = hash;
        st->last_used = c->cache_clock;
        st->next = c->cache[bucket];
        c->cache[bucket] = st;
        c->cached++;
    }

    *out = st;
    return 0;
}

int store_bind_int64(struct store_stmt *st, int pos, int64_t value)
{
    struct store_conn *c = st->conn;

    return record_error(c, c->store->ops->bind_int64(st->handle, pos, value));
}

int store_bind_double(struct store_stmt *st, int pos, double value)
{
    struct store_conn *c = st->conn;

    return record_error(c, c->store->ops->bind_double(st->handle, pos, value));
}

int store_bind_text(struct store_stmt *st, int pos, const char *text)
{
    struct store_conn *c = st->conn;

    return record_error(c, c->store->ops->bind_text(st->handle, pos, text));
}

int store_bind_blob(struct store_stmt *st, int pos, const void *data,
                    size_t size)
{
    struct store_conn *c = st->conn;

    return record_error(c,
                        c->store->ops->bind_blob(st->handle, pos, data, size));
}

int store_bind_null(struct store_stmt *st, int pos)
{
    struct store_conn *c = st->conn;

    return record_error(c, c->store->ops->bind_null(st->handle, pos));
}

int store_step(struct store_stmt *st)
{
    struct store_conn *c = st->conn;

    return record_error(c, c->store->ops->step(st->handle));
}

int store_column_count(struct store_stmt *st)
{
    return st->conn->store->ops->column_count(st->handle);
}

bool store_column_is_null(struct store_stmt *st, int col)
{
    return st->conn->store->ops->column_is_null(st->handle, col);
}

int64_t store_column_int64(struct store_stmt *st, int col)
{
    return st->conn->store->ops->column_int64(st->handle, col);
}

double store_column_double(struct store_stmt *st, int col)
{
    return st->conn->store->ops->column_double(st->handle, col);
}

const char *store_column_text(struct store_stmt *st, int col, size_t *size)
{
    return st->conn->store->ops->column_text(st->handle, col, size);
}

const void *store_column_blob(struct store_stmt *st, int col, size_t *size)
{
    return st->conn->store->ops->column_blob(st->handle, col, size);
}

int store_reset(struct store_stmt *st)
{
    return st->conn->store->ops->reset(st->handle);
}

void store_finalize(struct store_stmt *st)
{
    const struct store_ops *ops;

    if (!st)
        return;

    ops = st->conn->store->ops;
    if (st->sql) {
        ops->reset(st->handle);
        st->in_use = false;
        return;
    }
    ops->finalize(st->handle);
    free(st);
}

int store_exec(struct store_conn *c, const char *sql)
{
    return record_error(c, c->store->ops->exec(c->db, sql));
}

static int begin(struct store_conn *c, const char *sql)
{
    if (store_in_transaction(c)) {
        snprintf(c->errmsg, sizeof(c->errmsg),
                 "a transaction is already open on this connection");
        return ERR_INTERNAL;
    }
    return store_exec(c, sql);
}

int store_begin(struct store_conn *c)
{
    return begin(c, c->store->ops->begin_write);
}

int store_begin_read(struct store_conn *c)
{
    return begin(c, c->store->ops->begin_read);
}

int store_commit(struct store_conn *c)
{
    int rc;

    if (!store_in_transaction(c)) {
        snprintf(c->errmsg, sizeof(c->errmsg),
                 "no transaction is open on this connection");
        return ERR_INTERNAL;
    }

    rc = store_exec(c, "COMMIT");
    if (rc < 0 && store_in_transaction(c)) {
        /* Keep the COMMIT's message; the rollback's would hide the cause. */
        c->store->ops->exec(c->db, "ROLLBACK");
    }
    return rc;
}

int store_rollback(struct store_conn *c)
{
    /* SQLite rolls back by itself on some errors (SQLITE_FULL, IOERR). */
    if (!store_in_transaction(c))
        return 0;
    return store_exec(c, "ROLLBACK");
}

bool store_in_transaction(const struct store_conn *c)
{
    return c->store->ops->in_transaction(c->db);
}

int64_t store_last_insert_id(struct store_conn *c)
{
    return c->store->ops->last_insert_id(c->db);
}

int64_t store_changes(struct store_conn *c)
{
    return c->store->ops->changes(c->db);
}

int store_ping(struct store *s)
{
    struct store_conn *c;
    struct store_stmt *st = NULL;
    int rc;

    rc = store_conn_get(s, &c);
    if (rc < 0)
        return rc;
    rc = store_prepare(c, "SELECT 1", &st);
    if (rc < 0)
        return rc;

    rc = store_step(st);
    if (rc == STORE_ROW)
        rc = store_column_int64(st, 0) == 1 ? 0 : ERR_DB;
    else if (rc == STORE_DONE)
        rc = ERR_DB;

    store_finalize(st);
    return rc;
}
