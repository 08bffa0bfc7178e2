/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP server on libmicrohttpd (epoll, thread pool) with a router, request
 * limits, authentication, metrics and one JSON error model.  Services
 * declare tables of routes; a handler reads a request and sends exactly one
 * response, or returns a negative ERR_* and the server answers with the
 * mapped status and {"error": {"code", "message", "details"}}.
 *
 * Handlers run on the server's worker threads and may block briefly (a
 * database call, a short wait for a frame analysis); they must not keep a
 * request after returning.
 */
#ifndef PW_HTTP_HTTP_H
#define PW_HTTP_HTTP_H

#include "core/base.h"
#include "core/jfield.h"
#include "core/log.h"
#include "http/auth.h"

#include <jansson.h>

struct http_server;
struct http_request;
struct store;

typedef int (*http_handler_fn)(struct http_request *req, void *ctx);

/*
 * Called on the upgraded socket once the 101 response is sent: fd is the
 * connection's socket, extra holds bytes the client sent after its
 * request (often none), handle must be passed to http_upgrade_close() when
 * the caller is done with fd.  Runs on a server thread; hand the socket
 * over to another thread and return quickly.
 */
typedef void (*http_upgrade_fn)(void *cls, int fd, const char *extra,
                                size_t extra_len, void *handle);

enum http_route_flags {
    HTTP_RAW_BODY = 1 << 0,  /* do not parse the body as JSON */
    HTTP_WEBSOCKET = 1 << 1, /* a GET that must carry a WebSocket upgrade */
};

struct http_route {
    const char *method;  /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *pattern; /* "/users/{user_id}"; {name} matches a segment */
    http_handler_fn handler;
    unsigned roles;      /* enum auth_role bits allowed; 0: anonymous ok */
    unsigned flags;      /* enum http_route_flags */
    size_t max_body;     /* bytes; 0: PW_HTTP_MAX_BODY */

    /*
     * Accepted media types of the body, NULL-terminated; NULL means
     * application/json for methods with a body.  A body of another type
     * gets 415.
     */
    const char *const *content_types;
};

struct http_options {
    int threads;            /* worker threads; 0: one per core */
    int max_connections;
    int timeout_s;          /* idle connection timeout */
    size_t max_body;        /* default body cap */
    int shutdown_grace_s;   /* time requests in flight get on shutdown */
    const char *cors_origins; /* comma list or "*", "" for none */
    struct auth *auth;      /* borrowed; verifies bearer tokens */
    struct store *store;    /* borrowed; checked by /readyz */
};

/*
 * Create a server with opts (copied; pointers borrowed for the server's
 * life).  The built-in routes /healthz, /readyz and /metrics are present.
 * Returns a new server freed with http_server_free(), or NULL on
 * out-of-memory.
 */
struct http_server *http_server_new(const struct http_options *opts);
void http_server_free(struct http_server *s);

/*
 * Add n routes, passing ctx to their handlers.  routes is borrowed and must
 * outlive the server (declare it static const).  Returns 0 or ERR_INVALID
 * for a malformed pattern or a duplicate method and pattern.
 */
int http_server_add_routes(struct http_server *s,
                           const struct http_route *routes, size_t n,
                           void *ctx);

/*
 * Bind and start serving on host_port ("127.0.0.1:8000", "[::1]:8000",
 * ":8000"); may be called several times to serve the same routes on
 * several ports.  Returns 0, or ERR_INVALID / ERR_IO with a message in
 * err.
 */
int http_server_listen(struct http_server *s, const char *host_port,
                       char *err, size_t err_size);

/*
 * Serve until SIGINT or SIGTERM, then stop accepting, give requests in
 * flight up to the grace period, and return 0.
 */
int http_server_run(struct http_server *s);

/*
 * Call fn(ctx) once when shutdown starts, after the listeners stop
 * accepting and before requests in flight are waited for, so that
 * long-lived connections (WebSockets) can be told to close.  fn runs on
 * the thread of http_server_run().
 */
void http_server_on_stop(struct http_server *s, void (*fn)(void *),
                         void *ctx);

/* The port a listener got (the first one); for ":0" binds in tests. */
int http_server_port(const struct http_server *s);

/* Request accessors; returned strings are borrowed from the request. */
const char *http_req_method(const struct http_request *req);
const char *http_req_path(const struct http_request *req);
const char *http_req_param(const struct http_request *req, const char *name);
const char *http_req_query(const struct http_request *req, const char *name);
const char *http_req_header(const struct http_request *req, const char *name);
const char *http_req_id(const struct http_request *req);
const char *http_req_client_ip(const struct http_request *req);
const void *http_req_body(const struct http_request *req, size_t *len);

/* The parsed JSON object body (borrowed), or NULL without a body. */
json_t *http_req_json(const struct http_request *req);

/* The verified claims, or NULL for an anonymous request. */
const struct auth_claims *http_req_auth(const struct http_request *req);

/* The request's log context (component and request id). */
const struct log_ctx *http_req_log(const struct http_request *req);

/* Add a response header; name and value are copied. */
void http_set_header(struct http_request *req, const char *name,
                     const char *value);

/* Send body (stolen; NULL for none) as application/json. */
int http_respond_json(struct http_request *req, int status, json_t *body);

/*
 * Send data (copied) of len bytes with content_type.
 */
int http_respond_bytes(struct http_request *req, int status,
                       const char *content_type, const void *data,
                       size_t len);

/*
 * Send {"error": {"code", "message", "details"}}.  details is stolen and
 * may be NULL (sent as {}).
 */
int http_respond_error(struct http_request *req, int status,
                       const char *code, const char *message,
                       json_t *details);

/*
 * Send the status that err (a negative ERR_*) maps to, with message (NULL
 * for err_str(err)).  ERR_RATE_LIMITED and ERR_BUSY should be preceded by a
 * Retry-After header.
 */
int http_respond_err(struct http_request *req, int err, const char *message);

/* Send 422 validation_failed with details {"field", "reason"}. */
int http_respond_invalid(struct http_request *req,
                         const struct jfield_error *e);

/* The status an ERR_* maps to (404 for ERR_NOT_FOUND, ...). */
int http_status_of(int err);

/*
 * Answer with 101 Switching Protocols and hand the socket to fn.  Headers
 * set with http_set_header() before the call go out with the 101.
 */
int http_respond_upgrade(struct http_request *req, http_upgrade_fn fn,
                         void *cls);

/* Release an upgraded connection given to an http_upgrade_fn. */
void http_upgrade_close(void *handle);

/* Metrics shared with the WebSocket layer: open upgraded connections. */
void http_metrics_ws_opened(void);
void http_metrics_ws_closed(void);

#endif
