/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the HTTP request pipeline without sockets: request target parsing,
 * percent-decoding of path and query, route matching, header checks,
 * bearer tokens, body limits, JSON parsing and field validation, and the
 * error model.  Input: the method on the first line, the target on the
 * second, then "Name: value" header lines up to an empty line, then the
 * body, fed in chunks whose size comes from the first body byte.
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"
#include "core/log.h"

#define MAX_HEADERS 16

static int create(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"name", "count", "ratio", "kind",
                                          "on", NULL};
    static const char *const kinds[] = {"a", "b", NULL};
    json_t *body = http_req_json(req);
    struct jfield_error e;
    const char *name = NULL;
    int64_t count = 0;
    double ratio = 0;
    int kind = 0;
    bool on = false;

    (void)ctx;
    if (!body)
        return http_respond_error(req, 400, "invalid", "body required",
                                  NULL);
    if (jfield_only(body, allowed, &e) ||
        jfield_str(body, "name", JFIELD_REQUIRED, 1, 40, &name, &e) ||
        jfield_int(body, "count", 0, 0, 1000, &count, &e) ||
        jfield_double(body, "ratio", 0, 0, 1, &ratio, &e) ||
        jfield_enum(body, "kind", 0, kinds, &kind, &e) ||
        jfield_bool(body, "on", 0, &on, &e))
        return http_respond_invalid(req, &e);
    return http_respond_json(req, 201, json_pack("{s:s, s:I}", "name", name,
                                                 "count", (json_int_t)count));
}

static int show(struct http_request *req, void *ctx)
{
    const char *id = http_req_param(req, "item_id");
    const char *q = http_req_query(req, "q");

    (void)ctx;
    if (q && !strcmp(q, "missing"))
        return ERR_NOT_FOUND;
    if (q && !strcmp(q, "busy"))
        return ERR_BUSY;
    return http_respond_json(req, 200, json_pack("{s:s, s:s?}", "id", id,
                                                 "q", q));
}

static int raw(struct http_request *req, void *ctx)
{
    size_t len;

    (void)ctx;
    http_req_body(req, &len);
    return http_respond_json(req, 200, json_pack("{s:I}", "len",
                                                 (json_int_t)len));
}

static int me(struct http_request *req, void *ctx)
{
    (void)ctx;
    return http_respond_json(req, 200, json_pack("{s:s}", "sub",
                                                 http_req_auth(req)->sub));
}

static const char *const images[] = {"image/jpeg", "image/*", NULL};

static const struct http_route routes[] = {
    {"POST", "/items", create, 0, 0, 512, NULL},
    {"GET", "/items/{item_id}", show, 0, 0, 0, NULL},
    {"DELETE", "/items/{item_id}", show, AUTH_ROLE_ADMIN, 0, 0, NULL},
    {"GET", "/items/{item_id}/parts/{part}", show, 0, 0, 0, NULL},
    {"GET", "/items/new", show, 0, 0, 0, NULL},
    {"PUT", "/frames/{item_id}", raw, AUTH_ROLE_ANY, HTTP_RAW_BODY, 4096,
     images},
    {"GET", "/me", me, AUTH_ROLE_ANY, HTTP_WEBSOCKET, 0, NULL},
};

static struct http_server *server;

static void init(void)
{
    static const uint8_t key[] = "fuzzing-secret-of-at-least-32-bytes";
    struct http_options opts = {
        .threads = 1,
        .max_connections = 1,
        .timeout_s = 1,
        .max_body = 1024,
        .cors_origins = "https://app.example, https://other.example",
    };

    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    opts.auth = auth_new(key, sizeof(key) - 1, 60, 0);
    server = http_server_new(&opts);
    if (!server ||
        http_server_add_routes(server, routes, ARRAY_SIZE(routes), NULL))
        abort();
}

/* Take the next line of [*p, end) into a new string; NULL at the end. */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl;
    char *line;

    if (*p >= end)
        return NULL;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        nl = end;
    line = xstrndup((const char *)*p, (size_t)(nl - *p));
    *p = nl < end ? nl + 1 : end;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *method = NULL, *url = NULL, *lines[MAX_HEADERS];
    const char *headers[2 * MAX_HEADERS + 1];
    size_t n_lines = 0, n_headers = 0;
    struct http_request *req;

    if (!server)
        init();
    method = next_line(&p, end);
    url = next_line(&p, end);
    if (!method || !url)
        goto out_free;

    while (n_lines < MAX_HEADERS) {
        char *line = next_line(&p, end), *colon;

        if (!line)
            break;
        if (!*line) {
            free(line);
            break;
        }
        lines[n_lines++] = line;
        colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        headers[n_headers++] = line;
        headers[n_headers++] = colon + 1 + strspn(colon + 1, " ");
    }
    headers[n_headers] = NULL;

    req = http__req_new(server, url);
    req->fake_headers = headers;
    if (!http__req_begin(req, method)) {
        size_t chunk = p < end ? (size_t)(*p % 64) + 1 : 1;
        bool open = true;

        while (open && p < end) {
            size_t n = MIN(chunk, (size_t)(end - p));

            open = http__req_body(req, (const char *)p, n);
            p += n;
        }
        if (open)
            http__req_finish(req);
    }
    if (req->resp.status && req->resp.content_type &&
        !strcmp(req->resp.content_type, "application/json")) {
        json_t *j = json_loadb(req->resp.body, req->resp.len, 0, NULL);

        /* Every JSON response the pipeline makes must itself parse. */
        if (!j)
            abort();
        json_decref(j);
    }
    http__req_log(req);
    http__req_free(req);

    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
out_free:
    free(method);
    free(url);
    return 0;
}
