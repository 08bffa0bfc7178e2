/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live hub: named topics ("monitoring/exam/E1") that WebSocket clients
 * subscribe to and any thread publishes JSON to.  Each topic numbers its
 * messages from 1 and keeps the last PW_WS_RING of them, so a client that
 * reconnects with the last seq it saw gets what it missed, in order, with
 * no duplicate and no gap.  Publishing copies into each subscriber's send
 * queue and never waits for a client.  Every function is thread-safe.
 *
 * What a client receives, one JSON text message each:
 *   {"topic": T, "seq": N, "data": ...}      a published message
 *   {"type": "gap", "topic": T, "from": F}   messages before F are lost
 *                                            (older than the ring, or the
 *                                            server restarted): reload
 *   {"type": "subscribed", "topic": T, "seq": N}
 *                                            replay done; live from N + 1
 */
#ifndef PW_HTTP_HUB_H
#define PW_HTTP_HUB_H

#include "core/base.h"

#include <jansson.h>

struct ws;

/* after value for a subscriber that wants live messages only. */
#define HUB_LIVE UINT64_MAX

/* Maximum topic name length, in bytes. */
#define HUB_TOPIC_MAX 200

/*
 * Whether topic is a valid name: 1 to HUB_TOPIC_MAX bytes of letters,
 * digits and "._:/-".
 */
bool hub_is_valid_topic(const char *topic);

/*
 * Subscribe ws (the hub takes its own reference) to topic, after a
 * client that has every message up to seq after (0: none yet, HUB_LIVE:
 * live only).  Queues on ws, in order: a gap notice when messages past
 * after are no longer kept, the kept messages with seq > after, and the
 * "subscribed" notice; live messages follow with no gap or duplicate.
 * Returns 0, ERR_INVALID for a bad topic name, ERR_EXISTS when ws is
 * already subscribed to topic, or the error of ws_send_text() (the
 * subscription is then not made).
 */
int hub_subscribe(struct ws *ws, const char *topic, uint64_t after);

/* Remove ws from topic.  Returns 0 or ERR_NOT_FOUND. */
int hub_unsubscribe(struct ws *ws, const char *topic);

/* Remove ws from every topic; the WebSocket layer calls it on close. */
void hub_unsubscribe_all(struct ws *ws);

/*
 * Publish json (a JSON text, any value) to topic: give it the next seq,
 * keep it in the ring and queue it for every subscriber.  A subscriber
 * whose queue is full is closed by the WebSocket layer and dropped here.
 * Returns 0 with the seq in *seq (may be NULL), ERR_INVALID for a bad
 * topic or malformed JSON, or ERR_TOO_BIG when the message could never
 * fit a send queue (PW_WS_SEND_QUEUE).
 */
int hub_publish(const char *topic, const char *json, uint64_t *seq);

/* As hub_publish(), for a jansson value (borrowed). */
int hub_publish_json(const char *topic, const json_t *data, uint64_t *seq);

/*
 * Drop every topic, kept message and subscription, and forget the ring
 * size so the next use reads PW_WS_RING again.  For tests and the end of
 * the process, after ws_shutdown().
 */
void hub_clear(void);

#endif
