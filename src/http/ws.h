/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket connections (RFC 6455) over libmicrohttpd's upgrade, framed by
 * wslay.  One event thread serves every upgraded socket; other threads
 * send through a bounded per-connection queue and never block on a slow
 * peer.  The event thread pings, drops peers that miss a pong, and closes
 * a connection with 4001 when the token it was opened with expires.
 */
#ifndef PW_HTTP_WS_H
#define PW_HTTP_WS_H

#include "core/base.h"
#include "http/auth.h"

struct http_request;
struct http_server;
struct ws;

/* Close codes used by this layer besides the RFC 6455 ones. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,    /* server shutting down, peer gone */
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_INVALID_DATA = 1007,  /* text that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,        /* slow client: send queue over its cap */
    WS_CLOSE_TOO_BIG = 1009,       /* message over PW_WS_MAX_MESSAGE */
    WS_CLOSE_ABNORMAL = 1006,      /* reported only: no close frame seen */
    WS_CLOSE_TOKEN_EXPIRED = 4001, /* the access token's exp passed */
};

/*
 * What a service does with a connection.  Every callback runs on the
 * event thread, one at a time per process, and must not block: hand slow
 * work to another thread (holding a ws_ref()).  Any callback may be NULL.
 * on_close is called exactly once for a connection whose on_open ran,
 * with the code the peer sent, the code the server sent, or 1006 when
 * the connection ended without a close frame.  free_user_data, when set,
 * is called with user_data when the last reference goes, whether or not
 * the connection ever opened.
 */
struct ws_callbacks {
    void (*on_open)(struct ws *ws);
    void (*on_text)(struct ws *ws, const char *data, size_t len);
    void (*on_binary)(struct ws *ws, const uint8_t *data, size_t len);
    void (*on_close)(struct ws *ws, int code);
    void (*free_user_data)(void *user_data);
};

/*
 * Accept a WebSocket upgrade request from a route handler: check Upgrade,
 * Connection, Sec-WebSocket-Version (13) and Sec-WebSocket-Key, select the
 * "bearer" subprotocol when the client offered it, and send 101.  cb is
 * borrowed and must outlive the connection (declare it static const);
 * user_data is handed to the connection (see free_user_data), also when
 * this call fails.  The request's claims, when authenticated, are kept so
 * the connection closes when the token expires.  Returns the status of
 * the response sent: 0, or a negative ERR_* after a 400 / 426 answer.
 */
int ws_accept(struct http_request *req, const struct ws_callbacks *cb,
              void *user_data);

/*
 * Queue a text (valid UTF-8 is the caller's promise) or binary message;
 * data is copied.  Thread-safe, never blocks on the peer.  Returns 0,
 * ERR_TOO_BIG when len alone passes the queue cap, ERR_BUSY when the
 * queue is full (the connection is then closed with 1008), or
 * ERR_CONFLICT when the connection is closing or closed.
 */
int ws_send_text(struct ws *ws, const char *data, size_t len);
int ws_send_binary(struct ws *ws, const void *data, size_t len);

/*
 * Start the closing handshake: messages already queued go out first, then
 * a close frame with code and reason (copied; at most 123 bytes are
 * kept).  Thread-safe; a second call does nothing.
 */
void ws_close(struct ws *ws, int code, const char *reason);

/* The user_data given to ws_accept(), borrowed. */
void *ws_user_data(const struct ws *ws);

/* The claims of the token the connection was opened with, or NULL. */
const struct auth_claims *ws_claims(const struct ws *ws);

/*
 * Take or drop a reference.  A thread that keeps a connection beyond a
 * callback holds a reference; sending on a closed connection is safe and
 * returns ERR_CONFLICT.  ws_unref(NULL) does nothing.
 */
void ws_ref(struct ws *ws);
void ws_unref(struct ws *ws);

/*
 * Close every connection with 1001, wait up to two seconds for the close
 * handshakes, release the sockets and stop the event thread.  Call before
 * http_server_free(): libmicrohttpd must get its upgraded sockets back
 * before it stops.  Later upgrades are refused; safe to call when no
 * connection was ever accepted.
 */
void ws_shutdown(void);

/*
 * Hook ws_shutdown() to the start of s's shutdown, and register the
 * built-in test routes when PW_TEST_ROUTES is on: GET /ws/echo (echoes
 * every message), GET /ws/topics/{topic} (any role; subscribes with
 * ?after=N) and POST /ws/topics/{topic} (admins; publishes the JSON
 * body).  Call once per server.  Returns 0 or the error of
 * http_server_add_routes().
 */
int ws_register_routes(struct http_server *s);

#endif
