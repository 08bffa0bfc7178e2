/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live hub with detached connections: per-topic sequence numbers,
 * replay after a given seq, gap notices when the ring has moved on, live
 * delivery without gap or duplicate while another thread publishes, and
 * dropping a subscriber whose queue is full.
 */
#include "core/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "http/hub.h"
#include "http/ws.h"
#include "http/ws_int.h"

static const struct ws_callbacks no_callbacks = {0};

static struct ws *new_conn(size_t queue_cap)
{
    return ws__new_detached(&no_callbacks, NULL, NULL, queue_cap, 1 << 20);
}

static void set_ring(const char *n)
{
    char err[256];

    hub_clear();
    assert_int_equal(config_set("PW_WS_RING", n, err, sizeof(err)), 0);
}

static int setup(void **state UNUSED)
{
    set_ring("1024");
    return 0;
}

static int teardown(void **state UNUSED)
{
    hub_clear();
    return 0;
}

/* The next queued message parsed as JSON, or NULL when there is none. */
static json_t *next_msg(struct ws *ws)
{
    size_t len;
    bool binary;
    char *text = ws__pop(ws, &len, &binary);

    if (!text)
        return NULL;
    assert_false(binary);
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        fail_msg("queued message is not JSON: %s", text);
    free(text);
    return j;
}

static int64_t int_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_integer(v))
        fail_msg("field \"%s\" missing or not an integer", name);
    return json_integer_value(v);
}

static const char *str_field(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v))
        fail_msg("field \"%s\" missing or not a string", name);
    return json_string_value(v);
}

/* Pop a published message and check its topic and seq. */
static void expect_msg(struct ws *ws, const char *topic, int64_t seq)
{
    json_t *j = next_msg(ws);
    assert_non_null(j);
    assert_string_equal(str_field(j, "topic"), topic);
    assert_int_equal(int_field(j, "seq"), seq);
    assert_non_null(json_object_get(j, "data"));
    json_decref(j);
}

static void expect_notice(struct ws *ws, const char *type, const char *field,
                          int64_t value)
{
    json_t *j = next_msg(ws);
    assert_non_null(j);
    assert_string_equal(str_field(j, "type"), type);
    assert_int_equal(int_field(j, field), value);
    json_decref(j);
}

static void publish_n(const char *topic, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(hub_publish(topic, "{\"n\": 1}", NULL), 0);
}

static void test_publish__seq_per_topic(void **state UNUSED)
{
    uint64_t seq;

    assert_int_equal(hub_publish("exam/E1", "{\"a\": 1}", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(hub_publish("exam/E1", "[1, 2]", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(hub_publish("exam/E2", "\"text\"", &seq), 0);
    assert_int_equal(seq, 1);
}

static void test_publish__rejects_bad_input(void **state UNUSED)
{
    assert_int_equal(hub_publish("", "{}", NULL), ERR_INVALID);
    assert_int_equal(hub_publish("has space", "{}", NULL), ERR_INVALID);
    assert_int_equal(hub_publish("exam/E1", "{not json", NULL), ERR_INVALID);
    assert_int_equal(hub_publish("exam/E1", "", NULL), ERR_INVALID);
}

static void test_publish__envelope_carries_data(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    assert_int_equal(hub_subscribe(ws, "t", HUB_LIVE), 0);
    expect_notice(ws, "subscribed", "seq", 0);
    assert_int_equal(hub_publish("t", "{\"score\": 42}", NULL), 0);

    json_t *j = next_msg(ws);
    assert_int_equal(int_field(j, "seq"), 1);
    assert_int_equal(int_field(json_object_get(j, "data"), "score"), 42);
    json_decref(j);
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__after_zero_replays_all(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    publish_n("t", 3);
    assert_int_equal(hub_subscribe(ws, "t", 0), 0);
    for (int i = 1; i <= 3; i++)
        expect_msg(ws, "t", i);
    expect_notice(ws, "subscribed", "seq", 3);
    assert_null(next_msg(ws));
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__after_n_replays_rest(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    publish_n("t", 5);
    assert_int_equal(hub_subscribe(ws, "t", 3), 0);
    expect_msg(ws, "t", 4);
    expect_msg(ws, "t", 5);
    expect_notice(ws, "subscribed", "seq", 5);

    publish_n("t", 1);
    expect_msg(ws, "t", 6);
    assert_null(next_msg(ws));
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__live_skips_replay(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    publish_n("t", 4);
    assert_int_equal(hub_subscribe(ws, "t", HUB_LIVE), 0);
    expect_notice(ws, "subscribed", "seq", 4);
    assert_null(next_msg(ws));
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__older_than_ring_gets_gap(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    set_ring("4");
    publish_n("t", 10);
    assert_int_equal(hub_subscribe(ws, "t", 2), 0);
    expect_notice(ws, "gap", "from", 7);
    for (int i = 7; i <= 10; i++)
        expect_msg(ws, "t", i);
    expect_notice(ws, "subscribed", "seq", 10);
    assert_null(next_msg(ws));
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__ring_edge_has_no_gap(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    set_ring("4");
    publish_n("t", 10);
    assert_int_equal(hub_subscribe(ws, "t", 6), 0);
    expect_msg(ws, "t", 7);
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

/* A seq past the topic's last means the server restarted its numbering. */
static void test_subscribe__future_seq_gets_gap(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    publish_n("t", 2);
    assert_int_equal(hub_subscribe(ws, "t", 50), 0);
    expect_notice(ws, "gap", "from", 1);
    expect_msg(ws, "t", 1);
    expect_msg(ws, "t", 2);
    expect_notice(ws, "subscribed", "seq", 2);
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_subscribe__twice_is_exists(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    assert_int_equal(hub_subscribe(ws, "t", HUB_LIVE), 0);
    assert_int_equal(hub_subscribe(ws, "t", HUB_LIVE), ERR_EXISTS);
    assert_int_equal(hub_subscribe(ws, "bad topic", 0), ERR_INVALID);
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

static void test_unsubscribe__stops_delivery(void **state UNUSED)
{
    struct ws *ws = new_conn(1 << 20);

    assert_int_equal(hub_subscribe(ws, "a", HUB_LIVE), 0);
    assert_int_equal(hub_subscribe(ws, "b", HUB_LIVE), 0);
    expect_notice(ws, "subscribed", "seq", 0);
    expect_notice(ws, "subscribed", "seq", 0);

    assert_int_equal(hub_unsubscribe(ws, "a"), 0);
    assert_int_equal(hub_unsubscribe(ws, "a"), ERR_NOT_FOUND);
    publish_n("a", 1);
    publish_n("b", 1);
    expect_msg(ws, "b", 1);
    assert_null(next_msg(ws));

    hub_unsubscribe_all(ws);
    publish_n("b", 1);
    assert_null(next_msg(ws));
    ws_unref(ws);
}

/* A full queue closes the slow client and leaves the others served. */
static void test_publish__slow_subscriber_dropped(void **state UNUSED)
{
    struct ws *slow = new_conn(4096);
    struct ws *fast = new_conn(1 << 20);
    char body[1100];

    snprintf(body, sizeof(body), "\"%01000d\"", 7);
    assert_int_equal(hub_subscribe(slow, "t", HUB_LIVE), 0);
    assert_int_equal(hub_subscribe(fast, "t", HUB_LIVE), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(hub_publish("t", body, NULL), 0);

    assert_int_equal(ws__close_requested(slow), WS_CLOSE_POLICY);
    assert_int_equal(ws__close_requested(fast), 0);
    expect_notice(fast, "subscribed", "seq", 0);
    for (int i = 1; i <= 10; i++)
        expect_msg(fast, "t", i);

    hub_unsubscribe_all(slow);
    hub_unsubscribe_all(fast);
    ws_unref(slow);
    ws_unref(fast);
}

static void test_publish__over_queue_cap_too_big(void **state UNUSED)
{
    char err[256];
    char *big = xmalloc(5000);

    hub_clear();
    assert_int_equal(config_set("PW_WS_SEND_QUEUE", "4096", err, sizeof(err)),
                     0);
    memset(big, 'x', 5000);
    big[0] = '"';
    big[4998] = '"';
    big[4999] = '\0';
    assert_int_equal(hub_publish("t", big, NULL), ERR_TOO_BIG);
    free(big);
    hub_clear();
    config_reset();
}

struct publisher {
    const char *topic;
    int count;
    atomic_int done;     /* messages published so far */
    atomic_int failures; /* publishes that returned an error */
};

static void *publish_thread(void *arg)
{
    struct publisher *p = arg;

    for (int i = 0; i < p->count; i++) {
        if (hub_publish(p->topic, "{\"tick\": true}", NULL) != 0)
            atomic_fetch_add(&p->failures, 1);
        atomic_fetch_add(&p->done, 1);
    }
    return NULL;
}

/*
 * Subscribe while another thread publishes: the replay and the live
 * messages must join into 1..count exactly once each, in order.
 */
static void test_subscribe__race_no_gap_no_dup(void **state UNUSED)
{
    enum { COUNT = 3000 };
    struct publisher p = {"race", COUNT, 0, 0};
    struct ws *ws = new_conn(8 << 20);
    pthread_t t;

    set_ring("4096");
    assert_int_equal(pthread_create(&t, NULL, publish_thread, &p), 0);
    /* Subscribe once the publisher is under way, but not done. */
    while (atomic_load(&p.done) < 50)
        sched_yield();
    assert_int_equal(hub_subscribe(ws, "race", 0), 0);
    int at_subscribe = atomic_load(&p.done);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&p.failures), 0);
    print_message("subscribed after %d of %d messages\n", at_subscribe,
                  COUNT);

    int64_t expected = 1;
    json_t *j;
    while ((j = next_msg(ws))) {
        if (json_object_get(j, "type")) {
            assert_string_equal(str_field(j, "type"), "subscribed");
            assert_int_equal(int_field(j, "seq"), expected - 1);
        } else {
            assert_int_equal(int_field(j, "seq"), expected);
            expected++;
        }
        json_decref(j);
    }
    assert_int_equal(expected - 1, COUNT);
    hub_unsubscribe_all(ws);
    ws_unref(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish__seq_per_topic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish__rejects_bad_input,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish__envelope_carries_data,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe__after_zero_replays_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__after_n_replays_rest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__live_skips_replay,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe__older_than_ring_gets_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__ring_edge_has_no_gap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__future_seq_gets_gap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__twice_is_exists,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe__stops_delivery,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish__slow_subscriber_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish__over_queue_cap_too_big,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe__race_no_gap_no_dup,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
