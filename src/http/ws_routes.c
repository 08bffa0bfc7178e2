/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in WebSocket routes for the black-box tests, served only when
 * PW_TEST_ROUTES is on: an echo socket, a socket subscribed to any hub
 * topic and a publish route for admins.  They stay off in production
 * because a service must decide who may read which topic.
 */
#include "core/base.h"
#include "http/ws.h"

#include "core/config.h"
#include "core/err.h"
#include "http/http.h"
#include "http/hub.h"

static void echo_text(struct ws *ws, const char *data, size_t len)
{
    /* A refused send closes a slow peer; nothing else to do here. */
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

static int handle_echo(struct http_request *req, void *ctx UNUSED)
{
    return ws_accept(req, &echo_callbacks, NULL);
}

struct subscription {
    char topic[HUB_TOPIC_MAX + 1];
    uint64_t after; /* last seq the client has, or HUB_LIVE */
};

static void topic_open(struct ws *ws)
{
    struct subscription *sub = ws_user_data(ws);
    int rc = hub_subscribe(ws, sub->topic, sub->after);

    if (rc)
        ws_close(ws, 1011, err_str(rc));
}

static const struct ws_callbacks topic_callbacks = {
    .on_open = topic_open,
    .free_user_data = free,
};

/* Parse ?after=N (decimal, no sign); absent means live only. */
static int parse_after(const char *s, uint64_t *out)
{
    char *end;

    if (!s) {
        *out = HUB_LIVE;
        return 0;
    }
    if (*s < '0' || *s > '9')
        return ERR_INVALID;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v >= HUB_LIVE)
        return ERR_INVALID;
    *out = v;
    return 0;
}

static int handle_subscribe(struct http_request *req, void *ctx UNUSED)
{
    const char *topic = http_req_param(req, "topic");
    uint64_t after;

    if (!hub_is_valid_topic(topic))
        return http_respond_err(req, ERR_INVALID,
                                "invalid topic: use 1 to 200 of "
                                "A-Z a-z 0-9 . _ : / -");
    if (parse_after(http_req_query(req, "after"), &after))
        return http_respond_err(req, ERR_INVALID,
                                "invalid after: expected a sequence number");

    struct subscription *sub = xcalloc(1, sizeof(*sub));
    strlcpy_pw(sub->topic, topic, sizeof(sub->topic));
    sub->after = after;
    return ws_accept(req, &topic_callbacks, sub);
}

static int handle_publish(struct http_request *req, void *ctx UNUSED)
{
    const char *topic = http_req_param(req, "topic");
    json_t *body = http_req_json(req);
    uint64_t seq;

    if (!hub_is_valid_topic(topic))
        return http_respond_err(req, ERR_INVALID,
                                "invalid topic: use 1 to 200 of "
                                "A-Z a-z 0-9 . _ : / -");
    if (!body)
        return http_respond_err(req, ERR_INVALID,
                                "missing body: expected a JSON object");

    int rc = hub_publish_json(topic, body, &seq);
    if (rc)
        return http_respond_err(req, rc, NULL);
    return http_respond_json(req, 202,
                             json_pack("{s:s, s:I}", "topic", topic, "seq",
                                       (json_int_t)seq));
}

static const struct http_route test_routes[] = {
    {"GET", "/ws/echo", handle_echo, 0, HTTP_WEBSOCKET, 0, NULL},
    {"GET", "/ws/topics/{topic}", handle_subscribe, AUTH_ROLE_ANY,
     HTTP_WEBSOCKET, 0, NULL},
    {"POST", "/ws/topics/{topic}", handle_publish, AUTH_ROLE_ADMIN, 0, 0,
     NULL},
};

static void stop_websockets(void *ctx UNUSED)
{
    ws_shutdown();
}

int ws_register_routes(struct http_server *s)
{
    /*
     * The server stops its libmicrohttpd daemons before it returns, and
     * they must have their upgraded sockets back by then.
     */
    http_server_on_stop(s, stop_websockets, NULL);
    if (!config_bool("PW_TEST_ROUTES"))
        return 0;
    return http_server_add_routes(s, test_routes, ARRAY_SIZE(test_routes),
                                  NULL);
}
