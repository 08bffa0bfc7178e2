/* SPDX-License-Identifier: Apache-2.0 */
/* Capped buffers refuse to grow past their cap and stay unchanged. */
#include "core/base.h"
#include "core/buf.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_buf__append_up_to_cap(void **state)
{
    struct buf b = BUF_INIT(10);

    (void)state;
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    assert_int_equal(buf_printf(&b, "%d", 12345), 0);
    assert_string_equal(b.data, "hello12345");
    assert_int_equal(buf_append(&b, "!", 1), ERR_TOO_BIG);
    assert_int_equal(buf_printf(&b, "x"), ERR_TOO_BIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "hello12345");
    buf_release(&b);
}

static void test_buf__detach_and_reset(void **state)
{
    struct buf b = BUF_INIT(1024);
    size_t len;
    char *s;

    (void)state;
    s = buf_detach(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);

    assert_int_equal(buf_append(&b, "abc", 3), 0);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append(&b, "de", 2), 0);
    s = buf_detach(&b, &len);
    assert_string_equal(s, "de");
    assert_null(b.data);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__append_up_to_cap),
        cmocka_unit_test(test_buf__detach_and_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
