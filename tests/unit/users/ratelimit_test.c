/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The window counters behind the login limits: the limit, the window, the
 * Retry-After value, independence of keys, forgetting, and eviction of
 * the least recently seen key when the table is full.
 */
#include "core/base.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "services/users/ratelimit.h"

#define WINDOW_MS 60000

static void test_ratelimit__allows_limit_then_rejects(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 3, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "k", 1000, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "k", 1000, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(retry, 60);
    ratelimit_free(rl);
}

static void test_ratelimit__retry_after_counts_down(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 1, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    ratelimit_hit(rl, "k", 1000);
    assert_int_equal(ratelimit_check(rl, "k", 31000, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(retry, 30);

    /* 1 ms before the end still answers 1 second, never 0. */
    assert_int_equal(ratelimit_check(rl, "k", 60999, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(retry, 1);
    ratelimit_free(rl);
}

static void test_ratelimit__window_end_resets(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 2, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    ratelimit_hit(rl, "k", 0);
    ratelimit_hit(rl, "k", 10);
    assert_int_equal(ratelimit_check(rl, "k", 59999, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(ratelimit_check(rl, "k", 60000, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "k", 60000, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "k", 60001, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "k", 60002, &retry),
                     ERR_RATE_LIMITED);
    ratelimit_free(rl);
}

static void test_ratelimit__check_does_not_count(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 1, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(ratelimit_check(rl, "k", 0, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "k", 0, &retry), 0);
    assert_int_equal(ratelimit_check(rl, "k", 0, &retry), ERR_RATE_LIMITED);
    ratelimit_free(rl);
}

static void test_ratelimit__keys_are_independent(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 1, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    assert_int_equal(ratelimit_take(rl, "alice@example.org", 0, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "alice@example.org", 0, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(ratelimit_take(rl, "bob@example.org", 0, &retry), 0);
    ratelimit_free(rl);
}

static void test_ratelimit__forget_clears_key(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 1, WINDOW_MS);
    int64_t retry = 0;

    (void)state;
    ratelimit_hit(rl, "k", 0);
    assert_int_equal(ratelimit_check(rl, "k", 0, &retry), ERR_RATE_LIMITED);
    ratelimit_forget(rl, "k");
    assert_int_equal(ratelimit_check(rl, "k", 0, &retry), 0);
    ratelimit_forget(rl, "never-seen");
    ratelimit_free(rl);
}

static void test_ratelimit__full_table_evicts_oldest(void **state)
{
    /* Capacity 8 is one set, so every key competes for the same ways. */
    struct ratelimit *rl = ratelimit_new(8, 1, WINDOW_MS);
    int64_t retry = 0;
    char key[16];

    (void)state;
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        ratelimit_hit(rl, key, i);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(ratelimit_check(rl, key, 100, &retry),
                         ERR_RATE_LIMITED);
    }

    /* A ninth key takes the place of key0, seen least recently. */
    ratelimit_hit(rl, "key8", 200);
    assert_int_equal(ratelimit_check(rl, "key0", 300, &retry), 0);
    for (int i = 1; i < 9; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(ratelimit_check(rl, key, 300, &retry),
                         ERR_RATE_LIMITED);
    }
    ratelimit_free(rl);
}

static void test_ratelimit__memory_stays_bounded(void **state)
{
    struct ratelimit *rl = ratelimit_new(64, 1, WINDOW_MS);
    int64_t retry = 0;
    char key[32];
    int limited = 0;

    (void)state;

    /*
     * 10000 keys through a 64-entry table: it keeps at most 64 of them,
     * and the last one added is among those kept.
     */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "client-%d", i);
        ratelimit_hit(rl, key, i);
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "client-%d", i);
        if (ratelimit_check(rl, key, 10000, &retry) == ERR_RATE_LIMITED)
            limited++;
    }
    assert_in_range(limited, 1, 64);
    assert_int_equal(ratelimit_check(rl, "client-9999", 10000, &retry),
                     ERR_RATE_LIMITED);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__allows_limit_then_rejects),
        cmocka_unit_test(test_ratelimit__retry_after_counts_down),
        cmocka_unit_test(test_ratelimit__window_end_resets),
        cmocka_unit_test(test_ratelimit__check_does_not_count),
        cmocka_unit_test(test_ratelimit__keys_are_independent),
        cmocka_unit_test(test_ratelimit__forget_clears_key),
        cmocka_unit_test(test_ratelimit__full_table_evicts_oldest),
        cmocka_unit_test(test_ratelimit__memory_stays_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
