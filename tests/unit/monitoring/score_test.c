/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suspicion score: the curve per type, the cap at 100, open anomalies
 * counted up to now, and the parsing of the weights setting.
 */
#include "core/base.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "services/monitoring/score.h"

static struct mon_anomaly anomaly(enum mon_anomaly_type type,
                                  int64_t started, int64_t ended)
{
    struct mon_anomaly a;

    memset(&a, 0, sizeof(a));
    a.type = type;
    a.started_ms = started;
    a.ended_ms = ended;
    return a;
}

static void test_score__empty_is_zero(void **state)
{
    struct score_config cfg;
    struct score_input in;
    struct score_result res;

    (void)state;
    score_config_default(&cfg);
    memset(&in, 0, sizeof(in));
    score_compute(&cfg, &in, &res);
    assert_float_equal(res.score, 0, 0);
    assert_float_equal(res.parts[MON_ANOMALY_MULTIPLE_FACES].weight, 30, 0);
}

static void test_score__curve_per_type(void **state)
{
    struct score_config cfg;
    struct score_input in;
    struct score_result res;
    struct mon_anomaly a = anomaly(MON_ANOMALY_TAB_CHANGE, 0, 30000);

    (void)state;
    score_config_default(&cfg);
    memset(&in, 0, sizeof(in));

    /* One episode of 30 s: 1.5 units of the 10-point weight. */
    score_input_add(&in, &a, 0);
    score_compute(&cfg, &in, &res);
    assert_float_equal(res.parts[MON_ANOMALY_TAB_CHANGE].units, 1.5, 1e-6);
    assert_float_equal(res.parts[MON_ANOMALY_TAB_CHANGE].points,
                       (10 * (1 - 1 / sqrt(8))), 1e-6);
    assert_float_equal(res.score, res.parts[MON_ANOMALY_TAB_CHANGE].points,
                       1e-6);

    /* A type never adds more than its weight. */
    in.count[MON_ANOMALY_TAB_CHANGE] = 1000;
    score_compute(&cfg, &in, &res);
    assert_true(res.parts[MON_ANOMALY_TAB_CHANGE].points <= 10.0);
    assert_true(res.parts[MON_ANOMALY_TAB_CHANGE].points > 9.999);
}

static void test_score__open_counts_to_now(void **state)
{
    struct score_input in;
    struct mon_anomaly a = anomaly(MON_ANOMALY_FACE_ABSENT, 1000, 0);

    (void)state;
    memset(&in, 0, sizeof(in));
    score_input_add(&in, &a, 61000);
    assert_int_equal(in.count[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(in.duration_ms[MON_ANOMALY_FACE_ABSENT], 60000);
}

static void test_score__capped_at_100(void **state)
{
    struct score_config cfg;
    struct score_input in;
    struct score_result res;
    double sum = 0;

    (void)state;
    score_config_default(&cfg);
    memset(&in, 0, sizeof(in));
    for (int i = 0; i < MON_ANOMALY_TYPE_COUNT; i++)
        in.count[i] = 20;
    score_compute(&cfg, &in, &res);
    for (int i = 0; i < MON_ANOMALY_TYPE_COUNT; i++)
        sum += res.parts[i].points;
    assert_true(sum > 100);
    assert_float_equal(res.score, 100, 0);
}

static void test_score__ranks_sessions(void **state)
{
    struct score_config cfg;
    struct score_input calm, busy;
    struct score_result r_calm, r_busy;

    (void)state;
    score_config_default(&cfg);
    memset(&calm, 0, sizeof(calm));
    memset(&busy, 0, sizeof(busy));
    calm.count[MON_ANOMALY_POOR_LIGHTING] = 2;
    busy.count[MON_ANOMALY_MULTIPLE_FACES] = 1;
    busy.count[MON_ANOMALY_FORBIDDEN_OBJECT] = 1;
    score_compute(&cfg, &calm, &r_calm);
    score_compute(&cfg, &busy, &r_busy);
    assert_float_equal(r_calm.score, (3 * 0.75), 1e-6);
    assert_float_equal(r_busy.score, (15 + 12.5), 1e-6);
}

static void test_score__parse_weights(void **state)
{
    struct score_config cfg;
    char err[256] = "";

    (void)state;
    score_config_default(&cfg);
    assert_int_equal(score_parse_weights(&cfg, "tab_change=2.5,clipboard=0",
                                         err, sizeof(err)), 0);
    assert_float_equal(cfg.weights[MON_ANOMALY_TAB_CHANGE], 2.5, 0);
    assert_float_equal(cfg.weights[MON_ANOMALY_CLIPBOARD], 0, 0);
    assert_float_equal(cfg.weights[MON_ANOMALY_FACE_ABSENT], 20, 0);

    assert_int_equal(score_parse_weights(&cfg, "tab=3", err, sizeof(err)),
                     ERR_INVALID);
    assert_non_null(strstr(err, "\"tab\""));
    assert_int_equal(score_parse_weights(&cfg, "tab_change=101", err,
                                         sizeof(err)), ERR_INVALID);
    assert_int_equal(score_parse_weights(&cfg, "tab_change=", err,
                                         sizeof(err)), ERR_INVALID);
    assert_int_equal(score_parse_weights(&cfg, "tab_change", err,
                                         sizeof(err)), ERR_INVALID);
    assert_int_equal(score_parse_weights(&cfg, "tab_change=5x", err,
                                         sizeof(err)), ERR_INVALID);
}

static void test_score__config_from_env(void **state)
{
    struct score_config def, cfg;
    char err[256] = "";

    (void)state;
    config_reset();
    score_config_default(&def);
    assert_int_equal(score_config_from_env(&cfg, err, sizeof(err)), 0);
    assert_memory_equal(&def, &cfg, sizeof(cfg));

    assert_int_equal(config_set("PW_MONITOR_SCORE_UNIT", "30", err,
                                sizeof(err)), 0);
    assert_int_equal(config_set("PW_MONITOR_SCORE_WEIGHTS", "bogus=1", err,
                                sizeof(err)), 0);
    assert_int_equal(score_config_from_env(&cfg, err, sizeof(err)),
                     ERR_INVALID);
    assert_int_equal(cfg.unit_ms, 30000);
    config_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score__empty_is_zero),
        cmocka_unit_test(test_score__curve_per_type),
        cmocka_unit_test(test_score__open_counts_to_now),
        cmocka_unit_test(test_score__capped_at_100),
        cmocka_unit_test(test_score__ranks_sessions),
        cmocka_unit_test(test_score__parse_weights),
        cmocka_unit_test(test_score__config_from_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
