/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Migrations against a real SQLite file: applied once and recorded, re-runs
 * that change nothing, a failing migration rolled back whole, a changed
 * checksum rejected, and two threads migrating at once.
 */
#include "core/base.h"
#include "store/migrate.h"

#include "core/err.h"
#include "store/store.h"

#include <pthread.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct fixture {
    char dir[64];            /* mkdtemp() directory */
    char path[128];          /* <dir>/test.db */
    struct store *store;
    struct store_conn *conn; /* the test thread's connection */
};

static const struct store_migration base[] = {
    {1, "0001_exam", "CREATE TABLE exam (id INTEGER PRIMARY KEY,"
                     " title TEXT NOT NULL);"
                     "INSERT INTO exam (title) VALUES ('Algebra')"},
    {2, "0002_slot", "CREATE TABLE slot (id INTEGER PRIMARY KEY,"
                     " exam_id INTEGER NOT NULL REFERENCES exam (id),"
                     " capacity INTEGER NOT NULL)"},
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char err[256] = "";
    int rc;

    strlcpy_pw(f->dir, "/tmp/pw-migrate-XXXXXX", sizeof(f->dir));
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    rc = store_open(&f->store, f->path, NULL, err, sizeof(err));
    if (rc == 0)
        rc = store_conn_get(f->store, &f->conn);
    if (rc != 0) {
        fprintf(stderr, "store_open(\"%s\"): %s\n", f->path, err);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    struct fixture *f = *state;

    store_free(f->store);
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        char path[sizeof(f->path) + 8];

        snprintf(path, sizeof(path), "%s%s", f->path, suffixes[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t query_int(struct store_conn *c, const char *sql)
{
    struct store_stmt *st = NULL;
    int64_t value;

    assert_int_equal(store_prepare(c, sql, &st), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    value = store_column_int64(st, 0);
    store_finalize(st);
    return value;
}

static bool table_exists(struct store_conn *c, const char *name)
{
    struct store_stmt *st = NULL;
    int rc;

    assert_int_equal(store_prepare(c, "SELECT 1 FROM sqlite_schema"
                                      " WHERE type = 'table' AND name = ?",
                                   &st),
                     0);
    assert_int_equal(store_bind_text(st, 1, name), 0);
    rc = store_step(st);
    assert_true(rc >= 0);
    store_finalize(st);
    return rc == STORE_ROW;
}

static void test_migrate__applies_and_records(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    struct store_stmt *st = NULL;
    size_t size = 0;

    assert_int_equal(store_migrate_list(f->store, base, 2, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.skipped, 0);
    assert_int_equal(res.unknown, 0);
    assert_int_equal(res.failed_version, 0);
    assert_true(table_exists(f->conn, "exam"));
    assert_true(table_exists(f->conn, "slot"));
    assert_int_equal(query_int(f->conn, "SELECT count(*) FROM exam"), 1);

    assert_int_equal(store_prepare(f->conn, "SELECT version, name, checksum,"
                                            " applied_at FROM schema_migrations"
                                            " ORDER BY version",
                                   &st),
                     0);
    for (size_t i = 0; i < ARRAY_SIZE(base); i++) {
        assert_int_equal(store_step(st), STORE_ROW);
        assert_int_equal(store_column_int64(st, 0), base[i].version);
        assert_string_equal(store_column_text(st, 1, NULL), base[i].name);
        store_column_text(st, 2, &size);
        assert_int_equal(size, 64);
        /* "2026-01-02T03:04:05.678Z" */
        store_column_text(st, 3, &size);
        assert_int_equal(size, 24);
    }
    assert_int_equal(store_step(st), STORE_DONE);
    store_finalize(st);
}

static void test_migrate__rerun_is_noop(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    const struct store_migration more[] = {
        base[0],
        base[1],
        {3, "0003_exam_duration",
         "ALTER TABLE exam ADD COLUMN duration_min INTEGER"},
    };

    assert_int_equal(store_migrate_list(f->store, base, 2, &res), 0);
    assert_int_equal(store_migrate_list(f->store, base, 2, &res), 0);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.skipped, 2);
    /* The INSERT of 0001 did not run twice. */
    assert_int_equal(query_int(f->conn, "SELECT count(*) FROM exam"), 1);
    assert_int_equal(query_int(f->conn,
                               "SELECT count(*) FROM schema_migrations"),
                     2);

    assert_int_equal(store_migrate_list(f->store, more, 3, &res), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.skipped, 2);
    assert_int_equal(query_int(f->conn, "SELECT count(duration_min) FROM exam"),
                     0);

    /* res may be NULL. */
    assert_int_equal(store_migrate_list(f->store, more, 3, NULL), 0);
}

static void test_migrate__failure_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    const struct store_migration broken[] = {
        base[0],
        {2, "0002_broken", "CREATE TABLE room (id INTEGER PRIMARY KEY);"
                           "INSERT INTO exam (title) VALUES ('Physics');"
                           "UPDATE exam SET title = 'changed';"
                           "SELEC oops"},
        {3, "0003_after", "CREATE TABLE after_broken (id INTEGER)"},
    };
    const struct store_migration fixed[] = {
        base[0],
        {2, "0002_broken", "CREATE TABLE room (id INTEGER PRIMARY KEY)"},
        broken[2],
    };
    char title[32];
    struct store_stmt *st = NULL;

    assert_int_equal(store_migrate_list(f->store, base, 1, &res), 0);

    assert_int_equal(store_migrate_list(f->store, broken, 3, &res), ERR_DB);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.failed_version, 2);
    assert_string_equal(res.failed_name, "0002_broken");
    assert_non_null(strstr(res.message, "syntax error"));

    /* Nothing of 0002 is left, and 0003 was not attempted. */
    assert_false(table_exists(f->conn, "room"));
    assert_false(table_exists(f->conn, "after_broken"));
    assert_int_equal(query_int(f->conn, "SELECT count(*) FROM exam"), 1);
    assert_int_equal(store_prepare(f->conn, "SELECT title FROM exam", &st), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    strlcpy_pw(title, store_column_text(st, 0, NULL), sizeof(title));
    store_finalize(st);
    assert_string_equal(title, "Algebra");
    assert_int_equal(query_int(f->conn, "SELECT max(version) FROM"
                                        " schema_migrations"),
                     1);
    assert_false(store_in_transaction(f->conn));

    /* A failed migration is not recorded, so a corrected text applies. */
    assert_int_equal(store_migrate_list(f->store, fixed, 3, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_true(table_exists(f->conn, "room"));
}

static void test_migrate__checksum_mismatch(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    const struct store_migration edited[] = {
        {1, "0001_exam", "CREATE TABLE exam (id INTEGER PRIMARY KEY,"
                         " title TEXT NOT NULL, pass_mark INTEGER)"},
        base[1],
        {3, "0003_more", "CREATE TABLE more (id INTEGER)"},
    };

    assert_int_equal(store_migrate_list(f->store, base, 1, &res), 0);

    assert_int_equal(store_migrate_list(f->store, edited, 3, &res),
                     ERR_CONFLICT);
    assert_int_equal(res.failed_version, 1);
    assert_string_equal(res.failed_name, "0001_exam");
    assert_non_null(strstr(res.message, "changed after it was applied"));

    /* The check runs before anything is applied. */
    assert_int_equal(res.applied, 0);
    assert_false(table_exists(f->conn, "slot"));
    assert_false(table_exists(f->conn, "more"));

    /* Whitespace counts: the text must be byte for byte the same. */
    const struct store_migration spaced[] = {
        {1, "0001_exam", "CREATE TABLE exam (id INTEGER PRIMARY KEY, "
                         " title TEXT NOT NULL);"
                         "INSERT INTO exam (title) VALUES ('Algebra')"},
    };
    assert_int_equal(store_migrate_list(f->store, spaced, 1, &res),
                     ERR_CONFLICT);
}

static void test_migrate__unknown_and_invalid_lists(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    const struct store_migration unsorted[] = {base[1], base[0]};
    const struct store_migration zero[] = {{0, "0000_zero", "SELECT 1"}};

    assert_int_equal(store_migrate_list(f->store, unsorted, 2, &res),
                     ERR_INVALID);
    assert_int_equal(res.failed_version, 1);
    assert_int_equal(store_migrate_list(f->store, zero, 1, &res),
                     ERR_INVALID);
    assert_false(table_exists(f->conn, "exam"));

    /* A database migrated by a newer binary still opens with an older one. */
    assert_int_equal(store_migrate_list(f->store, base, 2, &res), 0);
    assert_int_equal(store_migrate_list(f->store, base, 1, &res), 0);
    assert_int_equal(res.unknown, 1);
    assert_int_equal(res.skipped, 1);
}

static void test_migrate__embedded_set(void **state)
{
    struct fixture *f = *state;
    struct store_migrate_result res;
    const struct store_migration *list;
    size_t count = 99;

    assert_null(store_migrations("no-such-dialect", &count));
    assert_int_equal(count, 0);

    list = store_migrations("sqlite", &count);
    for (size_t i = 0; i < count; i++) {
        char prefix[8];

        /* The generator enforces NNNN_name and increasing versions. */
        assert_true(list[i].version > 0);
        snprintf(prefix, sizeof(prefix), "%04u_", list[i].version);
        assert_memory_equal(list[i].name, prefix, 5);
        assert_true(strlen(list[i].sql) > 0);
        if (i > 0)
            assert_true(list[i].version > list[i - 1].version);
    }

    assert_int_equal(store_migrate(f->store, &res), 0);
    assert_int_equal(res.applied, (int)count);
    assert_int_equal(query_int(f->conn,
                               "SELECT count(*) FROM schema_migrations"),
                     (int64_t)count);
    assert_int_equal(store_migrate(f->store, &res), 0);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.skipped, (int)count);
}

struct migrator {
    struct store *store;
    const struct store_migration *list;
    size_t count;
    struct store_migrate_result res;
    int rc;
};

static void *run_migrate(void *arg)
{
    struct migrator *m = arg;

    m->rc = store_migrate_list(m->store, m->list, m->count, &m->res);
    return NULL;
}

static void test_migrate__concurrent_runs_apply_once(void **state)
{
    struct fixture *f = *state;
    struct store_migration list[20];
    char names[20][32];
    char sqls[20][64];
    struct migrator runs[2];
    pthread_t threads[2];

    for (unsigned i = 0; i < ARRAY_SIZE(list); i++) {
        snprintf(names[i], sizeof(names[i]), "%04u_t%u", i + 1, i + 1);
        snprintf(sqls[i], sizeof(sqls[i]), "CREATE TABLE t%u (id INTEGER)",
                 i + 1);
        list[i] = (struct store_migration){i + 1, names[i], sqls[i]};
    }

    for (size_t i = 0; i < ARRAY_SIZE(runs); i++) {
        runs[i] = (struct migrator){f->store, list, ARRAY_SIZE(list), {0}, 0};
        assert_int_equal(
            pthread_create(&threads[i], NULL, run_migrate, &runs[i]), 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(runs); i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    assert_int_equal(runs[0].rc, 0);
    assert_int_equal(runs[1].rc, 0);
    assert_int_equal(runs[0].res.applied + runs[1].res.applied,
                     (int)ARRAY_SIZE(list));
    assert_int_equal(runs[0].res.applied + runs[0].res.skipped,
                     (int)ARRAY_SIZE(list));
    assert_int_equal(runs[1].res.applied + runs[1].res.skipped,
                     (int)ARRAY_SIZE(list));
    assert_int_equal(query_int(f->conn,
                               "SELECT count(*) FROM schema_migrations"),
                     (int64_t)ARRAY_SIZE(list));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_migrate__applies_and_records),
        T(test_migrate__rerun_is_noop),
        T(test_migrate__failure_rolls_back),
        T(test_migrate__checksum_mismatch),
        T(test_migrate__unknown_and_invalid_lists),
        T(test_migrate__embedded_set),
        T(test_migrate__concurrent_runs_apply_once),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
