/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request pipeline without sockets: routing, percent-decoding, 404 and
 * 405, the error model, body limits, media types and the bearer-token
 * check, driven through http_int.h as http.c drives it.
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"
#include "core/id.h"
#include "core/log.h"

#include <setjmp.h>
#include <cmocka.h>

/* Handlers */

static int echo_param(struct http_request *req, void *ctx)
{
    const char *q = http_req_query(req, "q");

    (void)ctx;
    return http_respond_json(
        req, 200,
        json_pack("{s:s?, s:s?, s:s}", "id", http_req_param(req, "item_id"),
                  "q", q, "route", "param"));
}

static int literal(struct http_request *req, void *ctx)
{
    (void)ctx;
    return http_respond_json(req, 200, json_pack("{s:s}", "route", "special"));
}

static int fail_with(struct http_request *req, void *ctx)
{
    (void)ctx;
    return (int)strtol(http_req_param(req, "code"), NULL, 10);
}

static int no_response(struct http_request *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return 0;
}

static int create(struct http_request *req, void *ctx)
{
    struct jfield_error e;
    const char *name = NULL;

    (void)ctx;
    if (jfield_str(http_req_json(req), "name", JFIELD_REQUIRED, 1, 10, &name,
                   &e))
        return http_respond_invalid(req, &e);
    return http_respond_json(req, 201, json_pack("{s:s}", "name", name));
}

static int whoami(struct http_request *req, void *ctx)
{
    const struct auth_claims *c = http_req_auth(req);

    (void)ctx;
    return http_respond_json(req, 200, json_pack("{s:s}", "sub", c->sub));
}

static int upgrade_fn_called;

static void on_upgrade(void *cls, int fd, const char *extra, size_t len,
                       void *handle)
{
    (void)cls;
    (void)fd;
    (void)extra;
    (void)len;
    (void)handle;
    upgrade_fn_called++;
}

static int ws(struct http_request *req, void *ctx)
{
    (void)ctx;
    return http_respond_upgrade(req, on_upgrade, NULL);
}

static const char *const images[] = {"image/*", NULL};

static const struct http_route routes[] = {
    {"GET", "/items/{item_id}", echo_param, 0, 0, 0, NULL},
    {"DELETE", "/items/{item_id}", echo_param, 0, 0, 0, NULL},
    {"GET", "/items/special", literal, 0, 0, 0, NULL},
    {"GET", "/fail/{code}", fail_with, 0, 0, 0, NULL},
    {"GET", "/silent", no_response, 0, 0, 0, NULL},
    {"POST", "/items", create, 0, 0, 64, NULL},
    {"POST", "/photos", echo_param, 0, HTTP_RAW_BODY, 0, images},
    {"GET", "/me", whoami, AUTH_ROLE_ANY, 0, 0, NULL},
    {"GET", "/admin", whoami, AUTH_ROLE_ADMIN, 0, 0, NULL},
    {"GET", "/live", ws, AUTH_ROLE_ANY, HTTP_WEBSOCKET, 0, NULL},
};

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";

struct fixture {
    struct http_server *s;
    struct auth *auth;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct http_options opts = {
        .threads = 1,
        .max_connections = 4,
        .timeout_s = 5,
        .max_body = 1024,
        .cors_origins = "https://app.example",
    };

    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    f->auth = auth_new(secret, sizeof(secret), 60, 0);
    opts.auth = f->auth;
    f->s = http_server_new(&opts);
    assert_int_equal(http_server_add_routes(f->s, routes, ARRAY_SIZE(routes),
                                            NULL),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    http_server_free(f->s);
    auth_free(f->auth);
    free(f);
    return 0;
}

/*
 * Run one request through the pipeline as http.c does; headers is a
 * NULL-terminated name, value list.  The caller frees the request.
 */
static struct http_request *run(struct fixture *f, const char *method,
                                const char *url, const char *const *headers,
                                const char *body)
{
    struct http_request *req = http__req_new(f->s, url);

    req->fake_headers = headers;
    if (http__req_begin(req, method))
        return req;
    if (body && !http__req_body(req, body, strlen(body)))
        return req;
    http__req_finish(req);
    return req;
}

static json_t *resp_json(const struct http_request *req)
{
    json_t *j = json_loadb(req->resp.body, req->resp.len, 0, NULL);

    assert_non_null(j);
    return j;
}

static const char *resp_header(const struct http_request *req,
                               const char *name)
{
    for (size_t i = 0; i < req->resp.n_headers; i++) {
        if (!strcasecmp(req->resp.headers[i].name, name))
            return req->resp.headers[i].value;
    }
    return NULL;
}

/* Check an error response's status, code and shape. */
static void assert_error(const struct http_request *req, int status,
                         const char *code)
{
    json_t *j;

    assert_int_equal(req->resp.status, status);
    assert_string_equal(req->resp.content_type, "application/json");
    j = resp_json(req);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "error"), "code")),
                        code);
    assert_true(json_is_string(
        json_object_get(json_object_get(j, "error"), "message")));
    assert_true(json_is_object(
        json_object_get(json_object_get(j, "error"), "details")));
    json_decref(j);
}

static const char *field(const struct http_request *req, const char *name)
{
    static char value[256];
    json_t *j = resp_json(req);

    strlcpy_pw(value, json_string_value(json_object_get(j, name)),
               sizeof(value));
    json_decref(j);
    return value;
}

static void test_router__param_matches(void **state)
{
    struct http_request *req = run(*state, "GET", "/items/abc", NULL, NULL);

    assert_int_equal(req->resp.status, 200);
    assert_string_equal(field(req, "id"), "abc");
    assert_string_equal(req->route_label, "/items/{item_id}");
    http__req_free(req);
}

static void test_router__literal_beats_param(void **state)
{
    struct http_request *req =
        run(*state, "GET", "/items/special", NULL, NULL);

    assert_string_equal(field(req, "route"), "special");
    http__req_free(req);
}

static void test_router__literal_without_method_405(void **state)
{
    struct http_request *req =
        run(*state, "DELETE", "/items/special", NULL, NULL);

    assert_int_equal(req->resp.status, 405);
    assert_string_equal(resp_header(req, "Allow"), "GET");
    http__req_free(req);
}

static void test_router__percent_decoding(void **state)
{
    struct http_request *req =
        run(*state, "GET", "/items/a%2Fb%20c?q=x+y%26z&q=second", NULL, NULL);

    assert_int_equal(req->resp.status, 200);
    assert_string_equal(field(req, "id"), "a/b c");
    assert_string_equal(field(req, "q"), "x y&z");
    http__req_free(req);
}

static void test_router__bad_escape_is_400(void **state)
{
    const char *const urls[] = {"/items/%zz", "/items/%0", "/items/a%00b",
                                "/items/x?q=%G1"};

    for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
        struct http_request *req = run(*state, "GET", urls[i], NULL, NULL);

        assert_error(req, 400, "invalid");
        assert_string_equal(req->route_label, "unmatched");
        http__req_free(req);
    }
}

static void test_router__trailing_slash_is_404(void **state)
{
    const char *const urls[] = {"/items/abc/", "/items//", "/items/",
                                "/nothing", "/"};

    for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
        struct http_request *req = run(*state, "GET", urls[i], NULL, NULL);

        assert_error(req, 404, "not_found");
        http__req_free(req);
    }
}

static void test_router__wrong_method_is_405(void **state)
{
    struct http_request *req = run(*state, "PUT", "/items/abc", NULL, NULL);

    assert_error(req, 405, "method_not_allowed");
    assert_string_equal(resp_header(req, "Allow"), "GET, DELETE");
    assert_string_equal(req->route_label, "/items/{item_id}");
    http__req_free(req);
}

static void test_router__head_uses_get(void **state)
{
    struct http_request *req = run(*state, "HEAD", "/items/abc", NULL, NULL);

    assert_int_equal(req->resp.status, 200);
    http__req_free(req);
}

static void test_router__rejects_bad_patterns(void **state)
{
    struct fixture *f = *state;
    const struct http_route bad[][1] = {
        {{"GET", "/items/{item_id}", echo_param, 0, 0, 0, NULL}},
        {{"GET", "no-slash", echo_param, 0, 0, 0, NULL}},
        {{"GET", "/a/{}", echo_param, 0, 0, 0, NULL}},
        {{"GET", "/a/{x-y}", echo_param, 0, 0, 0, NULL}},
        {{"GET", "/a//b", echo_param, 0, 0, 0, NULL}},
        {{"GET", "/a/b%20", echo_param, 0, 0, 0, NULL}},
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(http_server_add_routes(f->s, bad[i], 1, NULL),
                         ERR_INVALID);
}

static void test_errors__status_mapping(void **state)
{
    static const struct {
        int err;
        int status;
    } cases[] = {
        {0, 200},
        {ERR_INVALID, 400},
        {ERR_CORRUPT, 400},
        {ERR_UNAUTHORIZED, 401},
        {ERR_FORBIDDEN, 403},
        {ERR_NOT_FOUND, 404},
        {ERR_EXISTS, 409},
        {ERR_CONFLICT, 409},
        {ERR_TOO_BIG, 413},
        {ERR_UNSUPPORTED, 415},
        {ERR_RATE_LIMITED, 429},
        {ERR_BUSY, 503},
        {ERR_TIMEOUT, 503},
        {ERR_DB, 500},
        {ERR_IO, 500},
        {ERR_INTERNAL, 500},
        {ERR_NOMEM, 500},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_int_equal(http_status_of(cases[i].err), cases[i].status);
}

static void test_errors__handler_result_mapped(void **state)
{
    struct http_request *req = run(*state, "GET", "/fail/-3", NULL, NULL);

    assert_error(req, 404, "not_found");
    http__req_free(req);

    req = run(*state, "GET", "/fail/-12", NULL, NULL);
    assert_error(req, 429, "rate_limited");
    assert_non_null(resp_header(req, "Retry-After"));
    http__req_free(req);
}

static void test_errors__500_hides_the_cause(void **state)
{
    struct http_request *req = run(*state, "GET", "/fail/-10", NULL, NULL);
    json_t *j;

    assert_error(req, 500, "internal");
    j = resp_json(req);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "error"), "message")),
                        "internal error");
    json_decref(j);
    http__req_free(req);

    req = run(*state, "GET", "/silent", NULL, NULL);
    assert_error(req, 500, "internal");
    http__req_free(req);
}

static const char *const json_headers[] = {
    "Content-Type", "application/json; charset=utf-8", "Content-Length",
    "16", NULL};

static void test_body__valid_json(void **state)
{
    struct http_request *req =
        run(*state, "POST", "/items", json_headers, "{\"name\": \"pen\"}");

    assert_int_equal(req->resp.status, 201);
    assert_string_equal(field(req, "name"), "pen");
    http__req_free(req);
}

static void test_body__invalid_field_is_422(void **state)
{
    struct http_request *req =
        run(*state, "POST", "/items", json_headers, "{\"name\": 12}   ");
    json_t *j, *details;

    assert_error(req, 422, "validation_failed");
    j = resp_json(req);
    details = json_object_get(json_object_get(j, "error"), "details");
    assert_string_equal(json_string_value(json_object_get(details, "field")),
                        "name");
    assert_non_null(json_string_value(json_object_get(details, "reason")));
    json_decref(j);
    http__req_free(req);
}

static void test_body__malformed_json_is_400(void **state)
{
    struct http_request *req =
        run(*state, "POST", "/items", json_headers, "{\"name\": \"pe");

    assert_error(req, 400, "invalid_json");
    http__req_free(req);
}

static void test_body__wrong_media_type_is_415(void **state)
{
    const char *const text[] = {"Content-Type", "text/plain",
                                "Content-Length", "2", NULL};
    const char *const none[] = {"Content-Length", "2", NULL};
    const char *const jpeg[] = {"Content-Type", "image/jpeg",
                                "Content-Length", "2", NULL};
    struct http_request *req = run(*state, "POST", "/items", text, "{}");

    assert_error(req, 415, "unsupported_media_type");
    http__req_free(req);

    req = run(*state, "POST", "/items", none, "{}");
    assert_error(req, 415, "unsupported_media_type");
    http__req_free(req);

    req = run(*state, "POST", "/photos", jpeg, "\xff\xd8");
    assert_int_equal(req->resp.status, 200);
    http__req_free(req);
}

static void test_body__announced_length_over_limit(void **state)
{
    const char *const big[] = {"Content-Type", "application/json",
                               "Content-Length", "65", NULL};
    struct http_request *req = http__req_new(((struct fixture *)*state)->s,
                                             "/items");

    req->fake_headers = big;
    assert_true(http__req_begin(req, "POST"));
    assert_error(req, 413, "too_large");
    http__req_free(req);
}

static void test_body__chunked_over_limit(void **state)
{
    const char *const chunked[] = {"Content-Type", "application/json",
                                   "Transfer-Encoding", "chunked", NULL};
    struct http_request *req = http__req_new(((struct fixture *)*state)->s,
                                             "/items");
    char chunk[40];

    memset(chunk, ' ', sizeof(chunk));
    req->fake_headers = chunked;
    assert_false(http__req_begin(req, "POST"));
    assert_true(http__req_body(req, chunk, sizeof(chunk)));
    assert_true(http__req_body(req, chunk, sizeof(chunk)));
    assert_int_equal(req->resp.status, 413);
    assert_int_equal(req->body.len, 0);
    http__req_finish(req);
    assert_error(req, 413, "too_large");
    http__req_free(req);
}

static void test_limits__long_url_and_headers(void **state)
{
    char *url = xmalloc(HTTP_MAX_URL + 16);
    char *big = xmalloc(HTTP_MAX_HEADERS + 1);
    const char *headers[] = {"X-Big", big, NULL};
    struct http_request *req;

    memcpy(url, "/items/", 7);
    memset(url + 7, 'a', HTTP_MAX_URL);
    url[HTTP_MAX_URL + 7] = '\0';
    req = run(*state, "GET", url, NULL, NULL);
    assert_error(req, 414, "uri_too_long");
    http__req_free(req);

    memset(big, 'b', HTTP_MAX_HEADERS);
    big[HTTP_MAX_HEADERS] = '\0';
    req = run(*state, "GET", "/items/a", headers, NULL);
    assert_error(req, 431, "headers_too_large");
    http__req_free(req);
    free(url);
    free(big);
}

static void test_auth__missing_token_is_401(void **state)
{
    struct http_request *req = run(*state, "GET", "/me", NULL, NULL);

    assert_error(req, 401, "unauthorized");
    assert_string_equal(resp_header(req, "WWW-Authenticate"), "Bearer");
    http__req_free(req);
}

static void test_auth__roles_checked(void **state)
{
    struct fixture *f = *state;
    char sub[ID_SIZE], header[2048];
    char *token;
    const char *headers[] = {"Authorization", header, NULL};
    struct http_request *req;

    id_new(sub);
    token = auth_issue(f->auth, sub, AUTH_ROLE_STUDENT, NULL);
    snprintf(header, sizeof(header), "Bearer %s", token);

    req = run(f, "GET", "/me", headers, NULL);
    assert_int_equal(req->resp.status, 200);
    assert_string_equal(field(req, "sub"), sub);
    http__req_free(req);

    req = run(f, "GET", "/admin", headers, NULL);
    assert_error(req, 403, "forbidden");
    http__req_free(req);

    snprintf(header, sizeof(header), "Bearer %sx", token);
    req = run(f, "GET", "/me", headers, NULL);
    assert_error(req, 401, "unauthorized");
    assert_non_null(strstr(resp_header(req, "WWW-Authenticate"),
                           "invalid_token"));
    http__req_free(req);
    free(token);
}

static void test_auth__websocket_protocol_token(void **state)
{
    struct fixture *f = *state;
    char sub[ID_SIZE], proto[2048], url[2048];
    char *token;
    const char *headers[] = {"Sec-WebSocket-Protocol", proto, NULL};
    struct http_request *req;

    id_new(sub);
    token = auth_issue(f->auth, sub, AUTH_ROLE_PROCTOR, NULL);
    snprintf(proto, sizeof(proto), "bearer, %s", token);
    req = run(f, "GET", "/live", headers, NULL);
    assert_int_equal(req->resp.status, 101);
    assert_string_equal(resp_header(req, "Sec-WebSocket-Protocol"),
                        "bearer");
    http__req_free(req);

    snprintf(url, sizeof(url), "/live?access_token=%s", token);
    req = run(f, "GET", url, NULL, NULL);
    assert_int_equal(req->resp.status, 101);
    assert_null(resp_header(req, "Sec-WebSocket-Protocol"));
    http__req_free(req);

    /* Only WebSocket routes take the token from the query. */
    snprintf(url, sizeof(url), "/me?access_token=%s", token);
    req = run(f, "GET", url, NULL, NULL);
    assert_int_equal(req->resp.status, 401);
    http__req_free(req);
    free(token);
}

static void test_headers__security_and_request_id(void **state)
{
    const char *const given[] = {"X-Request-Id", "trace-1.2_3", "Origin",
                                 "https://app.example", NULL};
    const char *const bad[] = {"X-Request-Id", "has space", NULL};
    struct http_request *req = run(*state, "GET", "/items/a", given, NULL);

    assert_string_equal(resp_header(req, "X-Request-Id"), "trace-1.2_3");
    assert_string_equal(resp_header(req, "X-Content-Type-Options"),
                        "nosniff");
    assert_string_equal(resp_header(req, "X-Frame-Options"), "DENY");
    assert_string_equal(resp_header(req, "Cache-Control"), "no-store");
    assert_non_null(resp_header(req, "Content-Security-Policy"));
    assert_string_equal(resp_header(req, "Access-Control-Allow-Origin"),
                        "https://app.example");
    assert_string_equal(resp_header(req, "Vary"), "Origin");
    http__req_free(req);

    req = run(*state, "GET", "/items/a", bad, NULL);
    assert_true(id_is_valid(resp_header(req, "X-Request-Id")));
    http__req_free(req);
}

static void test_headers__preflight(void **state)
{
    const char *const ok[] = {"Origin", "https://app.example",
                              "Access-Control-Request-Method", "DELETE",
                              NULL};
    const char *const other[] = {"Origin", "https://other.example",
                                 "Access-Control-Request-Method", "DELETE",
                                 NULL};
    struct http_request *req = run(*state, "OPTIONS", "/items/a", ok, NULL);

    assert_int_equal(req->resp.status, 204);
    assert_string_equal(resp_header(req, "Access-Control-Allow-Methods"),
                        "GET, DELETE");
    http__req_free(req);

    req = run(*state, "OPTIONS", "/items/a", other, NULL);
    assert_error(req, 403, "forbidden");
    http__req_free(req);
}

static void test_metrics__render_counts_routes(void **state)
{
    struct fixture *f = *state;
    struct http_request *req = run(f, "GET", "/items/abc", NULL, NULL);
    struct buf b = BUF_INIT(1 << 20);

    http__req_log(req);
    http__req_free(req);
    req = run(f, "GET", "/zzz", NULL, NULL);
    http__req_log(req);
    http__req_free(req);

    assert_int_equal(http__metrics_render(&f->s->metrics, &b), 0);
    assert_non_null(strstr(b.data, "http_requests_total{route=\"/items/"
                                   "{item_id}\",method=\"GET\",status=\"200\""
                                   "} 1\n"));
    assert_non_null(strstr(b.data, "route=\"unmatched\",method=\"GET\","
                                   "status=\"404\"} 1\n"));
    assert_non_null(strstr(b.data, "http_request_duration_seconds_count"
                                   "{route=\"/items/{item_id}\"} 1\n"));
    assert_null(strstr(b.data, "zzz"));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_router__param_matches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_router__literal_without_method_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__literal_beats_param,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__percent_decoding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__bad_escape_is_400,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__trailing_slash_is_404,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__wrong_method_is_405,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_router__head_uses_get, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router__rejects_bad_patterns,
                                        setup, teardown),
        cmocka_unit_test(test_errors__status_mapping),
        cmocka_unit_test_setup_teardown(test_errors__handler_result_mapped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors__500_hides_the_cause,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_body__valid_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_body__invalid_field_is_422,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_body__malformed_json_is_400,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_body__wrong_media_type_is_415,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_body__announced_length_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body__chunked_over_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limits__long_url_and_headers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth__missing_token_is_401,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth__roles_checked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth__websocket_protocol_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_headers__security_and_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers__preflight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_metrics__render_counts_routes,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
