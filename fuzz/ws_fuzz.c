/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client bytes into the WebSocket frame parser: a detached connection
 * (the real wslay context, recv callback and message dispatch of ws.c)
 * fed the input in two pieces, with an echo callback so replies are
 * framed too.  Small caps make the 1009 and 1008 paths reachable.
 */
#include "core/base.h"

#include "http/ws.h"
#include "http/ws_int.h"

static void echo_text(struct ws *ws, const char *data, size_t len)
{
    (void)ws_send_text(ws, data, len);
}

static void echo_binary(struct ws *ws, const uint8_t *data, size_t len)
{
    (void)ws_send_binary(ws, data, len);
}

static const struct ws_callbacks echo_callbacks = {
    .on_text = echo_text,
    .on_binary = echo_binary,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws *ws = ws__new_detached(&echo_callbacks, NULL, NULL, 8192,
                                     4096);
    /* Split at the offset the first byte gives, to cross frame boundaries. */
    size_t cut = size ? data[0] % (size + 1) : 0;

    if (ws__feed(ws, data, cut) == 0)
        (void)ws__feed(ws, data + cut, size - cut);
    ws_unref(ws);
    return 0;
}
