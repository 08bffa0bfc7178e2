/* SPDX-License-Identifier: Apache-2.0 */
/* Outbox rows: written inside the caller's transaction, read in order. */
#include "core/base.h"
#include "bus/outbox.h"

#include "core/err.h"
#include "core/utc.h"
#include "store/store.h"

int outbox_add(struct store_conn *c, const char *topic, const char *key,
               json_t *payload, char *event_id)
{
    char id[ID_SIZE], now[UTC_ISO_SIZE];
    struct store_stmt *st = NULL;
    char *text;
    int ret;

    if (!store_in_transaction(c))
        return ERR_CONFLICT;

    text = json_dumps(payload, JSON_COMPACT);
    if (!text)
        return ERR_NOMEM;
    id_new(id);
    utc_format(utc_now_ms(), now);

    ret = store_prepare(c,
                        "INSERT INTO outbox_events"
                        " (event_id, topic, event_key, payload, created_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        &st);
    if (ret)
        goto out_free_text;
    if ((ret = store_bind_text(st, 1, id)) ||
        (ret = store_bind_text(st, 2, topic)) ||
        (ret = store_bind_text(st, 3, key)) ||
        (ret = store_bind_text(st, 4, text)) ||
        (ret = store_bind_text(st, 5, now)))
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_DONE) {
        ret = 0;
        if (event_id)
            memcpy(event_id, id, ID_SIZE);
    }

out_finalize:
    store_finalize(st);
out_free_text:
    free(text);
    return ret;
}

int outbox_pending(struct store_conn *c, int64_t after, int max,
                   struct outbox_event **events)
{
    struct outbox_event *list = NULL;
    struct store_stmt *st = NULL;
    int n = 0, ret;

    ret = store_prepare(c,
                        "SELECT seq, event_id, topic, event_key, payload,"
                        " created_at FROM outbox_events"
                        " WHERE published_at IS NULL AND seq > ?"
                        " ORDER BY seq LIMIT ?",
                        &st);
    if (ret)
        return ret;
    if ((ret = store_bind_int64(st, 1, after)) ||
        (ret = store_bind_int64(st, 2, max)))
        goto out_finalize;

    list = xcalloc((size_t)MAX(max, 1), sizeof(*list));
    while ((ret = store_step(st)) == STORE_ROW) {
        struct outbox_event *ev = &list[n++];

        ev->seq = store_column_int64(st, 0);
        strlcpy_pw(ev->event_id, store_column_text(st, 1, NULL),
                   sizeof(ev->event_id));
        ev->topic = xstrdup(store_column_text(st, 2, NULL));
        ev->key = xstrdup(store_column_text(st, 3, NULL));
        ev->payload = xstrdup(store_column_text(st, 4, NULL));
        strlcpy_pw(ev->created_at, store_column_text(st, 5, NULL),
                   sizeof(ev->created_at));
    }
    if (ret < 0) {
        outbox_events_free(list, n);
        goto out_finalize;
    }
    *events = list;
    ret = n;

out_finalize:
    store_finalize(st);
    return ret;
}

int outbox_mark_published(struct store_conn *c, int64_t seq)
{
    char now[UTC_ISO_SIZE];
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c,
                        "UPDATE outbox_events SET published_at = ?"
                        " WHERE seq = ?",
                        &st);
    if (ret)
        return ret;
    utc_format(utc_now_ms(), now);
    if (!(ret = store_bind_text(st, 1, now)) &&
        !(ret = store_bind_int64(st, 2, seq)))
        ret = store_step(st) == STORE_DONE ? 0 : ERR_DB;
    store_finalize(st);
    return ret;
}

void outbox_events_free(struct outbox_event *events, int count)
{
    if (!events)
        return;
    for (int i = 0; i < count; i++) {
        free(events[i].topic);
        free(events[i].key);
        free(events[i].payload);
    }
    free(events);
}
