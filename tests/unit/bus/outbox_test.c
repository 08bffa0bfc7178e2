/* SPDX-License-Identifier: Apache-2.0 */
/* The outbox commits and rolls back with the caller's transaction. */
#include "core/base.h"
#include "bus/outbox.h"

#include "core/err.h"
#include "store/migrate.h"
#include "store/store.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static char dir[64];
static struct store *db;
static struct store_conn *conn;

static int setup(void **state)
{
    char *url;
    int ret;

    (void)state;
    strlcpy_pw(dir, "/tmp/pw_outbox_test_XXXXXX", sizeof(dir));
    if (!mkdtemp(dir))
        return -1;
    url = xasprintf("sqlite:%s/db.sqlite", dir);
    ret = store_open(&db, url, NULL, NULL, 0);
    free(url);
    if (ret || store_migrate(db, NULL) || store_conn_get(db, &conn))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int ret;

    (void)state;
    store_free(db);
    ret = system(cmd);
    free(cmd);
    return ret;
}

static void test_outbox__needs_a_transaction(void **state)
{
    json_t *payload = json_pack("{s:s}", "k", "v");

    (void)state;
    assert_int_equal(outbox_add(conn, "t", "k", payload, NULL),
                     ERR_CONFLICT);
    json_decref(payload);
}

static void test_outbox__commit_and_rollback(void **state)
{
    json_t *payload = json_pack("{s:i}", "n", 1);
    struct outbox_event *events;
    char id[ID_SIZE];
    int n;

    (void)state;
    assert_int_equal(store_begin(conn), 0);
    assert_int_equal(outbox_add(conn, "anomaly.detected", "S1", payload, id),
                     0);
    assert_int_equal(store_commit(conn), 0);

    assert_int_equal(store_begin(conn), 0);
    assert_int_equal(outbox_add(conn, "anomaly.detected", "S2", payload,
                                NULL),
                     0);
    assert_int_equal(store_rollback(conn), 0);

    n = outbox_pending(conn, 0, 10, &events);
    assert_int_equal(n, 1);
    assert_string_equal(events[0].event_id, id);
    assert_string_equal(events[0].topic, "anomaly.detected");
    assert_string_equal(events[0].key, "S1");
    assert_string_equal(events[0].payload, "{\"n\":1}");

    assert_int_equal(outbox_mark_published(conn, events[0].seq), 0);
    outbox_events_free(events, n);
    assert_int_equal(outbox_pending(conn, 0, 10, &events), 0);
    outbox_events_free(events, 0);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox__needs_a_transaction),
        cmocka_unit_test(test_outbox__commit_and_rollback),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
