/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket connections: the upgrade handshake, one epoll event thread for
 * every upgraded socket, wslay for framing.  Other threads only append to
 * a connection's locked send queue and wake the event thread through an
 * eventfd.  The wslay context, the socket and the timers belong to the
 * event thread alone.  Bytes queued for a peer (our queue plus wslay's) never
 * pass PW_WS_SEND_QUEUE: a send that would is refused and the peer closed.
 */
#include "core/base.h"
#include "http/ws.h"

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/utc.h"
#include "http/http.h"
#include "http/hub.h"
#include "http/ws_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

/* Bytes moved from our queue into wslay at a time; the rest waits with us. */
#define FEED_BYTES (64 * 1024)

/* Period of the timer pass over all connections, in ms. */
#define TICK_MS 250

/* Time the open connections get to finish their close handshake on shutdown. */
#define SHUTDOWN_WAIT_MS 2000

/* Cap of a detached connection's captured output. */
#define DETACHED_OUTPUT_CAP (1024 * 1024)

/* Maximum close reason: 125 payload bytes minus the 2-byte code. */
#define REASON_MAX 123

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static struct log_ctx ws_log = LOG_CTX_INIT("ws");

struct ws_msg {
    struct ws_msg *next;
    uint8_t opcode; /* WSLAY_TEXT_FRAME or WSLAY_BINARY_FRAME */
    size_t len;     /* bytes in data */
    uint8_t data[];
};

struct ws {
    atomic_int refs;
    const struct ws_callbacks *cb; /* borrowed, static */
    void *user_data;               /* owned through cb->free_user_data */
    struct auth_claims claims;     /* copy; valid when has_claims */
    bool has_claims;
    size_t queue_cap;              /* bytes, PW_WS_SEND_QUEUE */

    /* Guarded by lock; written by any thread. */
    pthread_mutex_t lock;
    struct ws_msg *out_head;       /* queued messages, oldest first */
    struct ws_msg *out_tail;
    size_t out_bytes;              /* payload bytes in out_head's list */
    size_t wslay_bytes;            /* payload bytes still queued in wslay */
    int close_code;                /* requested close, 0 for none */
    char close_reason[REASON_MAX + 1];
    bool close_now;                /* drop the queue, close at once */
    bool closed;                   /* torn down; sends are refused */

    /* Guarded by the loop's lock. */
    bool attached;                 /* handed to the event thread */
    bool notified;                 /* on the loop's wake list */
    struct ws *next_wake;

    /* Event thread only (or the owner of a detached connection). */
    wslay_event_context_ptr ctx;
    int fd;                        /* upgraded socket, -1 when detached */
    void *handle;                  /* for http_upgrade_close() */
    struct buf in;                 /* bytes read before the upgrade */
    size_t in_off;                 /* bytes of in already consumed */
    struct buf *output;            /* detached: frames the server wrote */
    bool registered;               /* added to epoll and the all list */
    bool opened;                   /* on_open ran, on_close is owed */
    bool torn_down;
    bool close_queued;             /* our close frame is in wslay */
    bool failed;                   /* socket error or EOF: end now */
    uint32_t epoll_events;         /* interest currently registered */
    int64_t next_ping_ms;          /* monotonic ms */
    int64_t pong_deadline_ms;      /* 0 unless a ping awaits its pong */
    int64_t close_deadline_ms;     /* 0 until a close is requested */
    int64_t exp_ms;                /* token expiry, wall clock; 0 for none */
    struct ws *prev, *next;        /* the loop's list of connections */
    struct ws *next_dead;          /* torn down, released after the pass */
};

struct ws_loop {
    pthread_mutex_t lock;
    bool running;                  /* the thread exists */
    bool stopping;                 /* ws_shutdown() was called */
    bool finishing;                /* the thread's last pass: no newcomers */
    int epfd;
    int evfd;
    pthread_t thread;
    struct ws *wake;               /* connections with news, each ref'd */

    /* Event thread only. */
    struct ws *all;                /* registered connections */
    struct ws *dead;               /* torn down during this pass */
    int64_t ping_ms;               /* PW_WS_PING_INTERVAL */
    int64_t pong_ms;               /* PW_WS_PONG_TIMEOUT */
};

static struct ws_loop loop = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .epfd = -1,
    .evfd = -1,
};

/*
 * SHA-1 (FIPS 180-4).  libsodium, our crypto library, has no SHA-1, and
 * the handshake needs nothing else from it; this is not used for security.
 */
static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void ws__sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                     0xc3d2e1f0};
    const uint8_t *p = data;
    size_t left = len;

    for (; left >= 64; left -= 64, p += 64)
        sha1_block(h, p);

    /* Pad with 0x80, zeros and the bit length, in one or two blocks. */
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tail_len = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, tail);
    if (tail_len == 128)
        sha1_block(h, tail + 64);

    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void ws__accept_key(const char *key, char out[WS_ACCEPT_SIZE])
{
    char joined[128];
    uint8_t digest[20];

    int n = snprintf(joined, sizeof(joined), "%s%s", key, ws_guid);
    assert(n > 0);
    assert((size_t)n < sizeof(joined));
    ws__sha1(joined, (size_t)n, digest);
    sodium_bin2base64(out, WS_ACCEPT_SIZE, digest, sizeof(digest),
                      sodium_base64_VARIANT_ORIGINAL);
}

/* Whether the comma-separated header value list contains token (any case). */
static bool header_has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;

    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = end;
    }
    return false;
}

static void free_queue(struct ws_msg *m)
{
    while (m) {
        struct ws_msg *next = m->next;
        free(m);
        m = next;
    }
}

void ws_ref(struct ws *ws)
{
    atomic_fetch_add(&ws->refs, 1);
}

static void ws_free(struct ws *ws)
{
    if (ws->opened && !ws->torn_down && ws->cb->on_close)
        ws->cb->on_close(ws, WS_CLOSE_ABNORMAL);
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    free_queue(ws->out_head);
    buf_release(&ws->in);
    if (ws->output) {
        buf_release(ws->output);
        free(ws->output);
    }
    if (ws->cb->free_user_data)
        ws->cb->free_user_data(ws->user_data);
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}

void ws_unref(struct ws *ws)
{
    if (ws && atomic_fetch_sub(&ws->refs, 1) == 1)
        ws_free(ws);
}

void *ws_user_data(const struct ws *ws)
{
    return ws->user_data;
}

const struct auth_claims *ws_claims(const struct ws *ws)
{
    return ws->has_claims ? &ws->claims : NULL;
}

/*
 * wslay callbacks.  The recv callback serves bytes that arrived with the
 * upgrade request first, then the socket.  A detached connection has only
 * the former, so the tests and the fuzz target feed it that way.
 */
static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *data,
                       size_t len, int flags UNUSED, void *user)
{
    struct ws *ws = user;

    if (ws->in_off < ws->in.len) {
        size_t n = MIN(len, ws->in.len - ws->in_off);
        memcpy(data, ws->in.data + ws->in_off, n);
        ws->in_off += n;
        if (ws->in_off == ws->in.len) {
            buf_reset(&ws->in);
            ws->in_off = 0;
        }
        return (ssize_t)n;
    }
    if (ws->fd < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }

    ssize_t r;
    do {
        r = recv(ws->fd, data, len, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r <= 0) {
        if (r < 0)
            log_debug(&ws_log, "read from websocket failed: %s",
                      strerror(errno));
        ws->failed = true;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *user)
{
    struct ws *ws = user;

    if (ws->fd < 0) {
        if (ws->output)
            (void)buf_append(ws->output, data, len);
        return (ssize_t)len;
    }

    int sflags = MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
    ssize_t r;
    do {
        r = send(ws->fd, data, len, sflags);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r < 0) {
        log_debug(&ws_log, "write to websocket failed: %s", strerror(errno));
        ws->failed = true;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

/* Queue our close frame in wslay, once. */
static void queue_close(struct ws *ws, int code, const char *reason)
{
    if (ws->close_queued)
        return;
    ws->close_queued = true;
    /* Refused when wslay already queued its own close (a protocol error). */
    (void)wslay_event_queue_close(ws->ctx, (uint16_t)code,
                                  (const uint8_t *)reason,
                                  reason ? strlen(reason) : 0);
}

static void on_msg_recv(wslay_event_context_ptr ctx UNUSED,
                        const struct wslay_event_on_msg_recv_arg *arg,
                        void *user)
{
    struct ws *ws = user;

    if (arg->opcode == WSLAY_PONG) {
        ws->pong_deadline_ms = 0;
        return;
    }

    /* After our close frame, RFC 6455 lets us discard data messages. */
    if (ws->close_queued)
        return;

    /* wslay has checked text for UTF-8 already, failing it with 1007. */
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (ws->cb->on_text)
            ws->cb->on_text(ws, (const char *)arg->msg, arg->msg_length);
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
        if (ws->cb->on_binary)
            ws->cb->on_binary(ws, arg->msg, arg->msg_length);
    }
}

static const struct wslay_event_callbacks wslay_cbs = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_msg_recv_callback = on_msg_recv,
};

static struct ws *ws_new(const struct ws_callbacks *cb, void *user_data,
                         const struct auth_claims *claims, size_t queue_cap,
                         size_t max_message)
{
    struct ws *ws = xcalloc(1, sizeof(*ws));

    atomic_init(&ws->refs, 1);
    ws->cb = cb;
    ws->user_data = user_data;
    if (claims) {
        ws->claims = *claims;
        ws->has_claims = true;
        ws->exp_ms = claims->exp * 1000;
    }
    ws->queue_cap = queue_cap;
    pthread_mutex_init(&ws->lock, NULL);
    ws->fd = -1;
    buf_init(&ws->in, max_message + 65536);

    if (wslay_event_context_server_init(&ws->ctx, &wslay_cbs, ws) != 0)
        BUG("out of memory creating a wslay context");
    wslay_event_config_set_max_recv_msg_length(ws->ctx, max_message);
    return ws;
}

/* Put ws on the event thread's wake list; the caller holds no ws lock. */
static void loop_wake(struct ws *ws)
{
    bool kick = false;

    pthread_mutex_lock(&loop.lock);
    if (loop.running && !loop.finishing && ws->attached && !ws->notified) {
        ws->notified = true;
        ws_ref(ws);
        ws->next_wake = loop.wake;
        loop.wake = ws;
        kick = true;
    }
    int evfd = loop.evfd;
    pthread_mutex_unlock(&loop.lock);

    if (kick) {
        uint64_t one = 1;
        ssize_t r = write(evfd, &one, sizeof(one));
        /* A full counter (EAGAIN) already means the thread will wake. */
        (void)r;
    }
}

static int ws_send(struct ws *ws, uint8_t opcode, const void *data,
                   size_t len)
{
    int rc = 0;
    bool overflow = false;

    if (len > ws->queue_cap)
        return ERR_TOO_BIG;

    pthread_mutex_lock(&ws->lock);
    if (ws->closed || ws->close_code) {
        rc = ERR_CONFLICT;
        goto out_unlock;
    }
    if (ws->out_bytes + ws->wslay_bytes + len > ws->queue_cap) {
        /*
         * A peer this far behind is not reading; keeping its messages
         * would let one client grow the server's memory without bound.
         */
        ws->close_code = WS_CLOSE_POLICY;
        strlcpy_pw(ws->close_reason, "send queue full: client too slow",
                   sizeof(ws->close_reason));
        ws->close_now = true;
        overflow = true;
        rc = ERR_BUSY;
        goto out_unlock;
    }

    struct ws_msg *m = malloc(sizeof(*m) + len);
    if (!m) {
        rc = ERR_NOMEM;
        goto out_unlock;
    }
    m->next = NULL;
    m->opcode = opcode;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    if (ws->out_tail)
        ws->out_tail->next = m;
    else
        ws->out_head = m;
    ws->out_tail = m;
    ws->out_bytes += len;

out_unlock:
    pthread_mutex_unlock(&ws->lock);
    if (overflow)
        log_warn(&ws_log,
                 "closing slow websocket client: more than %zu bytes queued",
                 ws->queue_cap);
    if (rc == 0 || overflow)
        loop_wake(ws);
    return rc;
}

int ws_send_text(struct ws *ws, const char *data, size_t len)
{
    return ws_send(ws, WSLAY_TEXT_FRAME, data, len);
}

int ws_send_binary(struct ws *ws, const void *data, size_t len)
{
    return ws_send(ws, WSLAY_BINARY_FRAME, data, len);
}

void ws_close(struct ws *ws, int code, const char *reason)
{
    pthread_mutex_lock(&ws->lock);
    bool first = !ws->closed && !ws->close_code;
    if (first) {
        ws->close_code = code;
        size_t n = strlcpy_pw(ws->close_reason, reason ? reason : "",
                              sizeof(ws->close_reason));
        /* Cut a long reason on a UTF-8 character boundary. */
        if (n >= sizeof(ws->close_reason)) {
            size_t end = sizeof(ws->close_reason) - 1;
            while (end > 0 && ((uint8_t)ws->close_reason[end] & 0xc0) == 0x80)
                end--;
            ws->close_reason[end] = '\0';
        }
    }
    pthread_mutex_unlock(&ws->lock);
    if (first)
        loop_wake(ws);
}

/*
 * Move queued messages into wslay until it contains FEED_BYTES, and queue a
 * requested close once every message before it is written: wslay sends
 * control frames ahead of queued data.  An overflow closes at once.
 */
static void feed(struct ws *ws, int64_t now)
{
    for (;;) {
        struct ws_msg *m = NULL;
        int close_code = 0;
        char reason[REASON_MAX + 1] = "";

        pthread_mutex_lock(&ws->lock);
        if (ws->close_now) {
            free_queue(ws->out_head);
            ws->out_head = ws->out_tail = NULL;
            ws->out_bytes = 0;
        }
        ws->wslay_bytes = wslay_event_get_queued_msg_length(ws->ctx);
        if (ws->out_head && ws->wslay_bytes < FEED_BYTES) {
            m = ws->out_head;
            ws->out_head = m->next;
            if (!ws->out_head)
                ws->out_tail = NULL;
            ws->out_bytes -= m->len;
            ws->wslay_bytes += m->len;
        } else if (!ws->out_head && ws->close_code && !ws->close_queued &&
                   (ws->close_now || !wslay_event_want_write(ws->ctx))) {
            close_code = ws->close_code;
            memcpy(reason, ws->close_reason, sizeof(reason));
        }
        if (ws->close_code && !ws->close_deadline_ms)
            ws->close_deadline_ms = now + loop.pong_ms;
        pthread_mutex_unlock(&ws->lock);

        if (!m) {
            if (close_code)
                queue_close(ws, close_code, reason);
            return;
        }
        struct wslay_event_msg msg = {m->opcode, m->data, m->len};
        (void)wslay_event_queue_msg(ws->ctx, &msg);
        free(m);
    }
}

/*
 * Feed wslay and write what the socket takes, until the queue is empty or
 * the socket is full.  Event thread only.
 */
static void pump(struct ws *ws, int64_t now)
{
    bool more;

    do {
        feed(ws, now);
        if (wslay_event_want_write(ws->ctx) &&
            wslay_event_send(ws->ctx) != 0) {
            ws->failed = true;
            return;
        }

        pthread_mutex_lock(&ws->lock);
        ws->wslay_bytes = wslay_event_get_queued_msg_length(ws->ctx);
        more = ws->out_head != NULL || (ws->close_code && !ws->close_queued);
        pthread_mutex_unlock(&ws->lock);

        /* wslay sent its share; give it the next share of the queue. */
    } while (more && !wslay_event_want_write(ws->ctx));
}

static int close_code_seen(struct ws *ws)
{
    if (wslay_event_get_close_received(ws->ctx))
        return wslay_event_get_status_code_received(ws->ctx);
    if (wslay_event_get_close_sent(ws->ctx))
        return wslay_event_get_status_code_sent(ws->ctx);
    return WS_CLOSE_ABNORMAL;
}

/*
 * End a connection: leave epoll, refuse further sends, tell the service,
 * leave every hub topic and give the socket back to libmicrohttpd.
 */
static void teardown(struct ws *ws)
{
    if (ws->torn_down)
        return;
    ws->torn_down = true;

    if (ws->registered) {
        (void)epoll_ctl(loop.epfd, EPOLL_CTL_DEL, ws->fd, NULL);
        if (ws->prev)
            ws->prev->next = ws->next;
        else
            loop.all = ws->next;
        if (ws->next)
            ws->next->prev = ws->prev;
    }

    pthread_mutex_lock(&ws->lock);
    ws->closed = true;
    free_queue(ws->out_head);
    ws->out_head = ws->out_tail = NULL;
    ws->out_bytes = 0;
    pthread_mutex_unlock(&ws->lock);

    if (ws->opened) {
        int code = close_code_seen(ws);
        log_debug(&ws_log, "websocket closed with code %d", code);
        if (ws->cb->on_close)
            ws->cb->on_close(ws, code);
        http_metrics_ws_closed();
    }
    hub_unsubscribe_all(ws);

    if (ws->handle) {
        http_upgrade_close(ws->handle);
        ws->handle = NULL;
        ws->fd = -1;
    }

    /*
     * Epoll events of this pass may still point at ws, so the event
     * thread's reference goes at the end of the pass (release_dead).  A
     * detached connection has no such reference.
     */
    if (ws->attached) {
        ws->next_dead = loop.dead;
        loop.dead = ws;
    }
}

static void release_dead(void)
{
    while (loop.dead) {
        struct ws *ws = loop.dead;
        loop.dead = ws->next_dead;
        ws_unref(ws);
    }
}

/* Whether the connection is over: error, or both close frames exchanged. */
static bool is_finished(struct ws *ws)
{
    return ws->failed || (!wslay_event_want_read(ws->ctx) &&
                          !wslay_event_want_write(ws->ctx));
}

static void update_interest(struct ws *ws)
{
    uint32_t ev = 0;

    if (wslay_event_want_read(ws->ctx))
        ev |= EPOLLIN | EPOLLRDHUP;
    if (wslay_event_want_write(ws->ctx))
        ev |= EPOLLOUT;
    if (ev == ws->epoll_events)
        return;

    struct epoll_event e = {.events = ev, .data.ptr = ws};
    if (epoll_ctl(loop.epfd, EPOLL_CTL_MOD, ws->fd, &e) != 0) {
        log_error(&ws_log, "update epoll for websocket failed: %s",
                  strerror(errno));
        ws->failed = true;
        return;
    }
    ws->epoll_events = ev;
}

/* After any work on ws: end it, or watch the events it now needs. */
static void settle(struct ws *ws)
{
    if (is_finished(ws))
        teardown(ws);
    else
        update_interest(ws);
}

static void on_io(struct ws *ws, uint32_t events, int64_t now)
{
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) &&
        wslay_event_want_read(ws->ctx) && wslay_event_recv(ws->ctx) != 0)
        ws->failed = true;
    /* Both directions are gone: nothing more can be read or written. */
    if (events & (EPOLLHUP | EPOLLERR))
        ws->failed = true;
    if (!ws->failed)
        pump(ws, now);
    settle(ws);
}

static void register_conn(struct ws *ws, int64_t now)
{
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = ws};

    if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, ws->fd, &e) != 0) {
        log_error(&ws_log, "add websocket to epoll failed: %s",
                  strerror(errno));
        teardown(ws);
        return;
    }
    ws->epoll_events = e.events;
    ws->registered = true;
    ws->next = loop.all;
    if (loop.all)
        loop.all->prev = ws;
    loop.all = ws;
    http_metrics_ws_opened();

    ws->next_ping_ms = now + loop.ping_ms;
    ws->opened = true;
    if (ws->cb->on_open)
        ws->cb->on_open(ws);

    /* Bytes that came with the upgrade request may hold whole frames. */
    on_io(ws, ws->in.len ? EPOLLIN : 0, now);
}

/* Timers: pings, dead peers, expired tokens and stalled close handshakes. */
static void tick(int64_t now)
{
    int64_t wall = utc_now_ms();
    struct ws *next;

    for (struct ws *ws = loop.all; ws; ws = next) {
        next = ws->next;

        if (ws->close_deadline_ms && now >= ws->close_deadline_ms) {
            log_debug(&ws_log, "websocket close handshake timed out");
            teardown(ws);
            continue;
        }
        if (ws->pong_deadline_ms && now >= ws->pong_deadline_ms) {
            log_info(&ws_log,
                     "closing websocket: no pong within %" PRId64 " ms",
                     loop.pong_ms);
            queue_close(ws, WS_CLOSE_GOING_AWAY, "ping timeout");
            (void)wslay_event_send(ws->ctx);
            teardown(ws);
            continue;
        }
        if (ws->exp_ms && wall >= ws->exp_ms) {
            ws->exp_ms = 0;
            ws_close(ws, WS_CLOSE_TOKEN_EXPIRED, "token expired");
            /* ws_close() queued a wake; the wake pass sends the close. */
        }
        if (!ws->pong_deadline_ms && now >= ws->next_ping_ms &&
            !ws->close_queued) {
            struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};
            if (wslay_event_queue_msg(ws->ctx, &ping) == 0) {
                ws->pong_deadline_ms = now + loop.pong_ms;
                ws->next_ping_ms = now + loop.ping_ms;
                pump(ws, now);
                settle(ws);
            }
        }
    }
}

static void drain_eventfd(void)
{
    uint64_t v;
    ssize_t r = read(loop.evfd, &v, sizeof(v));
    (void)r;
}

enum wake_mode {
    WAKE_RUNNING,
    WAKE_STOPPING, /* open new connections only to close them with 1001 */
    WAKE_FINAL,    /* the thread is ending: release new connections */
};

static void handle_wake(struct ws *ws, int64_t now, enum wake_mode mode)
{
    if (ws->registered) {
        pump(ws, now);
        settle(ws);
    } else if (mode == WAKE_FINAL) {
        teardown(ws);
    } else {
        register_conn(ws, now);
        if (mode == WAKE_STOPPING && !ws->torn_down)
            ws_close(ws, WS_CLOSE_GOING_AWAY, "server shutting down");
    }
}

/* Handle the connections other threads woke: new ones and new messages. */
static void process_wakes(int64_t now, enum wake_mode mode)
{
    pthread_mutex_lock(&loop.lock);
    struct ws *list = loop.wake;
    loop.wake = NULL;
    for (struct ws *ws = list; ws; ws = ws->next_wake)
        ws->notified = false;
    pthread_mutex_unlock(&loop.lock);

    struct ws *next;
    for (struct ws *ws = list; ws; ws = next) {
        next = ws->next_wake;
        if (!ws->torn_down)
            handle_wake(ws, now, mode);
        ws_unref(ws);
    }
}

static void *loop_main(void *arg UNUSED)
{
    struct epoll_event events[64];
    int64_t next_tick = utc_monotonic_ms() + TICK_MS;
    int64_t stop_deadline = 0;

    for (;;) {
        int n = epoll_wait(loop.epfd, events, (int)ARRAY_SIZE(events),
                           TICK_MS);
        if (n < 0 && errno != EINTR) {
            log_error(&ws_log, "wait for websocket events failed: %s",
                      strerror(errno));
            n = 0;
        }
        int64_t now = utc_monotonic_ms();

        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                drain_eventfd();
                continue;
            }
            struct ws *ws = events[i].data.ptr;
            if (!ws->torn_down)
                on_io(ws, events[i].events, now);
        }

        pthread_mutex_lock(&loop.lock);
        bool stopping = loop.stopping;
        pthread_mutex_unlock(&loop.lock);

        if (stopping && !stop_deadline) {
            stop_deadline = now + SHUTDOWN_WAIT_MS;
            for (struct ws *ws = loop.all; ws; ws = ws->next)
                ws_close(ws, WS_CLOSE_GOING_AWAY, "server shutting down");
        }
        process_wakes(now, stopping ? WAKE_STOPPING : WAKE_RUNNING);

        if (now >= next_tick) {
            tick(now);
            next_tick = now + TICK_MS;
        }
        release_dead();
        if (stopping && (!loop.all || now >= stop_deadline))
            break;
    }

    while (loop.all)
        teardown(loop.all);
    pthread_mutex_lock(&loop.lock);
    loop.finishing = true;
    pthread_mutex_unlock(&loop.lock);
    process_wakes(utc_monotonic_ms(), WAKE_FINAL);
    release_dead();
    return NULL;
}

/* Start the event thread on first use.  Returns 0, ERR_IO or ERR_BUSY. */
static int loop_start(void)
{
    int rc = 0;

    pthread_mutex_lock(&loop.lock);
    if (loop.stopping) {
        rc = ERR_BUSY;
        goto out_unlock;
    }
    if (loop.running)
        goto out_unlock;

    loop.ping_ms = config_int("PW_WS_PING_INTERVAL") * 1000;
    loop.pong_ms = config_int("PW_WS_PONG_TIMEOUT") * 1000;
    loop.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop.epfd < 0)
        goto out_io;
    loop.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop.evfd < 0)
        goto out_close_epfd;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, loop.evfd, &e) != 0)
        goto out_close_evfd;
    int err = pthread_create(&loop.thread, NULL, loop_main, NULL);
    if (err) {
        errno = err;
        goto out_close_evfd;
    }
    loop.running = true;
    goto out_unlock;

out_close_evfd:
    err = errno;
    close(loop.evfd);
    loop.evfd = -1;
    errno = err;
out_close_epfd:
    err = errno;
    close(loop.epfd);
    loop.epfd = -1;
    errno = err;
out_io:
    log_error(&ws_log, "start websocket event thread failed: %s",
              strerror(errno));
    rc = ERR_IO;
out_unlock:
    pthread_mutex_unlock(&loop.lock);
    return rc;
}

void ws_shutdown(void)
{
    pthread_mutex_lock(&loop.lock);
    bool running = loop.running;
    loop.stopping = true;
    int evfd = loop.evfd;
    pthread_mutex_unlock(&loop.lock);
    if (!running)
        return;

    uint64_t one = 1;
    ssize_t r = write(evfd, &one, sizeof(one));
    (void)r;
    pthread_join(loop.thread, NULL);

    pthread_mutex_lock(&loop.lock);
    loop.running = false;
    close(loop.evfd);
    close(loop.epfd);
    loop.evfd = loop.epfd = -1;
    pthread_mutex_unlock(&loop.lock);
    log_info(&ws_log, "websocket event thread stopped");
}

/* Runs on a libmicrohttpd thread once the 101 response is out. */
static void on_upgrade(void *cls, int fd, const char *extra, size_t extra_len,
                       void *handle)
{
    struct ws *ws = cls;
    int flags = fcntl(fd, F_GETFL);

    ws->fd = fd;
    ws->handle = handle;
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        (extra_len && buf_append(&ws->in, extra, extra_len) != 0)) {
        log_error(&ws_log, "prepare upgraded socket failed: %s",
                  strerror(errno));
        http_upgrade_close(handle);
        ws_unref(ws);
        return;
    }

    /*
     * The reference from ws_accept() becomes the event thread's; the wake
     * list holds one of its own.
     */
    /*
     * During shutdown the thread still takes the connection, to close it
     * with 1001: the client has seen its 101 already.
     */
    pthread_mutex_lock(&loop.lock);
    bool running = loop.running && !loop.finishing;
    if (running) {
        ws->attached = true;
        ws->notified = true;
        ws_ref(ws);
        ws->next_wake = loop.wake;
        loop.wake = ws;
    }
    int evfd = loop.evfd;
    pthread_mutex_unlock(&loop.lock);

    if (!running) {
        http_upgrade_close(handle);
        ws_unref(ws);
        return;
    }
    uint64_t one = 1;
    ssize_t r = write(evfd, &one, sizeof(one));
    (void)r;
}

/* Whether key is the base64 form of 16 bytes, as RFC 6455 requires. */
static bool is_valid_key(const char *key)
{
    uint8_t raw[18];
    size_t raw_len = 0;

    if (strlen(key) != 24)
        return false;
    return sodium_base642bin(raw, sizeof(raw), key, 24, NULL, &raw_len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           raw_len == 16;
}

static int reject(struct http_request *req, int status, const char *message,
                  void *user_data, const struct ws_callbacks *cb)
{
    if (cb->free_user_data)
        cb->free_user_data(user_data);
    if (status == 426)
        http_set_header(req, "Sec-WebSocket-Version", "13");
    http_respond_error(req, status,
                       status == 426 ? "upgrade_required" : "bad_request",
                       message, NULL);
    return ERR_INVALID;
}

int ws_accept(struct http_request *req, const struct ws_callbacks *cb,
              void *user_data)
{
    const char *upgrade = http_req_header(req, "Upgrade");
    const char *connection = http_req_header(req, "Connection");
    const char *version = http_req_header(req, "Sec-WebSocket-Version");
    const char *key = http_req_header(req, "Sec-WebSocket-Key");
    const char *protocols = http_req_header(req, "Sec-WebSocket-Protocol");
    char accept[WS_ACCEPT_SIZE];

    if (!upgrade || !header_has_token(upgrade, "websocket"))
        return reject(req, 426, "missing header \"Upgrade: websocket\"",
                      user_data, cb);
    if (!connection || !header_has_token(connection, "upgrade"))
        return reject(req, 400, "missing header \"Connection: Upgrade\"",
                      user_data, cb);
    if (!version || strcmp(version, "13") != 0)
        return reject(req, 426, "unsupported Sec-WebSocket-Version: use 13",
                      user_data, cb);
    if (!key || !is_valid_key(key))
        return reject(req, 400,
                      "invalid Sec-WebSocket-Key: expected 16 bytes in base64",
                      user_data, cb);

    int rc = loop_start();
    if (rc) {
        if (cb->free_user_data)
            cb->free_user_data(user_data);
        return http_respond_err(req, rc == ERR_BUSY ? ERR_BUSY : ERR_INTERNAL,
                                "websocket service unavailable");
    }

    struct ws *ws = ws_new(cb, user_data, http_req_auth(req),
                           (size_t)config_int("PW_WS_SEND_QUEUE"),
                           (size_t)config_int("PW_WS_MAX_MESSAGE"));

    ws__accept_key(key, accept);
    /* RFC 6455 4.2.2: clients reject a 101 without this header. */
    http_set_header(req, "Upgrade", "websocket");
    http_set_header(req, "Sec-WebSocket-Accept", accept);
    if (protocols && header_has_token(protocols, "bearer"))
        http_set_header(req, "Sec-WebSocket-Protocol", "bearer");

    /*
     * NEEDSWORK: a client that disconnects before libmicrohttpd writes the
     * 101 never reaches on_upgrade(), so this ws and its user_data leak
     * (a few hundred bytes each).  The HTTP layer has no hook for a
     * dropped upgrade.
     */
    rc = http_respond_upgrade(req, on_upgrade, ws);
    if (rc)
        ws_unref(ws);
    return rc;
}

struct ws *ws__new_detached(const struct ws_callbacks *cb, void *user_data,
                            const struct auth_claims *claims,
                            size_t queue_cap, size_t max_message)
{
    struct ws *ws = ws_new(cb, user_data, claims, queue_cap, max_message);

    ws->output = xmalloc(sizeof(*ws->output));
    buf_init(ws->output, DETACHED_OUTPUT_CAP);
    ws->opened = true;
    if (cb->on_open)
        cb->on_open(ws);
    return ws;
}

int ws__feed(struct ws *ws, const void *data, size_t len)
{
    if (ws->torn_down)
        return ERR_IO;
    if (len && buf_append(&ws->in, data, len) != 0)
        return ERR_NOMEM;

    if (wslay_event_want_read(ws->ctx) && wslay_event_recv(ws->ctx) != 0)
        ws->failed = true;
    if (!ws->failed)
        pump(ws, utc_monotonic_ms());
    if (!is_finished(ws))
        return 0;

    /* The same end as a socket's, without epoll or a handle. */
    teardown(ws);
    return ERR_IO;
}

const struct buf *ws__output(const struct ws *ws)
{
    return ws->output;
}

char *ws__pop(struct ws *ws, size_t *len, bool *binary)
{
    pthread_mutex_lock(&ws->lock);
    struct ws_msg *m = ws->out_head;
    if (m) {
        ws->out_head = m->next;
        if (!ws->out_head)
            ws->out_tail = NULL;
        ws->out_bytes -= m->len;
    }
    pthread_mutex_unlock(&ws->lock);
    if (!m)
        return NULL;

    char *copy = xmalloc(m->len + 1);
    memcpy(copy, m->data, m->len);
    copy[m->len] = '\0';
    *len = m->len;
    *binary = m->opcode == WSLAY_BINARY_FRAME;
    free(m);
    return copy;
}

int ws__close_requested(struct ws *ws)
{
    pthread_mutex_lock(&ws->lock);
    int code = ws->close_code;
    pthread_mutex_unlock(&ws->lock);
    return code;
}
