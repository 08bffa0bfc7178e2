/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP and WebSocket routes of the monitoring service.  Roles are checked
 * twice: the route table lets in the roles that may call a route at all,
 * and the use case decides per session (a student reads only their own).
 * WebSocket callbacks run on the single event thread, so they never wait
 * for a frame's analysis: results come back through the session's sink.
 */
#include "core/base.h"
#include "services/monitoring/api.h"

#include "core/err.h"
#include "core/utc.h"
#include "http/hub.h"
#include "http/multipart.h"
#include "http/ws.h"

#define STAFF (AUTH_ROLE_PROCTOR | AUTH_ROLE_ADMIN)

/* Default and largest page of GET /monitoring/sessions. */
#define LIST_DEFAULT 50

static const char *const frame_types[] = {"image/jpeg", "multipart/form-data",
                                          NULL};

static json_t *require_body(struct http_request *req)
{
    json_t *body = http_req_json(req);

    if (!body)
        http_respond_error(req, 400, "invalid",
                           "the request body must be a JSON object", NULL);
    return body;
}

static void set_retry_after(struct http_request *req, int64_t ms)
{
    char value[24];

    snprintf(value, sizeof(value), "%" PRId64, MAX((ms + 999) / 1000, 1));
    http_set_header(req, "Retry-After", value);
}

/* ---- sessions ---------------------------------------------------------- */

static int handle_start(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"exam_id", "reservation_id", NULL};
    json_t *body = require_body(req);
    const char *exam_id = NULL, *reservation_id = NULL;
    struct jfield_error e = {0};
    struct mon_session s;
    int ret;

    if (!body)
        return 0;
    if (jfield_only(body, allowed, &e) ||
        jfield_str(body, "exam_id", JFIELD_REQUIRED, 1, MON_REF_SIZE - 1,
                   &exam_id, &e) ||
        jfield_str(body, "reservation_id", 0, 1, MON_REF_SIZE - 1,
                   &reservation_id, &e))
        return http_respond_invalid(req, &e);
    if (!mon_ref_is_valid(exam_id) ||
        (reservation_id && !mon_ref_is_valid(reservation_id))) {
        const char *field =
            mon_ref_is_valid(exam_id) ? "reservation_id" : "exam_id";

        jfield_fail(&e, field,
                    "%s may contain only letters, digits and \"._:-\"",
                    field);
        return http_respond_invalid(req, &e);
    }

    ret = mon_session_start(ctx, http_req_auth(req), exam_id, reservation_id,
                            &s);
    if (ret == ERR_EXISTS)
        return http_respond_error(req, 409, "session_active",
                                  "you already have an active session of "
                                  "this exam; end it first", NULL);
    if (ret == ERR_BUSY)
        set_retry_after(req, 5000);
    if (ret)
        return ret;
    return http_respond_json(req, 201, mon_session_json(&s));
}

static int handle_end(struct http_request *req, void *ctx)
{
    struct mon_session s;
    int ret;

    ret = mon_session_end(ctx, http_req_auth(req),
                          http_req_param(req, "session_id"), &s);
    if (ret == ERR_CONFLICT)
        return http_respond_error(req, 409, "session_ended",
                                  "the session has ended already", NULL);
    if (ret)
        return ret;
    return http_respond_json(req, 200, mon_session_json(&s));
}

static json_t *summary_json(const struct mon_summary *sum)
{
    json_t *counts = json_object(), *parts = json_object();
    const struct mon_counts *c = &sum->counts;

    for (int t = 0; t < MON_ANOMALY_TYPE_COUNT; t++) {
        const struct score_part *p = &sum->score.parts[t];
        const char *name = mon_anomaly_type_name((enum mon_anomaly_type)t);

        json_object_set_new(counts, name, json_integer(sum->anomaly_count[t]));
        json_object_set_new(parts, name,
                            json_pack("{s:f, s:f, s:f}", "weight", p->weight,
                                      "units", p->units, "points",
                                      p->points));
    }
    return json_pack("{s:I, s:I, s:I, s:o, s:o, s:{s:f, s:I, s:o}}",
                     "frames_received", (json_int_t)c->received,
                     "frames_analysed", (json_int_t)c->analysed,
                     "frames_dropped", (json_int_t)c->dropped,
                     "one_face_share",
                     c->analysed ? json_real((double)c->one_face /
                                             (double)c->analysed)
                                 : json_null(),
                     "anomalies", counts, "suspicion", "score",
                     sum->score.score, "unit_seconds",
                     (json_int_t)(sum->score_config.unit_ms / 1000),
                     "parts", parts);
}

static int handle_get(struct http_request *req, void *ctx)
{
    struct mon_summary *sum = xmalloc(sizeof(*sum));
    json_t *body;
    int ret;

    ret = mon_session_get(ctx, http_req_auth(req),
                          http_req_param(req, "session_id"), sum);
    if (!ret) {
        body = mon_session_json(&sum->session);
        json_object_set_new(body, "summary", summary_json(sum));
        ret = http_respond_json(req, 200, body);
    }
    free(sum);
    return ret;
}

static int parse_limit(const char *s, size_t *out, struct jfield_error *e)
{
    char *end;
    long v;

    *out = LIST_DEFAULT;
    if (!s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > MON_LIST_MAX)
        return jfield_fail(e, "limit", "limit must be an integer from 1 to %d",
                           MON_LIST_MAX);
    *out = (size_t)v;
    return 0;
}

static int handle_list(struct http_request *req, void *ctx)
{
    const char *status = http_req_query(req, "status");
    struct mon_session_filter f = {http_req_query(req, "exam_id"), -1,
                                   http_req_query(req, "cursor")};
    struct jfield_error e = {0};
    struct mon_session *page;
    json_t *items;
    size_t limit, n;
    int ret;

    if (parse_limit(http_req_query(req, "limit"), &limit, &e))
        return http_respond_invalid(req, &e);
    if (status && !strcmp(status, "active"))
        f.status = MON_SESSION_ACTIVE;
    else if (status && !strcmp(status, "ended"))
        f.status = MON_SESSION_ENDED;
    else if (status)
        return http_respond_invalid(
            req, (jfield_fail(&e, "status", "status must be active or ended"),
                  &e));
    if (f.exam_id && !*f.exam_id)
        f.exam_id = NULL;

    page = xcalloc(limit, sizeof(*page));
    ret = mon_session_list(ctx, http_req_auth(req), &f, limit, page, &n);
    if (ret)
        goto out_free;
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, mon_session_json(&page[i]));
    ret = http_respond_json(req, 200,
                            json_pack("{s:o, s:s?}", "items", items,
                                      "next_cursor",
                                      n == limit ? page[n - 1].id : NULL));

out_free:
    free(page);
    return ret;
}

/* ---- frames ------------------------------------------------------------ */

/*
 * Read the optional ?wait=MS of a frame post: how long the client is
 * willing to wait for the analysis, capped by PW_MONITOR_FRAME_WAIT in the
 * service.  A client that streams frames and reads results elsewhere sends
 * wait=0 and gets 202 queued at once.  Returns 0 with *wait_ms (-1 when
 * absent) or ERR_INVALID.
 */
static int parse_wait(struct http_request *req, int *wait_ms)
{
    const char *q = http_req_query(req, "wait");
    char *end;
    long v;

    *wait_ms = -1;
    if (!q)
        return 0;
    errno = 0;
    v = strtol(q, &end, 10);
    if (errno || end == q || *end || v < 0 || v > 10000)
        return ERR_INVALID;
    *wait_ms = (int)v;
    return 0;
}

static int handle_frame(struct http_request *req, void *ctx)
{
    const char *ct = http_req_header(req, "Content-Type");
    struct mon_frame_result *res;
    const uint8_t *data;
    int64_t retry_after = 0;
    uint8_t *jpeg;
    size_t len;
    int wait_ms, ret;

    if (parse_wait(req, &wait_ms)) {
        struct jfield_error e;

        jfield_fail(&e, "wait", "wait must be milliseconds from 0 to 10000");
        return http_respond_invalid(req, &e);
    }

    data = http_req_body(req, &len);
    if (ct && !strncasecmp(ct, "multipart/", 10)) {
        ret = multipart_find(ct, data, len, "image/jpeg", &data, &len);
        if (ret == ERR_INVALID)
            return http_respond_error(req, 400, "invalid",
                                      "malformed multipart body", NULL);
        if (ret == ERR_TOO_BIG)
            return http_respond_error(req, 400, "invalid",
                                      "the multipart body has too many "
                                      "parts before its image/jpeg part",
                                      NULL);
        if (ret)
            return http_respond_error(req, 415, "unsupported_media_type",
                                      "the multipart body has no "
                                      "image/jpeg part", NULL);
    }
    if (!data || len == 0)
        return http_respond_error(req, 400, "invalid",
                                  "the request has no frame", NULL);

    jpeg = malloc(len);
    if (!jpeg)
        return ERR_NOMEM;
    memcpy(jpeg, data, len);
    res = xmalloc(sizeof(*res));
    ret = mon_frame_submit(ctx, http_req_auth(req),
                           http_req_param(req, "session_id"), jpeg, len,
                           wait_ms, res, &retry_after);
    if (ret) {
        free(jpeg);
        free(res);
        if (ret == ERR_RATE_LIMITED || ret == ERR_BUSY)
            set_retry_after(req, ret == ERR_BUSY ? 1000 : retry_after);
        if (ret == ERR_UNSUPPORTED)
            return http_respond_error(req, 415, "unsupported_media_type",
                                      "the frame is not a JPEG image", NULL);
        if (ret == ERR_CONFLICT)
            return http_respond_error(req, 409, "session_ended",
                                      "the session has ended", NULL);
        return ret;
    }

    {
        json_t *body = mon_frame_result_json(res);

        json_object_del(body, "type");
        free(res);
        return http_respond_json(req, 202, body);
    }
}

/* ---- events ------------------------------------------------------------ */

static const char *const event_names[] = {
    "tab_hidden", "tab_visible", "window_blur", "window_focus",
    "fullscreen_exit", "fullscreen_enter", "webcam_stopped", "copy",
    "paste", NULL,
};

/*
 * Read {type, at} of a browser event.  at is the browser's clock, an RFC
 * 3339 time or milliseconds since the epoch; it is kept, not trusted.
 */
static int parse_event(json_t *body, struct mon_event *ev,
                       struct jfield_error *e)
{
    static const char *const allowed[] = {"type", "at", NULL};
    json_t *at;
    int choice;

    memset(ev, 0, sizeof(*ev));
    if (jfield_only(body, allowed, e) ||
        jfield_enum(body, "type", JFIELD_REQUIRED, event_names, &choice, e))
        return ERR_INVALID;
    if (mon_event_type_parse(event_names[choice], &ev->type))
        BUG("event \"%s\" is listed but not known", event_names[choice]);

    at = json_object_get(body, "at");
    if (json_is_string(at)) {
        if (utc_parse(json_string_value(at), &ev->client_ms))
            return jfield_fail(e, "at", "at must be an RFC 3339 time or "
                               "milliseconds since the epoch");
    } else if (json_is_integer(at)) {
        ev->client_ms = json_integer_value(at);
    } else if (at && !json_is_null(at)) {
        return jfield_fail(e, "at", "at must be an RFC 3339 time or "
                           "milliseconds since the epoch");
    }
    return 0;
}

static int handle_event(struct http_request *req, void *ctx)
{
    json_t *body = require_body(req);
    struct jfield_error e = {0};
    struct mon_event ev;
    int ret;

    if (!body)
        return 0;
    if (parse_event(body, &ev, &e))
        return http_respond_invalid(req, &e);
    ret = mon_event_submit(ctx, http_req_auth(req),
                           http_req_param(req, "session_id"), &ev);
    if (ret == ERR_CONFLICT)
        return http_respond_error(req, 409, "session_ended",
                                  "the session has ended", NULL);
    if (ret)
        return ret;
    return http_respond_json(req, 202,
                             json_pack("{s:s}", "type",
                                       mon_event_type_name(ev.type)));
}

/* ---- anomalies --------------------------------------------------------- */

static int handle_anomalies(struct http_request *req, void *ctx)
{
    struct mon_anomaly_record *list;
    json_t *items;
    size_t n;
    int ret;

    ret = mon_anomaly_list(ctx, http_req_auth(req),
                           http_req_param(req, "session_id"), &list, &n);
    if (ret)
        return ret;
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, mon_anomaly_record_json(&list[i]));
    mon_anomaly_records_free(list, n);
    return http_respond_json(req, 200, json_pack("{s:o}", "items", items));
}

static int handle_review(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"review", "comment", NULL};
    static const char *const reviews[] = {"confirmed", "dismissed", NULL};
    json_t *body = require_body(req);
    struct jfield_error e = {0};
    struct mon_anomaly_record r;
    const char *comment = NULL;
    int choice, ret;

    if (!body)
        return 0;
    if (jfield_only(body, allowed, &e) ||
        jfield_enum(body, "review", JFIELD_REQUIRED, reviews, &choice, &e) ||
        jfield_str(body, "comment", 0, 0, 2000, &comment, &e))
        return http_respond_invalid(req, &e);

    ret = mon_anomaly_review(ctx, http_req_auth(req),
                             http_req_param(req, "anomaly_id"),
                             choice == 0 ? MON_REVIEW_CONFIRMED
                                         : MON_REVIEW_DISMISSED,
                             comment, &r);
    if (ret)
        return ret;
    ret = http_respond_json(req, 200, mon_anomaly_record_json(&r));
    mon_anomaly_record_release(&r);
    return ret;
}

static int handle_evidence(struct http_request *req, void *ctx)
{
    void *data;
    size_t len;
    int ret;

    ret = mon_evidence_get(ctx, http_req_auth(req),
                           http_req_param(req, "anomaly_id"), &data, &len);
    if (ret == ERR_NOT_FOUND)
        return http_respond_error(req, 404, "not_found",
                                  "no such anomaly, or no snapshot kept",
                                  NULL);
    if (ret)
        return ret;
    http_set_header(req, "Cache-Control", "private, max-age=3600");
    ret = http_respond_bytes(req, 200, "image/jpeg", data, len);
    free(data);
    return ret;
}

/* ---- the student's stream ---------------------------------------------- */

struct stream {
    struct mon_service *svc;
    char session_id[ID_SIZE];
};

static void stream_sink(void *ctx, const char *json, size_t len)
{
    /* A refused send closes a slow client; the session goes on. */
    (void)ws_send_text(ctx, json, len);
}

/*
 * The service lets go of the sink when the session ends (after sending
 * session.ended), when a newer connection of the student replaces this one,
 * and when the socket itself closed; in the first two cases the socket
 * must close too, and in the last ws_close() does nothing.
 */
static void stream_release(void *ctx)
{
    ws_close(ctx, WS_CLOSE_NORMAL,
             "the session ended or a newer connection replaced this one");
    ws_unref(ctx);
}

/* Send msg (stolen) as a text message; a refused send closes the client. */
static void send_json(struct ws *ws, json_t *msg)
{
    char *text = json_dumps(msg, JFIELD_DUMP_FLAGS);

    if (text)
        (void)ws_send_text(ws, text, strlen(text));
    free(text);
    json_decref(msg);
}

/*
 * Send {"type": "error", "code", "message"} on the stream, with the codes
 * the HTTP routes use for the same failures (session_ended, invalid_json,
 * validation_failed, rate_limited, busy, ...).  message NULL: the code's
 * usual text.
 */
static void send_error(struct ws *ws, int err, const char *message,
                       int64_t retry_after_ms)
{
    const char *code = err_code(err);
    json_t *msg;

    if (err == ERR_CONFLICT) {
        code = "session_ended";
        message = message ? message : "the session has ended";
    }
    msg = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code,
                    "message", message ? message : err_str(err));

    if (retry_after_ms > 0)
        json_object_set_new(msg, "retry_after_ms",
                            json_integer(retry_after_ms));
    send_json(ws, msg);
}

/* Send a rejected text message's error, naming the field when there is one. */
static void send_invalid(struct ws *ws, const char *code,
                         const struct jfield_error *e)
{
    json_t *msg = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code,
                            "message", e->reason);

    if (e->field[0])
        json_object_set_new(msg, "field", json_string(e->field));
    send_json(ws, msg);
}

static void stream_open(struct ws *ws)
{
    struct stream *st = ws_user_data(ws);
    int ret;

    ws_ref(ws);
    ret = mon_stream_attach(st->svc, ws_claims(ws), st->session_id,
                            stream_sink, ws, stream_release);
    if (ret) {
        ws_unref(ws);
        send_error(ws, ret, NULL, 0);
        ws_close(ws, ret == ERR_CONFLICT ? WS_CLOSE_NORMAL : 4003,
                 err_str(ret));
    }
}

static void stream_binary(struct ws *ws, const uint8_t *data, size_t len)
{
    struct stream *st = ws_user_data(ws);
    struct mon_frame_result *res = xmalloc(sizeof(*res));
    int64_t retry_after = 0;
    uint8_t *jpeg = malloc(len ? len : 1);
    int ret = ERR_NOMEM;

    if (jpeg) {
        memcpy(jpeg, data, len);
        /* No wait here: the worker sends the result through the sink. */
        ret = mon_frame_submit(st->svc, ws_claims(ws), st->session_id, jpeg,
                               len, 0, res, &retry_after);
    }
    if (ret) {
        free(jpeg);
        send_error(ws, ret, NULL, retry_after);
    }
    free(res);
}

static void stream_text(struct ws *ws, const char *data, size_t len)
{
    struct stream *st = ws_user_data(ws);
    struct jfield_error e = {0};
    struct mon_event ev;
    json_t *body;
    int ret;

    ret = jfield_parse(data, len, &body, &e);
    if (ret) {
        send_invalid(ws, "invalid_json", &e);
        return;
    }
    ret = parse_event(body, &ev, &e);
    json_decref(body);
    if (ret) {
        send_invalid(ws, "validation_failed", &e);
        return;
    }
    /* Queued: a store write here would stall every socket of the thread. */
    ret = mon_event_enqueue(st->svc, ws_claims(ws), st->session_id, &ev);
    if (ret == ERR_BUSY)
        send_error(ws, ret, "too many events are waiting to be stored; "
                   "send this one again in a moment", 0);
    else if (ret)
        send_error(ws, ret, NULL, 0);
}

static void stream_close(struct ws *ws, int code UNUSED)
{
    struct stream *st = ws_user_data(ws);

    mon_stream_detach(st->svc, st->session_id, ws);
}

static const struct ws_callbacks stream_callbacks = {
    .on_open = stream_open,
    .on_text = stream_text,
    .on_binary = stream_binary,
    .on_close = stream_close,
    .free_user_data = free,
};

static int handle_stream(struct http_request *req, void *ctx)
{
    struct stream *st = xcalloc(1, sizeof(*st));
    const char *id = http_req_param(req, "session_id");
    struct mon_session s;
    int ret;

    /* Reject a wrong session with an HTTP status, before the upgrade. */
    ret = mon_session_read(ctx, http_req_auth(req), id, &s);
    if (!ret && strcmp(s.user_id, http_req_auth(req)->sub))
        ret = ERR_FORBIDDEN;
    if (!ret && s.status == MON_SESSION_ENDED) {
        free(st);
        return http_respond_error(req, 409, "session_ended",
                                  "the session has ended", NULL);
    }
    if (ret) {
        free(st);
        return ret;
    }
    st->svc = ctx;
    memcpy(st->session_id, s.id, sizeof(st->session_id));
    return ws_accept(req, &stream_callbacks, st);
}

/* ---- the proctors' live stream ----------------------------------------- */

struct live_sub {
    char topic[HUB_TOPIC_MAX + 1];
    uint64_t after; /* last seq the client has, or HUB_LIVE */
};

static void live_open(struct ws *ws)
{
    struct live_sub *sub = ws_user_data(ws);
    int ret = hub_subscribe(ws, sub->topic, sub->after);

    if (ret)
        ws_close(ws, 1011, err_str(ret));
}

static const struct ws_callbacks live_callbacks = {
    .on_open = live_open,
    .free_user_data = free,
};

/* Parse ?after=N (decimal, no sign); absent means live only. */
static int parse_after(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;

    *out = HUB_LIVE;
    if (!s)
        return 0;
    if (*s < '0' || *s > '9')
        return ERR_INVALID;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v >= HUB_LIVE)
        return ERR_INVALID;
    *out = v;
    return 0;
}

static void exam_topic(const char *exam_id, char *topic, size_t size)
{
    if (exam_id)
        snprintf(topic, size, "monitoring/exam/%s", exam_id);
    else
        strlcpy_pw(topic, MON_TOPIC_ALL, size);
}

static int handle_live(struct http_request *req, void *ctx UNUSED)
{
    const char *exam_id = http_req_query(req, "exam_id");
    struct jfield_error e = {0};
    struct live_sub *sub;

    if (exam_id && !*exam_id)
        exam_id = NULL;
    sub = xcalloc(1, sizeof(*sub));
    exam_topic(exam_id, sub->topic, sizeof(sub->topic));
    if (parse_after(http_req_query(req, "after"), &sub->after)) {
        free(sub);
        jfield_fail(&e, "after", "after must be a message sequence number");
        return http_respond_invalid(req, &e);
    }
    if (exam_id && !mon_ref_is_valid(exam_id)) {
        free(sub);
        jfield_fail(&e, "exam_id",
                    "exam_id may contain only letters, digits and \"._:-\"");
        return http_respond_invalid(req, &e);
    }
    return ws_accept(req, &live_callbacks, sub);
}

static void publish_live(void *ctx UNUSED, const char *exam_id,
                         const json_t *msg)
{
    char topic[HUB_TOPIC_MAX + 1];

    exam_topic(exam_id, topic, sizeof(topic));
    /* Only a message too big for any queue fails; nothing to retry. */
    (void)hub_publish_json(topic, msg, NULL);
    (void)hub_publish_json(MON_TOPIC_ALL, msg, NULL);
}

/* ---- registration ------------------------------------------------------ */

static struct http_route routes[] = {
    {"POST", "/monitoring/sessions", handle_start, AUTH_ROLE_STUDENT, 0,
     MON_MAX_BODY, NULL},
    {"GET", "/monitoring/sessions", handle_list, STAFF, 0, 0, NULL},
    {"GET", "/monitoring/sessions/{session_id}", handle_get, AUTH_ROLE_ANY, 0,
     0, NULL},
    {"POST", "/monitoring/sessions/{session_id}/end", handle_end,
     AUTH_ROLE_ANY, 0, MON_MAX_BODY, NULL},
    {"POST", "/monitoring/sessions/{session_id}/frame", handle_frame,
     AUTH_ROLE_STUDENT, HTTP_RAW_BODY, 0, frame_types},
    {"POST", "/monitoring/sessions/{session_id}/events", handle_event,
     AUTH_ROLE_STUDENT, 0, MON_MAX_BODY, NULL},
    {"GET", "/monitoring/sessions/{session_id}/anomalies", handle_anomalies,
     AUTH_ROLE_ANY, 0, 0, NULL},
    {"GET", "/monitoring/sessions/{session_id}/stream", handle_stream,
     AUTH_ROLE_STUDENT, HTTP_WEBSOCKET, 0, NULL},
    {"GET", "/monitoring/live", handle_live, STAFF, HTTP_WEBSOCKET, 0, NULL},
    {"PATCH", "/monitoring/anomalies/{anomaly_id}", handle_review, STAFF, 0,
     MON_MAX_BODY, NULL},
    {"GET", "/monitoring/anomalies/{anomaly_id}/evidence", handle_evidence,
     AUTH_ROLE_ANY, 0, 0, NULL},
};

/* Room for a multipart envelope around the largest frame. */
#define MULTIPART_OVERHEAD 65536

int mon_api_register(struct http_server *s, struct mon_service *svc,
                     size_t frame_max)
{
    for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
        if (routes[i].handler == handle_frame)
            routes[i].max_body = frame_max + MULTIPART_OVERHEAD;
    }
    mon_service_set_publisher(svc, publish_live, NULL);
    return http_server_add_routes(s, routes, ARRAY_SIZE(routes), svc);
}
