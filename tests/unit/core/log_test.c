/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines: level filter, JSON format with ids, tracing, rate limits. */
#include "core/base.h"
#include "core/log.h"

#include <jansson.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

/* Run fn with stderr sent to a temporary file; return what it wrote. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/pw_log_test_XXXXXX";
    int fd = mkstemp(path), saved;
    char *text = xcalloc(1, 65536);
    FILE *f;

    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);

    f = fopen(path, "r");
    assert_non_null(f);
    text[fread(text, 1, 65535, f)] = '\0';
    fclose(f);
    unlink(path);
    return text;
}

static void write_json_lines(void)
{
    struct log_ctx ctx = {"http", "01ARZ3NDEKTSV4RRFFQ69G5FAV"};
    static const char *const fields[] = {"route", "/users/me", "status",
                                         "200", NULL};

    log_setup(LOG_INFO, LOG_FORMAT_JSON);
    log_debug(&ctx, "hidden %d", 1);
    log_error(&ctx, "cannot open \"%s\": %s", "x\"y", "denied");
    log_fields(&ctx, LOG_INFO, "request", fields);
}

static void test_log__json_lines_carry_ids(void **state)
{
    char *text = capture(write_json_lines);
    char *second = strchr(text, '\n');
    json_t *first, *next;

    (void)state;
    assert_non_null(second);
    *second++ = '\0';

    first = json_loads(text, 0, NULL);
    assert_non_null(first);
    assert_string_equal(json_string_value(json_object_get(first, "level")),
                        "error");
    assert_string_equal(
        json_string_value(json_object_get(first, "request_id")),
        "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_string_equal(json_string_value(json_object_get(first, "msg")),
                        "cannot open \"x\"y\": denied");
    assert_non_null(json_object_get(first, "file"));

    next = json_loads(second, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(next);
    assert_string_equal(json_string_value(json_object_get(next, "route")),
                        "/users/me");
    assert_string_equal(json_string_value(json_object_get(next, "status")),
                        "200");
    assert_null(strstr(second, "hidden"));

    json_decref(first);
    json_decref(next);
    free(text);
}

static void write_traced(void)
{
    struct log_ctx ws = LOG_CTX_INIT("ws"), bus = LOG_CTX_INIT("bus");

    log_setup(LOG_WARN, LOG_FORMAT_TEXT);
    log_trace_setup("all,-bus");
    log_debug(&ws, "ws detail");
    log_debug(&bus, "bus detail");
    log_info(&ws, "info is below warn");
    log_trace_setup("");
}

static void test_log__trace_selects_components(void **state)
{
    char *text = capture(write_traced);

    (void)state;
    assert_non_null(strstr(text, "ws detail"));
    assert_null(strstr(text, "bus detail"));
    assert_null(strstr(text, "info is below warn"));
    free(text);
}

static void test_log__ratelimit_burst_then_drops(void **state)
{
    struct log_ratelimit rl = {0};
    int suppressed = -1, allowed = 0;

    (void)state;
    for (int i = 0; i < 10; i++)
        allowed += log_ratelimit_allow(&rl, 3, 60000, &suppressed);
    assert_int_equal(allowed, 3);
    assert_int_equal(rl.suppressed, 7);
    assert_int_equal(suppressed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__json_lines_carry_ids),
        cmocka_unit_test(test_log__trace_selects_components),
        cmocka_unit_test(test_log__ratelimit_burst_then_drops),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
