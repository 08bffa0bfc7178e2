/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transactional outbox: a service records an event in the same database
 * transaction as the state change it announces, so the event exists if and
 * only if the change committed.  A relay (in-process dispatcher, or Kafka in
 * the scaled deployment) reads pending rows in order and delivers them at
 * least once; consumers deduplicate on the event id.
 */
#ifndef PW_BUS_OUTBOX_H
#define PW_BUS_OUTBOX_H

#include "core/base.h"
#include "core/id.h"

#include <jansson.h>

struct store_conn;

/* One pending event as read back by outbox_pending(). */
struct outbox_event {
    int64_t seq;             /* delivery order */
    char event_id[ID_SIZE];  /* unique; consumers deduplicate on it */
    char *topic;             /* owned, e.g. "anomaly.detected" */
    char *key;               /* owned; the partition key (a session id) */
    char *payload;           /* owned JSON text */
    char created_at[32];     /* RFC 3339 UTC */
};

/*
 * Record an event on connection c, which must be inside a write
 * transaction (store_begin) so the event commits or rolls back with the
 * caller's change.  payload is borrowed and serialised.  When event_id is
 * not NULL it receives the new event's id (ID_SIZE bytes).  Returns 0,
 * ERR_CONFLICT when no transaction is open, or the store's error.
 */
int outbox_add(struct store_conn *c, const char *topic, const char *key,
               json_t *payload, char *event_id);

/*
 * Read up to max pending events with seq > after, oldest first, into the
 * new array *events (freed with outbox_events_free).  Returns the count
 * (>= 0) or a negative ERR_*.
 */
int outbox_pending(struct store_conn *c, int64_t after, int max,
                   struct outbox_event **events);

/* Mark the event seq delivered.  Returns 0 or the store's error. */
int outbox_mark_published(struct store_conn *c, int64_t seq);

void outbox_events_free(struct outbox_event *events, int count);

#endif
