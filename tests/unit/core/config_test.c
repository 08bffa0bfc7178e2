/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration sources, priorities and validation. */
#include "core/base.h"
#include "core/config.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static char env_path[64];

static void write_env(const char *text)
{
    FILE *f;

    snprintf(env_path, sizeof(env_path), "/tmp/pw_config_test_%d.env",
             (int)getpid());
    f = fopen(env_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("PW_LISTEN");
    unsetenv("PW_JWT_TTL");
    if (env_path[0])
        unlink(env_path);
    return 0;
}

static void test_config__defaults(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(config_load(NULL, err, sizeof(err)), 0);
    assert_string_equal(config_str("PW_LISTEN"), "127.0.0.1:8000");
    assert_int_equal(config_int("PW_JWT_TTL"), 3600);
}

static void test_config__env_file_then_environment(void **state)
{
    char err[256];

    (void)state;
    write_env("# comment\nexport PW_LISTEN=\"0.0.0.0:9000\"\n"
              "PW_JWT_TTL = 120\n\n");
    assert_int_equal(config_load(env_path, err, sizeof(err)), 0);
    assert_string_equal(config_str("PW_LISTEN"), "0.0.0.0:9000");
    assert_int_equal(config_int("PW_JWT_TTL"), 120);

    setenv("PW_JWT_TTL", "60", 1);
    assert_int_equal(config_load(env_path, err, sizeof(err)), 0);
    assert_int_equal(config_int("PW_JWT_TTL"), 60);

    assert_int_equal(config_set("PW_JWT_TTL", "30", err, sizeof(err)), 0);
    assert_int_equal(config_int("PW_JWT_TTL"), 30);
}

static void test_config__rejects_bad_values(void **state)
{
    char err[256];

    (void)state;
    setenv("PW_JWT_TTL", "soon", 1);
    assert_int_equal(config_load(NULL, err, sizeof(err)), ERR_INVALID);
    assert_non_null(strstr(err, "PW_JWT_TTL"));

    setenv("PW_JWT_TTL", "1", 1);
    assert_int_equal(config_load(NULL, err, sizeof(err)), ERR_INVALID);
    assert_non_null(strstr(err, "between"));
    unsetenv("PW_JWT_TTL");

    write_env("PW_LISTN=1\n");
    assert_int_equal(config_load(env_path, err, sizeof(err)), ERR_INVALID);
    assert_non_null(strstr(err, "unknown variable PW_LISTN"));

    write_env("no equals sign\n");
    assert_int_equal(config_load(env_path, err, sizeof(err)), ERR_INVALID);
    assert_non_null(strstr(err, ":1:"));

    assert_int_equal(config_set("PW_NOPE", "1", err, sizeof(err)),
                     ERR_NOT_FOUND);
}

static void test_config__print_masks_secrets(void **state)
{
    char err[256], out[16384];
    FILE *f;
    size_t n;

    (void)state;
    setenv("PW_JWT_SECRET", "a-very-secret-signing-key-of-32-bytes!", 1);
    assert_int_equal(config_load(NULL, err, sizeof(err)), 0);
    unsetenv("PW_JWT_SECRET");

    f = fmemopen(out, sizeof(out), "w");
    assert_non_null(f);
    config_print(f);
    n = (size_t)ftell(f);
    fclose(f);
    out[MIN(n, sizeof(out) - 1)] = '\0';
    assert_null(strstr(out, "a-very-secret"));
    assert_non_null(strstr(out, "PW_JWT_SECRET=********  # environment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_config__defaults, teardown),
        cmocka_unit_test_teardown(test_config__env_file_then_environment,
                                  teardown),
        cmocka_unit_test_teardown(test_config__rejects_bad_values, teardown),
        cmocka_unit_test_teardown(test_config__print_masks_secrets,
                                  teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
