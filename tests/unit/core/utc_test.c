/* SPDX-License-Identifier: Apache-2.0 */
/* UTC formatting and RFC 3339 parsing, independent of the host TZ. */
#include "core/base.h"
#include "core/utc.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_utc__format_epoch_and_millis(void **state)
{
    char buf[UTC_ISO_SIZE];

    (void)state;
    assert_string_equal(utc_format(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(utc_format(951782400123, buf),
                        "2000-02-29T00:00:00.123Z");
    assert_string_equal(utc_format(-1, buf), "1969-12-31T23:59:59.999Z");
}

static void test_utc__parse_honours_offsets(void **state)
{
    int64_t a, b, c;

    (void)state;
    assert_int_equal(utc_parse("2026-12-04T10:00:00Z", &a), 0);
    assert_int_equal(utc_parse("2026-12-04T11:30:00+01:30", &b), 0);
    assert_int_equal(utc_parse("2026-12-04T05:00:00-05:00", &c), 0);
    assert_int_equal(a, b);
    assert_int_equal(a, c);
}

static void test_utc__parse_fraction_and_date(void **state)
{
    int64_t t;
    char buf[UTC_ISO_SIZE];

    (void)state;
    assert_int_equal(utc_parse("2024-02-29T23:59:59.5Z", &t), 0);
    assert_string_equal(utc_format(t, buf), "2024-02-29T23:59:59.500Z");
    assert_int_equal(utc_parse("2024-02-29t23:59:59.123456z", &t), 0);
    assert_string_equal(utc_format(t, buf), "2024-02-29T23:59:59.123Z");
    assert_int_equal(utc_parse("2024-03-01", &t), 0);
    assert_string_equal(utc_format(t, buf), "2024-03-01T00:00:00.000Z");
}

static void test_utc__parse_rejects_invalid(void **state)
{
    static const char *const bad[] = {
        "", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00Z",
        "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00Zjunk",
        "2024-1-01T00:00:00Z", "2024-01-01T00:00:00.Z", "abcd-01-01",
    };
    int64_t t;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (utc_parse(bad[i], &t) != ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void test_utc__civil_round_trip(void **state)
{
    (void)state;
    for (int64_t days = -800000; days < 800000; days += 97) {
        int64_t year;
        int month, day;

        utc_civil_from_days(days, &year, &month, &day);
        assert_int_equal(utc_days_from_civil(year, month, day), days);
    }
}

static void test_utc__ignores_host_tz(void **state)
{
    int64_t t;

    (void)state;
    setenv("TZ", "America/New_York", 1);
    assert_int_equal(utc_parse("1970-01-01T00:00:01Z", &t), 0);
    assert_int_equal(t, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc__format_epoch_and_millis),
        cmocka_unit_test(test_utc__parse_honours_offsets),
        cmocka_unit_test(test_utc__parse_fraction_and_date),
        cmocka_unit_test(test_utc__parse_rejects_invalid),
        cmocka_unit_test(test_utc__civil_round_trip),
        cmocka_unit_test(test_utc__ignores_host_tz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
