/* SPDX-License-Identifier: Apache-2.0 */
/* Local blob store: round trips, replacement, key safety, limits. */
#include "core/base.h"
#include "blob/blob.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static char root[64];

static int setup(void **state)
{
    (void)state;
    strlcpy_pw(root, "/tmp/pw_blob_test_XXXXXX", sizeof(root));
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", root);
    int ret;

    (void)state;
    ret = system(cmd);
    free(cmd);
    return ret;
}

static void test_blob__put_get_replace_delete(void **state)
{
    struct blob_store *bs;
    void *data;
    size_t len;

    (void)state;
    assert_int_equal(blob_store_open(root, &bs), 0);
    assert_int_equal(blob_put(bs, "evidence/a/b.jpg", "\xff\xd8xyz", 5), 0);
    assert_int_equal(blob_get(bs, "evidence/a/b.jpg", 1024, &data, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "\xff\xd8xyz", 5);
    free(data);

    assert_int_equal(blob_put(bs, "evidence/a/b.jpg", "new", 3), 0);
    assert_int_equal(blob_get(bs, "evidence/a/b.jpg", 1024, &data, &len), 0);
    assert_int_equal(len, 3);
    free(data);

    assert_int_equal(blob_get(bs, "evidence/a/b.jpg", 2, &data, &len),
                     ERR_TOO_BIG);
    assert_int_equal(blob_delete(bs, "evidence/a/b.jpg"), 0);
    assert_int_equal(blob_delete(bs, "evidence/a/b.jpg"), 0);
    assert_int_equal(blob_get(bs, "evidence/a/b.jpg", 1024, &data, &len),
                     ERR_NOT_FOUND);
    blob_store_free(bs);
}

static void test_blob__rejects_unsafe_keys(void **state)
{
    static const char *const bad[] = {
        "", "/etc/passwd", "../x", "a/../b", "a//b", "a/", ".hidden",
        "a/.b", "a b", "a\\b", "é",
    };
    struct blob_store *bs;

    (void)state;
    assert_int_equal(blob_store_open(root, &bs), 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (blob_key_is_valid(bad[i]))
            fail_msg("accepted key \"%s\"", bad[i]);
        assert_int_equal(blob_put(bs, bad[i], "x", 1), ERR_INVALID);
    }
    assert_true(blob_key_is_valid("evidence/2026/12/04/01J.jpg"));
    blob_store_free(bs);
}

static void test_blob__other_schemes_unsupported(void **state)
{
    struct blob_store *bs;

    (void)state;
    assert_int_equal(blob_store_open("webhdfs://namenode:9870/pw", &bs),
                     ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob__put_get_replace_delete),
        cmocka_unit_test(test_blob__rejects_unsafe_keys),
        cmocka_unit_test(test_blob__other_schemes_unsupported),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
