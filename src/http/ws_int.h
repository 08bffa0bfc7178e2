/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the WebSocket layer shared by ws.c, hub.c, the unit tests
 * and the fuzz target: the handshake helpers, and detached connections
 * that run the real framing code on in-memory bytes instead of a socket.
 */
#ifndef PW_HTTP_WS_INT_H
#define PW_HTTP_WS_INT_H

#include "core/base.h"
#include "core/buf.h"
#include "http/ws.h"

/* Size of a Sec-WebSocket-Accept value (28 base64 characters) and NUL. */
#define WS_ACCEPT_SIZE 29

/* Compute the SHA-1 digest of len bytes of data into out. */
void ws__sha1(const void *data, size_t len, uint8_t out[20]);

/*
 * Compute Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: the
 * base64 SHA-1 of key followed by the RFC 6455 GUID.
 */
void ws__accept_key(const char *key, char out[WS_ACCEPT_SIZE]);

/*
 * Create a connection with no socket, as if it were open: on_open runs
 * at once.  queue_cap and max_message are in bytes; claims may be NULL
 * (copied).  Frames the server would write are appended to an output
 * buffer capped at 1 MiB (see ws__output).  Returns a new reference
 * released with ws_unref(), which also runs on_close.
 */
struct ws *ws__new_detached(const struct ws_callbacks *cb, void *user_data,
                            const struct auth_claims *claims,
                            size_t queue_cap, size_t max_message);

/*
 * Feed bytes from the peer to a detached connection, then run the
 * callbacks and write what is queued to the output buffer.  Returns 0,
 * or ERR_IO once the connection has ended (close handshake done or a
 * protocol error).
 */
int ws__feed(struct ws *ws, const void *data, size_t len);

/* The bytes a detached connection has written so far (borrowed). */
const struct buf *ws__output(const struct ws *ws);

/*
 * Take the oldest message from a detached connection's send queue.
 * Returns a new NUL-terminated copy freed with free(), with its length and
 * kind, or NULL when the queue is empty.
 */
char *ws__pop(struct ws *ws, size_t *len, bool *binary);

/* The close code requested on ws (ws_close or an overflow), or 0. */
int ws__close_requested(struct ws *ws);

#endif
