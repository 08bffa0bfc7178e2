/* SPDX-License-Identifier: Apache-2.0 */
/* Sortable ids: well formed, unique and in creation order. */
#include "core/base.h"
#include "core/id.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_id__sorted_and_unique(void **state)
{
    char prev[ID_SIZE], cur[ID_SIZE];

    (void)state;
    id_new(prev);
    assert_true(id_is_valid(prev));
    for (int i = 0; i < 10000; i++) {
        id_new(cur);
        assert_true(id_is_valid(cur));
        if (strcmp(prev, cur) >= 0)
            fail_msg("id %s not after %s", cur, prev);
        memcpy(prev, cur, sizeof(cur));
    }
}

static void test_id__validation(void **state)
{
    (void)state;
    assert_false(id_is_valid(""));
    assert_false(id_is_valid("01ARZ3NDEKTSV4RRFFQ69G5FA"));
    assert_false(id_is_valid("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));
    assert_false(id_is_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
    assert_false(id_is_valid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));
    assert_true(id_is_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id__sorted_and_unique),
        cmocka_unit_test(test_id__validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
