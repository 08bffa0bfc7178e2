/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State shared by the HTTP server's modules (http.c: sockets and MHD,
 * request.c: the request pipeline, router.c, metrics.c) and by the fuzz
 * target and unit tests, which drive the pipeline without sockets.  A
 * request runs http__req_begin() once its headers are known, then
 * http__req_body() per body chunk, then http__req_finish(), after which
 * req->resp contains the response.  http__req_begin() returns true when the
 * response must go out before the body is read.
 */
#ifndef PW_HTTP_HTTP_INT_H
#define PW_HTTP_HTTP_INT_H

#include "core/base.h"
#include "http/http.h"

#include "core/buf.h"

#include <stdatomic.h>

/* Limits of the request line and headers, checked before routing. */
#define HTTP_MAX_URL      8192  /* bytes of the request target: else 414 */
#define HTTP_MAX_HEADERS  16384 /* bytes of all header lines: else 431 */
#define HTTP_MAX_SEGMENTS 32    /* path segments of a pattern or path */
#define HTTP_MAX_QUERY    64    /* query parameters kept; more: 400 */
#define HTTP_MAX_PARAMS   8     /* {param} segments of one pattern */
#define HTTP_MAX_LISTENERS 8    /* http_server_listen() calls */

/*
 * Body bytes read and dropped after a request was refused, so that its
 * response can be sent once the body ends (libmicrohttpd 0.9.75 cannot send
 * a response while a body is being received).  Past this the connection
 * is closed without a response.
 *
 * NEEDSWORK: a chunked body over its limit is answered 413 only when it
 * ends; a client that keeps sending past HTTP_MAX_DRAIN gets its
 * connection closed with no response.  A libmicrohttpd that accepts a
 * response mid-body would let the 413 go out at once.
 */
#define HTTP_MAX_DRAIN (4u << 20)

/* Methods counted apart in the metrics; the rest count as "OTHER". */
enum http__method {
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_PATCH,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_OTHER,
    HTTP_M_COUNT,
};

/* Statuses counted apart; any other status counts under "other". */
#define HTTP_STATUS_SLOTS 32
#define HTTP_LATENCY_BUCKETS 12

/* The counters of one route label (a pattern, or "unmatched"). */
struct http__path_metrics {
    char *label; /* owned; the pattern */
    atomic_uint_fast64_t requests[HTTP_M_COUNT][HTTP_STATUS_SLOTS];
    atomic_uint_fast64_t buckets[HTTP_LATENCY_BUCKETS]; /* not cumulative */
    atomic_uint_fast64_t count;                         /* observations */
    atomic_uint_fast64_t sum_us; /* total duration, microseconds */
};

struct http__metrics {
    struct http__path_metrics **paths; /* owned; grown by add_routes only */
    size_t n_paths;
    struct http__path_metrics *unmatched; /* one of paths */
    double start_time; /* process start, seconds since the epoch */
};

/* One compiled route. */
struct http__route {
    const struct http_route *def;  /* borrowed from the caller's table */
    void *ctx;                     /* passed to the handler */
    char *segments[HTTP_MAX_SEGMENTS]; /* owned; literal, or param name */
    bool is_param[HTTP_MAX_SEGMENTS];
    size_t n_segments;
    struct http__path_metrics *metrics; /* shared by routes of one pattern */
};

struct http__router {
    struct http__route *routes; /* owned */
    size_t n_routes;
};

/* The result of matching a path. */
struct http__match {
    const struct http__route *route; /* NULL: no route for this method */
    char *params[HTTP_MAX_PARAMS];   /* owned; decoded, in pattern order */
    size_t n_params;
    char allow[96];  /* methods of the path ("GET, POST"); "" if none */
    struct http__path_metrics *metrics; /* the path's label, if known */
};

struct http_header {
    char *name;  /* owned */
    char *value; /* owned */
};

/* The response being built; sent by http.c or read by the fuzz target. */
struct http__response {
    int status;          /* 0 until a response is set */
    char *content_type;  /* owned; NULL for none */
    char *body;          /* owned (malloc); NULL for none */
    size_t len;
    struct http_header *headers; /* owned */
    size_t n_headers;
    size_t alloc_headers;
};

enum http__stage {
    HTTP_STAGE_NEW,     /* headers not looked at yet */
    HTTP_STAGE_BODY,    /* receiving the body */
    HTTP_STAGE_DONE,    /* response ready */
};

struct http_request {
    struct http_server *server;
    void *conn;                      /* struct MHD_Connection; NULL in tests */
    const char *const *fake_headers; /* name, value pairs when conn is NULL */
    enum http__stage stage;

    char method[16];
    enum http__method method_id;
    char *raw_url;      /* owned; as received, query included */
    char *path;         /* owned; raw path, query excluded */
    char **query;       /* owned; decoded name, value pairs */
    size_t n_query;
    struct http__match match;
    struct http__path_metrics *metrics; /* label counted for this request */
    const char *route_label;            /* pattern or "unmatched" */

    char request_id[65];
    char client_ip[64];
    struct log_ctx log;
    struct auth_claims claims;
    bool authenticated;
    bool token_from_protocol; /* echo "bearer" in Sec-WebSocket-Protocol */

    struct buf body;
    size_t max_body;
    bool has_body;     /* Content-Length > 0 or chunked */
    unsigned long long content_length; /* announced; 0 when chunked */
    size_t drained;    /* body bytes dropped after a refusal */
    json_t *json;      /* owned */
    int64_t start_ns;

    struct http__response resp;
    http_upgrade_fn upgrade_fn;
    void *upgrade_cls;
    bool logged;       /* access log and metrics already recorded */
    bool left_in_flight; /* no longer counted in server->in_flight */
};

struct http_server {
    struct http_options opts;
    char *cors_origins;       /* owned copy of opts.cors_origins */
    struct http__router router;
    struct http__metrics metrics;
    void *daemons[HTTP_MAX_LISTENERS]; /* struct MHD_Daemon */
    size_t n_daemons;
    int first_port;
    atomic_int in_flight;     /* requests received, response not yet sent */
    atomic_bool stopping;
    int wake[2];              /* self-pipe written by the signal handler */
    void (*on_stop)(void *);  /* called once when shutdown starts */
    void *on_stop_ctx;
    struct log_ctx log;
};

/* router.c */
void http__router_release(struct http__router *r);

/*
 * Compile and append routes; returns 0 or ERR_INVALID (malformed pattern,
 * duplicate method and pattern).  Registers one metrics label per pattern.
 */
int http__router_add(struct http__router *r, struct http__metrics *m,
                     const struct http_route *routes, size_t n, void *ctx);

/*
 * Match method and path (raw, percent-encoded).  Returns 0 with m filled
 * (m->route NULL when no route takes this method), or ERR_INVALID for a
 * malformed path (bad escape, NUL, too many segments).  Release m with
 * http__match_release().
 */
int http__router_match(const struct http__router *r, const char *method,
                       const char *path, struct http__match *m);
void http__match_release(struct http__match *m);

/*
 * Decode %XX escapes of s[0..len) into a new string; plus_space turns '+'
 * into ' ' (query strings).  Returns NULL for a bad escape or a decoded
 * NUL byte.
 */
char *http__decode(const char *s, size_t len, bool plus_space);

/*
 * Parse a query string (without '?') into decoded name, value pairs in a
 * new array (*out, 2 * *n strings).  Returns 0 or ERR_INVALID.
 */
int http__query_parse(const char *q, char ***out, size_t *n);

enum http__method http__method_id(const char *method);

/* metrics.c */
void http__metrics_init(struct http__metrics *m);
void http__metrics_release(struct http__metrics *m);
struct http__path_metrics *http__metrics_path(struct http__metrics *m,
                                              const char *label);
void http__metrics_record(struct http__path_metrics *p,
                          enum http__method method, int status,
                          int64_t duration_ns);

/* Render the Prometheus text format into b; returns 0 or ERR_TOO_BIG. */
int http__metrics_render(const struct http__metrics *m, struct buf *b);

/* request.c */
struct http_request *http__req_new(struct http_server *s, const char *url);
void http__req_free(struct http_request *req);
bool http__req_begin(struct http_request *req, const char *method);
/* Take a body chunk; false when the connection must be closed. */
bool http__req_body(struct http_request *req, const char *data, size_t len);
void http__req_finish(struct http_request *req);

/* Count the request in the metrics and write its access log line. */
void http__req_log(struct http_request *req);

/* Add the built-in routes (/healthz, /readyz, /metrics) to s. */
int http__builtin_add(struct http_server *s);

#endif
