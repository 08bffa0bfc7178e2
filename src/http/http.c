/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server: one libmicrohttpd daemon per listening address (epoll,
 * internal thread pool, upgrade support), the glue from MHD's callbacks to
 * the request pipeline of request.c, and graceful shutdown.  A request
 * object lives from MHD's URI callback to its completion callback; the
 * in-flight count covers exactly that span, minus upgraded connections.
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"
#include "core/utc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

/*
 * Memory MHD gives one connection for its request line, headers and read
 * buffer.  It is larger than HTTP_MAX_URL + HTTP_MAX_HEADERS so that those
 * limits are checked here and sent as the JSON error.  MHD 0.9.75 rejects
 * larger requests itself (431 with its own HTML body): measured, 40000
 * bytes of headers still reach the handler and 70000 do not.
 */
#define MHD_POOL_SIZE (64u * 1024u)

/* The write end of the running server's self-pipe, for signal handlers. */
static volatile sig_atomic_t signal_fd = -1;

struct http_server *http_server_new(const struct http_options *opts)
{
    struct http_server *s = xcalloc(1, sizeof(*s));

    s->opts = *opts;
    s->cors_origins = xstrdup(opts->cors_origins ? opts->cors_origins : "");
    s->opts.cors_origins = s->cors_origins;
    s->log = (struct log_ctx)LOG_CTX_INIT("http");
    s->wake[0] = s->wake[1] = -1;
    http__metrics_init(&s->metrics);
    if (http__builtin_add(s))
        BUG("built-in routes rejected");

    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
        log_error(&s->log, "cannot create the shutdown pipe: %s",
                  strerror(errno));
        http_server_free(s);
        return NULL;
    }
    return s;
}

static void stop_daemons(struct http_server *s)
{
    for (size_t i = 0; i < s->n_daemons; i++)
        MHD_stop_daemon(s->daemons[i]);
    s->n_daemons = 0;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    stop_daemons(s);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    http__router_release(&s->router);
    http__metrics_release(&s->metrics);
    free(s->cors_origins);
    free(s);
}

int http_server_add_routes(struct http_server *s,
                           const struct http_route *routes, size_t n,
                           void *ctx)
{
    return http__router_add(&s->router, &s->metrics, routes, n, ctx);
}

void http_server_on_stop(struct http_server *s, void (*fn)(void *),
                         void *ctx)
{
    s->on_stop = fn;
    s->on_stop_ctx = ctx;
}

/* MHD callbacks */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct http_request *req = http__req_new(s, uri);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET,
                      &((const struct sockaddr_in *)(const void *)sa)
                           ->sin_addr,
                      req->client_ip, sizeof(req->client_ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6,
                      &((const struct sockaddr_in6 *)(const void *)sa)
                           ->sin6_addr,
                      req->client_ip, sizeof(req->client_ip));
    }
    atomic_fetch_add(&s->in_flight, 1);
    return req;
}

static void leave_in_flight(struct http_request *req)
{
    if (req->left_in_flight)
        return;
    req->left_in_flight = true;
    atomic_fetch_sub(&req->server->in_flight, 1);
}

static void completed_cb(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_request *req = *con_cls;

    (void)cls;
    (void)conn;
    if (!req)
        return;
    /*
     * NEEDSWORK: requests libmicrohttpd refuses by itself (a malformed
     * request line, headers past MHD_POOL_SIZE) never reach the access
     * handler, so their status is unknown here: they get no access log
     * line and no metrics, only this debug line.
     */
    if (req->stage == HTTP_STAGE_NEW)
        log_debug(&req->log, "request ended before its headers were read "
                             "(libmicrohttpd code %d)", (int)toe);
    else if (req->resp.status)
        http__req_log(req);
    leave_in_flight(req);
    http__req_free(req);
    *con_cls = NULL;
}

static void upgrade_cb(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra, size_t extra_len, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    struct http_request *req = con_cls;

    (void)cls;
    (void)conn;
    http__req_log(req);
    leave_in_flight(req);
    req->upgrade_fn(req->upgrade_cls, sock, extra, extra_len, urh);
}

void http_upgrade_close(void *handle)
{
    MHD_upgrade_action(handle, MHD_UPGRADE_ACTION_CLOSE);
}

/* Hand req->resp to MHD. */
static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     struct http_request *req)
{
    struct http__response *r = &req->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (req->upgrade_fn)
        mr = MHD_create_response_for_upgrade(upgrade_cb, req);
    else
        mr = MHD_create_response_from_buffer(r->len, r->body,
                                             MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        log_error(&req->log, "cannot create the response to %s %s",
                  req->method, req->route_label);
        return MHD_NO;
    }
    if (!req->upgrade_fn)
        r->body = NULL; /* MHD frees it now */
    if (r->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct http_request *req = *con_cls;
    size_t n;

    (void)version;
    if (!req) {
        /* The URI callback always runs first; this is a safety net. */
        req = uri_cb(cls, url, conn);
        *con_cls = req;
    }

    if (req->stage == HTTP_STAGE_NEW) {
        req->conn = conn;
        if (http__req_begin(req, method))
            return send_response(conn, req);
        return MHD_YES;
    }

    if (*data_size) {
        n = *data_size;
        *data_size = 0;
        if (!http__req_body(req, data, n)) {
            log_debug(&req->log, "closing the connection: over %u body "
                                 "bytes after the request was refused",
                      HTTP_MAX_DRAIN);
            return MHD_NO;
        }
        return MHD_YES;
    }

    http__req_finish(req);
    return send_response(conn, req);
}

/* Keep the target as received: request.c decodes each part itself. */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static PRINTF_LIKE(2, 0) void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static struct log_ratelimit rl;
    struct http_server *s = cls;
    char line[512];
    size_t len;
    int dropped = 0;

    if (!log_ratelimit_allow(&rl, 10, 1000, &dropped))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len && line[len - 1] == '\n')
        line[--len] = '\0';
    if (dropped)
        log_warn(&s->log, "libmicrohttpd: %s (%d similar lines dropped)",
                 line, dropped);
    else
        log_warn(&s->log, "libmicrohttpd: %s", line);
}

/* Listening */

/*
 * Split "host:port", "[v6]:port" or ":port" into host (empty for any
 * address) and port.  Returns 0 or ERR_INVALID.
 */
static int split_host_port(const char *host_port, char *host,
                           size_t host_size, char *port, size_t port_size)
{
    const char *colon;
    size_t host_len;

    if (host_port[0] == '[') {
        const char *close = strchr(host_port, ']');

        if (!close || close[1] != ':')
            return ERR_INVALID;
        host_len = (size_t)(close - host_port - 1);
        if (host_len >= host_size)
            return ERR_INVALID;
        memcpy(host, host_port + 1, host_len);
        colon = close + 1;
    } else {
        colon = strrchr(host_port, ':');
        if (!colon)
            return ERR_INVALID;
        host_len = (size_t)(colon - host_port);
        if (host_len >= host_size)
            return ERR_INVALID;
        memcpy(host, host_port, host_len);
    }
    host[host_len] = '\0';
    if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strlcpy_pw(port, colon + 1, port_size) >= port_size ||
        strtol(port, NULL, 10) > 65535)
        return ERR_INVALID;
    return 0;
}

/*
 * Handlers block: on SQLite, on an Argon2id hash (about 0.1 s), on a frame
 * analysis (up to PW_MONITOR_FRAME_WAIT).  One thread per core would let
 * two logins stall every other request, so the default is four threads a
 * core, and at least eight.
 */
static int threads_of(const struct http_options *opts)
{
    long cores;

    if (opts->threads > 0)
        return opts->threads;
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    return (int)MIN(MAX(cores * 4, 8), 256);
}

int http_server_listen(struct http_server *s, const char *host_port,
                       char *err, size_t err_size)
{
    char host[256], port[8];
    struct addrinfo hints = {0}, *ai = NULL;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_UPGRADE |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    int threads = threads_of(&s->opts);
    int ret = 0;

    if (s->n_daemons == HTTP_MAX_LISTENERS) {
        snprintf(err, err_size, "too many listeners (at most %d)",
                 HTTP_MAX_LISTENERS);
        return ERR_INVALID;
    }
    if (split_host_port(host_port, host, sizeof(host), port, sizeof(port))) {
        snprintf(err, err_size,
                 "invalid listen address \"%s\": expected HOST:PORT, "
                 "[IPV6]:PORT or :PORT", host_port);
        return ERR_INVALID;
    }

    if (host[0]) {
        int gai;

        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        gai = getaddrinfo(host, port, &hints, &ai);
        if (gai) {
            snprintf(err, err_size, "cannot resolve \"%s\": %s", host,
                     gai_strerror(gai));
            return ERR_INVALID;
        }
        if (ai->ai_family == AF_INET6)
            flags |= MHD_USE_IPv6;
    } else {
        flags |= MHD_USE_DUAL_STACK;
    }

    errno = 0;
    d = MHD_start_daemon(
        flags, (uint16_t)strtol(port, NULL, 10), NULL, NULL, access_cb, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opts.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_POOL_SIZE,
        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s, MHD_OPTION_NOTIFY_COMPLETED,
        completed_cb, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
        MHD_OPTION_SOCK_ADDR,
        ai ? ai->ai_addr : NULL, MHD_OPTION_END);
    if (!d) {
        int saved = errno;

        snprintf(err, err_size, "cannot listen on %s: %s%s", host_port,
                 saved ? strerror(saved) : "libmicrohttpd failed to start",
                 saved == EADDRINUSE
                     ? " (choose another address with --listen or PW_LISTEN)"
                     : "");
        ret = ERR_IO;
        goto out_free_ai;
    }

    s->daemons[s->n_daemons++] = d;
    if (s->n_daemons == 1) {
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        s->first_port = info ? info->port : 0;
    }
    log_debug(&s->log, "listening on %s with %d threads", host_port, threads);

out_free_ai:
    if (ai)
        freeaddrinfo(ai);
    return ret;
}

int http_server_port(const struct http_server *s)
{
    return s->first_port;
}

/* Running and stopping */

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (signal_fd >= 0 && write(signal_fd, &c, 1) < 0) {
        /* The pipe is full: a wake-up is already pending. */
    }
    errno = saved;
}

/* Stop accepting on every listener; idle keep-alive connections stay. */
static void quiesce(struct http_server *s)
{
    for (size_t i = 0; i < s->n_daemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemons[i]);

        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
}

int http_server_run(struct http_server *s)
{
    struct sigaction sa = {0}, old_int, old_term;
    struct pollfd pfd = {.fd = s->wake[0], .events = POLLIN};
    int64_t deadline;
    char drain[16];
    int left;

    signal_fd = s->wake[1];
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
        ;
    while (read(s->wake[0], drain, sizeof(drain)) > 0)
        ;

    atomic_store(&s->stopping, true);
    log_info(&s->log, "shutting down: %d requests in flight, %d s grace",
             atomic_load(&s->in_flight), s->opts.shutdown_grace_s);
    quiesce(s);
    if (s->on_stop)
        s->on_stop(s->on_stop_ctx);

    deadline = utc_monotonic_ms() + (int64_t)s->opts.shutdown_grace_s * 1000;
    while ((left = atomic_load(&s->in_flight)) > 0 &&
           utc_monotonic_ms() < deadline)
        poll(NULL, 0, 20);
    if (left > 0)
        log_warn(&s->log, "grace period over: closing %d requests still "
                          "in flight", left);
    stop_daemons(s);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    signal_fd = -1;
    return 0;
}
