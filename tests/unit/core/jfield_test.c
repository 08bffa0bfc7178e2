/* SPDX-License-Identifier: Apache-2.0 */
/* JSON body parsing and field checks that name the offending field. */
#include "core/base.h"
#include "core/jfield.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>

static json_t *parse(const char *text)
{
    struct jfield_error e;
    json_t *obj = NULL;

    assert_int_equal(jfield_parse(text, strlen(text), &obj, &e), 0);
    return obj;
}

static void test_jfield__parse_errors(void **state)
{
    struct jfield_error e;
    json_t *obj = NULL;

    (void)state;
    assert_int_equal(jfield_parse("", 0, &obj, &e), ERR_INVALID);
    assert_int_equal(jfield_parse("{\"a\":", 5, &obj, &e), ERR_INVALID);
    assert_non_null(strstr(e.reason, "invalid JSON"));
    assert_int_equal(jfield_parse("[1]", 3, &obj, &e), ERR_INVALID);
    assert_non_null(strstr(e.reason, "object"));
    assert_int_equal(jfield_parse("{\"a\":1,\"a\":2}", 13, &obj, &e),
                     ERR_INVALID);
    assert_int_equal(jfield_parse("{\"a\":\"\\u0000\"}", 14, &obj, &e),
                     ERR_INVALID);
    assert_null(obj);
}

static void test_jfield__string_rules(void **state)
{
    json_t *obj = parse("{\"name\":\"Zoé\",\"n\":3}");
    struct jfield_error e;
    const char *s = NULL;

    (void)state;
    assert_int_equal(jfield_str(obj, "name", JFIELD_REQUIRED, 3, 3, &s, &e),
                     0);
    assert_string_equal(s, "Zoé");
    assert_int_equal(jfield_str(obj, "name", 0, 4, 10, &s, &e), ERR_INVALID);
    assert_string_equal(e.field, "name");
    assert_int_equal(jfield_str(obj, "n", 0, 0, 10, &s, &e), ERR_INVALID);
    assert_string_equal(e.reason, "n must be a string");
    assert_int_equal(jfield_str(obj, "missing", JFIELD_REQUIRED, 0, 10, &s,
                                &e),
                     ERR_INVALID);
    assert_string_equal(e.reason, "missing is required");
    s = "kept";
    assert_int_equal(jfield_str(obj, "missing", 0, 0, 10, &s, &e), 0);
    assert_string_equal(s, "kept");
    json_decref(obj);
}

static void test_jfield__numbers_and_enums(void **state)
{
    json_t *obj = parse("{\"i\":7,\"d\":2.5,\"b\":true,\"r\":\"proctor\"}");
    static const char *const roles[] = {"student", "proctor", "admin", NULL};
    static const char *const allowed[] = {"i", "d", "b", NULL};
    struct jfield_error e;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    int r = -1;

    (void)state;
    assert_int_equal(jfield_int(obj, "i", 0, 0, 10, &i, &e), 0);
    assert_int_equal(i, 7);
    assert_int_equal(jfield_int(obj, "i", 0, 8, 10, &i, &e), ERR_INVALID);
    assert_int_equal(jfield_int(obj, "d", 0, 0, 10, &i, &e), ERR_INVALID);
    assert_int_equal(jfield_double(obj, "d", 0, 0, 10, &d, &e), 0);
    assert_true(d == 2.5);
    assert_int_equal(jfield_bool(obj, "b", 0, &b, &e), 0);
    assert_true(b);
    assert_int_equal(jfield_enum(obj, "r", 0, roles, &r, &e), 0);
    assert_int_equal(r, 1);
    assert_int_equal(jfield_only(obj, allowed, &e), ERR_INVALID);
    assert_string_equal(e.field, "r");
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jfield__parse_errors),
        cmocka_unit_test(test_jfield__string_rules),
        cmocka_unit_test(test_jfield__numbers_and_enums),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
