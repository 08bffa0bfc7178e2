/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request pipeline, independent of sockets: limits, routing, CORS,
 * the bearer-token check, media types, body collection, JSON parsing, the
 * handler call and the error model.  Responses are built into req->resp;
 * http.c hands them to libmicrohttpd, the fuzz target just reads them.
 * Errors found before the body is read are kept in req->resp and sent once
 * the body has been drained, so the connection stays usable (keep-alive);
 * only a body announced over its limit gets its response at once, and the
 * connection is then closed by libmicrohttpd.
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"
#include "core/id.h"
#include "core/utc.h"
#include "store/store.h"

#include <microhttpd.h>
#include <strings.h>

/* The Content-Security-Policy of API responses: they load nothing. */
#define API_CSP "default-src 'none'; frame-ancestors 'none'"

static const char *const json_types[] = {"application/json", NULL};

struct http_request *http__req_new(struct http_server *s, const char *url)
{
    struct http_request *req = xcalloc(1, sizeof(*req));

    req->server = s;
    req->raw_url = xstrdup(url);
    req->start_ns = utc_monotonic_ns();
    req->log.component = "http";
    req->metrics = s->metrics.unmatched;
    req->route_label = "unmatched";
    strlcpy_pw(req->method, "-", sizeof(req->method));
    req->method_id = HTTP_M_OTHER;
    buf_init(&req->body, 0);
    return req;
}

static void response_release(struct http__response *r)
{
    free(r->content_type);
    free(r->body);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

void http__req_free(struct http_request *req)
{
    if (!req)
        return;
    free(req->raw_url);
    free(req->path);
    for (size_t i = 0; i < 2 * req->n_query; i++)
        free(req->query[i]);
    free(req->query);
    http__match_release(&req->match);
    buf_release(&req->body);
    json_decref(req->json);
    response_release(&req->resp);
    free(req);
}

/* Accessors */

const char *http_req_method(const struct http_request *req)
{
    return req->method;
}

const char *http_req_path(const struct http_request *req)
{
    return req->path ? req->path : "";
}

const char *http_req_param(const struct http_request *req, const char *name)
{
    const struct http__route *rt = req->match.route;
    size_t k = 0;

    if (!rt)
        return NULL;
    for (size_t i = 0; i < rt->n_segments; i++) {
        if (!rt->is_param[i])
            continue;
        if (!strcmp(rt->segments[i], name))
            return k < req->match.n_params ? req->match.params[k] : NULL;
        k++;
    }
    return NULL;
}

const char *http_req_query(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_query; i++) {
        if (!strcmp(req->query[2 * i], name))
            return req->query[2 * i + 1];
    }
    return NULL;
}

const char *http_req_header(const struct http_request *req, const char *name)
{
    if (req->conn)
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
    for (size_t i = 0; req->fake_headers && req->fake_headers[i] &&
                       req->fake_headers[i + 1];
         i += 2) {
        if (!strcasecmp(req->fake_headers[i], name))
            return req->fake_headers[i + 1];
    }
    return NULL;
}

const char *http_req_id(const struct http_request *req)
{
    return req->request_id;
}

const char *http_req_client_ip(const struct http_request *req)
{
    return req->client_ip;
}

const void *http_req_body(const struct http_request *req, size_t *len)
{
    *len = req->body.len;
    return req->body.len ? req->body.data : NULL;
}

json_t *http_req_json(const struct http_request *req)
{
    return req->json;
}

const struct auth_claims *http_req_auth(const struct http_request *req)
{
    return req->authenticated ? &req->claims : NULL;
}

const struct log_ctx *http_req_log(const struct http_request *req)
{
    return &req->log;
}

/* Responses */

static bool has_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->resp.n_headers; i++) {
        if (!strcasecmp(req->resp.headers[i].name, name))
            return true;
    }
    return false;
}

void http_set_header(struct http_request *req, const char *name,
                     const char *value)
{
    struct http__response *r = &req->resp;

    /* A CR or LF would let a value start a header of its own. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        log_error(&req->log, "dropping response header \"%s\": it contains "
                             "a line break", name);
        return;
    }
    if (r->n_headers == r->alloc_headers) {
        r->alloc_headers = r->alloc_headers ? 2 * r->alloc_headers : 8;
        r->headers = xrealloc(r->headers,
                              r->alloc_headers * sizeof(*r->headers));
    }
    r->headers[r->n_headers].name = xstrdup(name);
    r->headers[r->n_headers].value = xstrdup(value);
    r->n_headers++;
}

/* Take body (malloc'd, may be NULL) as the response; one per request. */
static int set_response(struct http_request *req, int status,
                        const char *content_type, char *body, size_t len)
{
    if (req->resp.status) {
        log_error(&req->log, "ignoring a second response (%d) to %s %s: "
                             "%d was already sent", status, req->method,
                  req->route_label, req->resp.status);
        free(body);
        return ERR_INTERNAL;
    }
    req->resp.status = status;
    req->resp.content_type = content_type ? xstrdup(content_type) : NULL;
    req->resp.body = body;
    req->resp.len = len;
    return 0;
}

int http_respond_json(struct http_request *req, int status, json_t *body)
{
    char *text;

    if (!body)
        return set_response(req, status, NULL, NULL, 0);
    text = json_dumps(body, JFIELD_DUMP_FLAGS);
    json_decref(body);
    if (!text) {
        log_error(&req->log, "cannot serialise the response to %s %s",
                  req->method, req->route_label);
        return set_response(req, 500, "application/json",
                            xstrdup("{\"error\":{\"code\":\"internal\","
                                    "\"message\":\"internal error\","
                                    "\"details\":{}}}"),
                            strlen("{\"error\":{\"code\":\"internal\","
                                   "\"message\":\"internal error\","
                                   "\"details\":{}}}"));
    }
    return set_response(req, status, "application/json", text,
                        strlen(text));
}

int http_respond_bytes(struct http_request *req, int status,
                       const char *content_type, const void *data,
                       size_t len)
{
    char *copy = NULL;

    if (len) {
        copy = malloc(len);
        if (!copy)
            return set_response(req, 503, NULL, NULL, 0);
        memcpy(copy, data, len);
    }
    return set_response(req, status, content_type, copy, len);
}

int http_respond_error(struct http_request *req, int status,
                       const char *code, const char *message,
                       json_t *details)
{
    json_t *body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code,
                             "message", message, "details",
                             details ? details : json_object());

    if (status == 401 && !has_header(req, "WWW-Authenticate"))
        http_set_header(req, "WWW-Authenticate", "Bearer");
    if ((status == 429 || status == 503) && !has_header(req, "Retry-After"))
        http_set_header(req, "Retry-After", "1");
    return http_respond_json(req, status, body);
}

int http_status_of(int err)
{
    switch (err) {
    case 0:
        return 200;
    case ERR_INVALID:
    case ERR_CORRUPT:
        return 400;
    case ERR_UNAUTHORIZED:
        return 401;
    case ERR_FORBIDDEN:
        return 403;
    case ERR_NOT_FOUND:
        return 404;
    case ERR_EXISTS:
    case ERR_CONFLICT:
        return 409;
    case ERR_TOO_BIG:
        return 413;
    case ERR_UNSUPPORTED:
        return 415;
    case ERR_RATE_LIMITED:
        return 429;
    case ERR_BUSY:
    case ERR_TIMEOUT:
        return 503;
    default:
        return 500;
    }
}

int http_respond_err(struct http_request *req, int err, const char *message)
{
    int status = http_status_of(err);

    /* A 500 hides the cause from the client; the log line records it. */
    if (status == 500) {
        log_error(&req->log, "%s %s failed: %s%s%s", req->method,
                  req->route_label, err_str(err), message ? ": " : "",
                  message ? message : "");
        return http_respond_error(req, 500, "internal", "internal error",
                                  NULL);
    }
    return http_respond_error(req, status, err_code(err),
                              message ? message : err_str(err), NULL);
}

int http_respond_invalid(struct http_request *req,
                         const struct jfield_error *e)
{
    json_t *details = json_pack("{s:s, s:s}", "field", e->field, "reason",
                                e->reason);

    return http_respond_error(req, 422, "validation_failed", e->reason,
                              details);
}

int http_respond_upgrade(struct http_request *req, http_upgrade_fn fn,
                         void *cls)
{
    if (req->token_from_protocol &&
        !has_header(req, "Sec-WebSocket-Protocol"))
        http_set_header(req, "Sec-WebSocket-Protocol", "bearer");
    req->upgrade_fn = fn;
    req->upgrade_cls = cls;
    return set_response(req, 101, NULL, NULL, 0);
}

/* The pipeline */

/* Whether s is a sane client request id: 1..64 of [A-Za-z0-9._-]. */
static bool is_request_id(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._-");

    return n > 0 && n <= 64 && s[n] == '\0';
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
    size_t *total = cls;

    (void)kind;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Bytes of all header lines as received ("Name: value\r\n"). */
static size_t headers_size(const struct http_request *req)
{
    size_t total = 0;

    if (req->conn) {
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND,
                                  add_header_size, &total);
        return total;
    }
    for (size_t i = 0; req->fake_headers && req->fake_headers[i] &&
                       req->fake_headers[i + 1];
         i += 2)
        total += strlen(req->fake_headers[i]) +
                 strlen(req->fake_headers[i + 1]) + 4;
    return total;
}

/* Whether origin is listed in PW_CORS_ORIGINS (exact match, or "*"). */
static bool origin_allowed(const struct http_server *s, const char *origin)
{
    const char *p = s->cors_origins;
    size_t len = strlen(origin);

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if ((n == 1 && *p == '*') || (n == len && !memcmp(p, origin, n)))
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static void add_cors_headers(struct http_request *req)
{
    const char *origin = http_req_header(req, "Origin");

    if (!req->server->cors_origins[0])
        return;
    http_set_header(req, "Vary", "Origin");
    if (!origin || !origin_allowed(req->server, origin))
        return;
    http_set_header(req, "Access-Control-Allow-Origin", origin);
    http_set_header(req, "Access-Control-Expose-Headers",
                    "X-Request-Id, Retry-After, WWW-Authenticate");
}

/* Headers every response carries; a handler's own values win. */
static void add_standard_headers(struct http_request *req)
{
    if (req->request_id[0])
        http_set_header(req, "X-Request-Id", req->request_id);
    http_set_header(req, "X-Content-Type-Options", "nosniff");
    http_set_header(req, "X-Frame-Options", "DENY");
    http_set_header(req, "Referrer-Policy", "no-referrer");
    if (!has_header(req, "Content-Security-Policy"))
        http_set_header(req, "Content-Security-Policy", API_CSP);
    if (!has_header(req, "Cache-Control"))
        http_set_header(req, "Cache-Control", "no-store");
    add_cors_headers(req);
    if (atomic_load(&req->server->stopping))
        http_set_header(req, "Connection", "close");
}

static void set_request_id(struct http_request *req)
{
    const char *given = http_req_header(req, "X-Request-Id");

    if (given && is_request_id(given))
        strlcpy_pw(req->request_id, given, sizeof(req->request_id));
    else
        id_new(req->request_id);
    req->log.request_id = req->request_id;
}

/* Respond to OPTIONS: a CORS preflight, or the path's Allow list. */
static void answer_options(struct http_request *req)
{
    const char *origin = http_req_header(req, "Origin");
    const char *wanted = http_req_header(req, "Access-Control-Request-Method");

    if (!req->match.allow[0]) {
        http_respond_error(req, 404, "not_found", "no such path", NULL);
        return;
    }
    if (origin && wanted) {
        if (!req->server->cors_origins[0] ||
            !origin_allowed(req->server, origin)) {
            http_respond_error(req, 403, "forbidden",
                               "origin not allowed by CORS", NULL);
            return;
        }
        http_set_header(req, "Access-Control-Allow-Methods",
                        req->match.allow);
        http_set_header(req, "Access-Control-Allow-Headers",
                        "Authorization, Content-Type, X-Request-Id");
        http_set_header(req, "Access-Control-Max-Age", "600");
    }
    http_set_header(req, "Allow", req->match.allow);
    set_response(req, 204, NULL, NULL, 0);
}

/*
 * The bearer token of the request: the Authorization header, or for a
 * WebSocket route the access_token query parameter or the second entry of
 * Sec-WebSocket-Protocol ("bearer, <token>", as browsers send
 * new WebSocket(url, ["bearer", token])).  Copies at most size - 1 bytes;
 * returns false when there is none.
 */
static bool find_token(struct http_request *req, char *out, size_t size)
{
    const char *h = http_req_header(req, "Authorization");
    unsigned flags = req->match.route->def->flags;

    if (h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ')
            h++;
        return *h && strlcpy_pw(out, h, size) < size;
    }
    if (!(flags & HTTP_WEBSOCKET))
        return false;

    h = http_req_query(req, "access_token");
    if (h && *h)
        return strlcpy_pw(out, h, size) < size;

    h = http_req_header(req, "Sec-WebSocket-Protocol");
    if (h && !strncasecmp(h, "bearer", 6) && (h[6] == ',' || h[6] == ' ')) {
        h += 6;
        while (*h == ',' || *h == ' ')
            h++;
        if (!*h || strchr(h, ','))
            return false;
        req->token_from_protocol = true;
        return strlcpy_pw(out, h, size) < size;
    }
    return false;
}

/*
 * Check the token against the route's roles.  An anonymous route still
 * reads a valid token (handlers may use it) but ignores an invalid one, so
 * a stale token never blocks a login.  Returns 0, or sets the 401/403.
 */
static int authenticate(struct http_request *req)
{
    unsigned roles = req->match.route->def->roles;
    char token[4096];
    bool found = find_token(req, token, sizeof(token));

    if (found && req->server->opts.auth &&
        !auth_verify(req->server->opts.auth, token, &req->claims))
        req->authenticated = true;
    if (!roles)
        return 0;

    if (!found) {
        http_respond_error(req, 401, "unauthorized",
                           "missing bearer token", NULL);
        return ERR_UNAUTHORIZED;
    }
    if (!req->authenticated) {
        http_set_header(req, "WWW-Authenticate",
                        "Bearer error=\"invalid_token\"");
        http_respond_error(req, 401, "unauthorized",
                           "invalid or expired token", NULL);
        return ERR_UNAUTHORIZED;
    }
    if (!(req->claims.role & roles)) {
        http_respond_error(req, 403, "forbidden",
                           "this role may not use this route", NULL);
        return ERR_FORBIDDEN;
    }
    return 0;
}

/* Whether a Content-Type value names one of types ("image/ *" allowed). */
static bool media_type_ok(const char *value, const char *const *types)
{
    size_t len = strcspn(value, "; \t");

    for (size_t i = 0; types[i]; i++) {
        const char *t = types[i];
        size_t tlen = strlen(t);

        if (tlen >= 2 && !strcmp(t + tlen - 2, "/*")) {
            if (len > tlen - 1 && !strncasecmp(value, t, tlen - 1))
                return true;
        } else if (len == tlen && !strncasecmp(value, t, len)) {
            return true;
        }
    }
    return false;
}

/*
 * Read Content-Length and Transfer-Encoding into req->has_body and *len
 * (0 when chunked or absent).  Returns false for an invalid length.
 */
static bool parse_length(struct http_request *req, unsigned long long *len)
{
    const char *cl = http_req_header(req, "Content-Length");
    const char *te = http_req_header(req, "Transfer-Encoding");
    char *end;

    *len = 0;
    if (te && strcasestr(te, "chunked"))
        req->has_body = true;
    if (!cl)
        return true;
    errno = 0;
    *len = strtoull(cl, &end, 10);
    if (errno || end == cl || *end || cl[0] == '-')
        return false;
    if (*len > 0)
        req->has_body = true;
    req->content_length = *len;
    return true;
}

/* Answer 413 naming the route's limit in the message and the details. */
static void respond_too_large(struct http_request *req)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "the request body is over the limit of %zu "
             "bytes", req->max_body);
    http_respond_error(req, 413, "too_large", msg,
                       json_pack("{sI}", "max_bytes",
                                 (json_int_t)req->max_body));
}

/*
 * Check the announced body length.  Returns false with 413 set when it
 * passes the route's limit; an invalid length leaves 400 and returns true.
 */
static bool check_length(struct http_request *req)
{
    unsigned long long len;

    if (!parse_length(req, &len)) {
        http_respond_error(req, 400, "invalid", "invalid Content-Length",
                           NULL);
        return true;
    }
    if (len > req->max_body) {
        respond_too_large(req);
        return false;
    }
    return true;
}

/*
 * Find the route.  Returns false with an error response (400, 404, 405)
 * or the response to OPTIONS left in req->resp.
 */
static bool resolve(struct http_request *req)
{
    char *q = strchr(req->raw_url, '?');
    const struct http_route *def;

    req->path = q ? xstrndup(req->raw_url, (size_t)(q - req->raw_url))
                  : xstrdup(req->raw_url);
    if (q && http__query_parse(q + 1, &req->query, &req->n_query)) {
        http_respond_error(req, 400, "invalid", "invalid query string",
                           NULL);
        return false;
    }
    if (http__router_match(&req->server->router, req->method, req->path,
                           &req->match)) {
        http_respond_error(req, 400, "invalid", "invalid path", NULL);
        return false;
    }
    if (req->match.metrics) {
        req->metrics = req->match.metrics;
        req->route_label = req->match.metrics->label;
    }

    if (req->method_id == HTTP_M_OPTIONS && !req->match.route) {
        answer_options(req);
        return false;
    }
    if (!req->match.route) {
        if (req->match.allow[0]) {
            http_set_header(req, "Allow", req->match.allow);
            http_respond_error(req, 405, "method_not_allowed",
                               "method not allowed on this path", NULL);
        } else {
            http_respond_error(req, 404, "not_found", "no such path", NULL);
        }
        return false;
    }

    def = req->match.route->def;
    req->max_body = def->max_body ? def->max_body : req->server->opts.max_body;
    return true;
}

/* Check the body's media type against the route's; false with 415. */
static bool check_media_type(struct http_request *req)
{
    const struct http_route *def = req->match.route->def;
    const char *ct = http_req_header(req, "Content-Type");
    const char *const *types =
        def->content_types ? def->content_types : json_types;

    char msg[160];
    size_t used;

    if (!req->has_body || (ct && media_type_ok(ct, types)))
        return true;

    used = (size_t)snprintf(msg, sizeof(msg), "unsupported Content-Type; "
                            "expected ");
    for (int i = 0; types[i] && used < sizeof(msg); i++)
        used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s%s",
                                 i ? " or " : "", types[i]);
    http_respond_error(req, 415, "unsupported_media_type", msg, NULL);
    return false;
}

bool http__req_begin(struct http_request *req, const char *method)
{
    if (strlcpy_pw(req->method, method, sizeof(req->method)) >=
        sizeof(req->method))
        strlcpy_pw(req->method, "OTHER", sizeof(req->method));
    req->method_id = http__method_id(req->method);
    req->max_body = req->server->opts.max_body;
    req->stage = HTTP_STAGE_BODY;
    set_request_id(req);

    if (strlen(req->raw_url) > HTTP_MAX_URL) {
        http_respond_error(req, 414, "uri_too_long", "URL too long", NULL);
    } else if (headers_size(req) > HTTP_MAX_HEADERS) {
        http_respond_error(req, 431, "headers_too_large",
                           "request headers too large", NULL);
    } else if (req->raw_url[0] != '/') {
        http_respond_error(req, 400, "invalid", "invalid request target",
                           NULL);
    } else if (resolve(req)) {
        if (!check_length(req)) {
            /* The announced body is over the limit: answer before it. */
            req->stage = HTTP_STAGE_DONE;
            add_standard_headers(req);
            return true;
        }
        if (!req->resp.status && !authenticate(req))
            check_media_type(req);
    }
    if (req->resp.status) {
        unsigned long long len;

        parse_length(req, &len);
    }
    buf_init(&req->body, req->max_body);

    /*
     * An error decided now is sent once the body is drained (libmicrohttpd
     * closes a connection answered before the request was read), unless
     * the client waits for "100 Continue" and so never sends the body, or
     * the body is too large to drain.
     */
    if (req->resp.status && req->has_body &&
        (http_req_header(req, "Expect") ||
         req->content_length > HTTP_MAX_DRAIN)) {
        req->stage = HTTP_STAGE_DONE;
        add_standard_headers(req);
        return true;
    }
    return false;
}

bool http__req_body(struct http_request *req, const char *data, size_t len)
{
    int ret;

    if (req->resp.status) {
        /* Drop the body of a refused request; its answer follows it. */
        req->drained += len;
        return req->drained <= HTTP_MAX_DRAIN;
    }

    ret = buf_append(&req->body, data, len);
    if (!ret)
        return true;
    if (ret == ERR_TOO_BIG)
        respond_too_large(req);
    else
        http_respond_error(req, 503, "busy", "out of memory", NULL);
    req->drained = req->body.len + len;
    buf_release(&req->body);
    return true;
}

void http__req_finish(struct http_request *req)
{
    const struct http__route *rt = req->match.route;
    struct jfield_error e;
    int ret;

    if (req->stage == HTTP_STAGE_DONE)
        return;
    req->stage = HTTP_STAGE_DONE;
    if (req->resp.status)
        goto out_headers;

    if (!(rt->def->flags & HTTP_RAW_BODY) && req->body.len > 0) {
        if (jfield_parse(req->body.data, req->body.len, &req->json, &e)) {
            http_respond_error(req, 400, "invalid_json", e.reason, NULL);
            goto out_headers;
        }
    }

    ret = rt->def->handler(req, rt->ctx);
    if (!req->resp.status) {
        if (ret >= 0) {
            log_error(&req->log, "handler of %s %s returned without a "
                                 "response", req->method, req->route_label);
            ret = ERR_INTERNAL;
        }
        http_respond_err(req, ret, NULL);
    }

out_headers:
    add_standard_headers(req);
}

void http__req_log(struct http_request *req)
{
    int64_t ns = utc_monotonic_ns() - req->start_ns;
    char status[8], duration[24], bytes[24];
    const char *fields[] = {"method",     req->method,      "route",
                            req->route_label, "status",     status,
                            "duration_ms", duration,        "request_id",
                            req->request_id, "bytes",       bytes,
                            NULL};

    if (req->logged)
        return;
    req->logged = true;
    http__metrics_record(req->metrics, req->method_id, req->resp.status, ns);
    snprintf(status, sizeof(status), "%d", req->resp.status);
    snprintf(duration, sizeof(duration), "%.3f", (double)ns / 1e6);
    snprintf(bytes, sizeof(bytes), "%zu", req->resp.len);
    log_fields(&req->log, LOG_INFO, "request", fields);
}

/* Built-in routes */

static int healthz(struct http_request *req, void *ctx)
{
    (void)ctx;
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static int readyz(struct http_request *req, void *ctx)
{
    struct http_server *s = ctx;
    int ret;

    if (!s->opts.store)
        return http_respond_json(req, 200,
                                 json_pack("{s:s}", "status", "ready"));
    ret = store_ping(s->opts.store);
    if (ret) {
        log_warn(&req->log, "readiness check failed: database: %s",
                 err_str(ret));
        http_set_header(req, "Retry-After", "5");
        return http_respond_error(req, 503, "not_ready",
                                  "database not reachable", NULL);
    }
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static int metrics(struct http_request *req, void *ctx)
{
    struct http_server *s = ctx;
    struct buf b = BUF_INIT(16u << 20);
    int ret = http__metrics_render(&s->metrics, &b);

    if (ret) {
        buf_release(&b);
        return ret;
    }
    ret = http_respond_bytes(req, 200, "text/plain; version=0.0.4; "
                                       "charset=utf-8",
                             b.data, b.len);
    buf_release(&b);
    return ret;
}

static const struct http_route builtin_routes[] = {
    {"GET", "/healthz", healthz, 0, 0, 0, NULL},
    {"GET", "/readyz", readyz, 0, 0, 0, NULL},
    {"GET", "/metrics", metrics, 0, 0, 0, NULL},
};

int http__builtin_add(struct http_server *s)
{
    return http__router_add(&s->router, &s->metrics, builtin_routes,
                            ARRAY_SIZE(builtin_routes), s);
}
