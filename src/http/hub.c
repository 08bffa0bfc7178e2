/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live hub.  One mutex guards the topic table, each topic's ring and
 * its subscribers.  Publishing and subscribing both run under it, so a
 * subscriber's replay and the live messages after it form one sequence:
 * no publish can slip between the replay and the subscription.  Sends only
 * copy into bounded queues, so holding the lock never waits on a client.
 */
#include "core/base.h"
#include "http/hub.h"

#include "core/config.h"
#include "core/err.h"
#include "core/jfield.h"
#include "http/ws.h"

#include <pthread.h>

struct entry {
    uint64_t seq;
    char *text;  /* the envelope {"topic","seq","data"}, owned */
    size_t len;
};

struct topic {
    struct topic *next;   /* bucket chain */
    char *name;           /* owned */
    uint64_t seq;         /* last seq given; 0 before the first publish */
    struct entry *ring;   /* ring_cap entries */
    size_t ring_start;    /* index of the oldest kept entry */
    size_t ring_len;      /* entries kept */
    struct ws **subs;     /* subscribers, one reference each */
    size_t nsubs;
    size_t subs_alloc;
};

struct hub {
    pthread_mutex_t lock;
    struct topic **buckets; /* nbuckets chains; NULL before first use */
    size_t nbuckets;        /* a power of two */
    size_t ntopics;
    size_t ring_cap;        /* PW_WS_RING */
    size_t max_text;        /* PW_WS_SEND_QUEUE */
};

static struct hub hub = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * References the hub drops are collected and released after the lock:
 * the last reference runs service callbacks, which may call the hub.
 */
struct release_list {
    struct ws **items;
    size_t n;
    size_t alloc;
};

static void release_add(struct release_list *r, struct ws *ws)
{
    if (r->n == r->alloc) {
        r->alloc = r->alloc ? 2 * r->alloc : 8;
        r->items = xrealloc(r->items, r->alloc * sizeof(*r->items));
    }
    r->items[r->n++] = ws;
}

static void release_run(struct release_list *r)
{
    for (size_t i = 0; i < r->n; i++)
        ws_unref(r->items[i]);
    free(r->items);
}

bool hub_is_valid_topic(const char *topic)
{
    size_t len = strlen(topic);

    if (len == 0 || len > HUB_TOPIC_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = topic[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr("._:/-", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* FNV-1a; topic names are short and not chosen to collide. */
static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211u;
    return (size_t)h;
}

static void ensure_table(void)
{
    if (hub.buckets)
        return;
    hub.nbuckets = 64;
    hub.buckets = xcalloc(hub.nbuckets, sizeof(*hub.buckets));
    hub.ring_cap = (size_t)config_int("PW_WS_RING");
    hub.max_text = (size_t)config_int("PW_WS_SEND_QUEUE");
}

static void grow_table(void)
{
    size_t n = hub.nbuckets * 2;
    struct topic **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < hub.nbuckets; i++) {
        struct topic *t = hub.buckets[i];
        while (t) {
            struct topic *next = t->next;
            size_t k = hash(t->name) & (n - 1);
            t->next = b[k];
            b[k] = t;
            t = next;
        }
    }
    free(hub.buckets);
    hub.buckets = b;
    hub.nbuckets = n;
}

static struct topic *find_topic(const char *name)
{
    if (!hub.buckets)
        return NULL;
    struct topic *t = hub.buckets[hash(name) & (hub.nbuckets - 1)];
    while (t && strcmp(t->name, name) != 0)
        t = t->next;
    return t;
}

/*
 * NEEDSWORK: topics are never evicted, so each one keeps up to PW_WS_RING
 * messages until hub_clear() at exit, with or without subscribers.  A
 * process that sees many short-lived topics (one per session) grows by
 * ring size times message size for each.
 */
static struct topic *get_topic(const char *name)
{
    ensure_table();
    struct topic *t = find_topic(name);
    if (t)
        return t;

    if (hub.ntopics >= hub.nbuckets)
        grow_table();
    t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(name);
    t->ring = xcalloc(hub.ring_cap, sizeof(*t->ring));
    size_t k = hash(name) & (hub.nbuckets - 1);
    t->next = hub.buckets[k];
    hub.buckets[k] = t;
    hub.ntopics++;
    return t;
}

static const struct entry *ring_at(const struct topic *t, size_t i)
{
    return &t->ring[(t->ring_start + i) % hub.ring_cap];
}

static void ring_push(struct topic *t, uint64_t seq, char *text, size_t len)
{
    struct entry *e;

    if (t->ring_len == hub.ring_cap) {
        e = &t->ring[t->ring_start];
        free(e->text);
        t->ring_start = (t->ring_start + 1) % hub.ring_cap;
    } else {
        e = &t->ring[(t->ring_start + t->ring_len) % hub.ring_cap];
        t->ring_len++;
    }
    e->seq = seq;
    e->text = text;
    e->len = len;
}

static int send_json(struct ws *ws, json_t *msg)
{
    char *text = json_dumps(msg, JFIELD_DUMP_FLAGS);
    json_decref(msg);
    if (!text)
        return ERR_NOMEM;
    int rc = ws_send_text(ws, text, strlen(text));
    free(text);
    return rc;
}

/* Queue the gap notice and the kept messages a subscriber missed. */
static int replay(struct ws *ws, const struct topic *t, uint64_t after)
{
    uint64_t first = t->ring_len ? ring_at(t, 0)->seq : t->seq + 1;
    int rc;

    if (after == HUB_LIVE)
        return 0;

    /* A seq from the future means the numbering restarted with the server. */
    bool restarted = after > t->seq;
    if (restarted)
        after = 0;
    if (restarted || after + 1 < first) {
        rc = send_json(ws, json_pack("{s:s, s:s, s:I}", "type", "gap",
                                     "topic", t->name, "from",
                                     (json_int_t)first));
        if (rc)
            return rc;
    }

    for (size_t i = 0; i < t->ring_len; i++) {
        const struct entry *e = ring_at(t, i);
        if (e->seq <= after)
            continue;
        rc = ws_send_text(ws, e->text, e->len);
        if (rc)
            return rc;
    }
    return 0;
}

int hub_subscribe(struct ws *ws, const char *topic, uint64_t after)
{
    int rc;

    if (!hub_is_valid_topic(topic))
        return ERR_INVALID;

    pthread_mutex_lock(&hub.lock);
    struct topic *t = get_topic(topic);
    for (size_t i = 0; i < t->nsubs; i++) {
        if (t->subs[i] == ws) {
            rc = ERR_EXISTS;
            goto out_unlock;
        }
    }

    /* Claim the slot first so a failed send leaves nothing to undo. */
    if (t->nsubs == t->subs_alloc) {
        t->subs_alloc = t->subs_alloc ? 2 * t->subs_alloc : 4;
        t->subs = xrealloc(t->subs, t->subs_alloc * sizeof(*t->subs));
    }

    rc = replay(ws, t, after);
    if (rc)
        goto out_unlock;
    rc = send_json(ws, json_pack("{s:s, s:s, s:I}", "type", "subscribed",
                                 "topic", t->name, "seq",
                                 (json_int_t)t->seq));
    if (rc)
        goto out_unlock;

    ws_ref(ws);
    t->subs[t->nsubs++] = ws;

out_unlock:
    pthread_mutex_unlock(&hub.lock);
    return rc;
}

/* Remove subscriber i of t, handing its reference to r. */
static void remove_sub(struct topic *t, size_t i, struct release_list *r)
{
    release_add(r, t->subs[i]);
    t->subs[i] = t->subs[--t->nsubs];
}

int hub_unsubscribe(struct ws *ws, const char *topic)
{
    struct release_list r = {0};
    int rc = ERR_NOT_FOUND;

    pthread_mutex_lock(&hub.lock);
    struct topic *t = find_topic(topic);
    for (size_t i = 0; t && i < t->nsubs; i++) {
        if (t->subs[i] == ws) {
            remove_sub(t, i, &r);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&hub.lock);
    release_run(&r);
    return rc;
}

void hub_unsubscribe_all(struct ws *ws)
{
    struct release_list r = {0};

    pthread_mutex_lock(&hub.lock);
    for (size_t b = 0; hub.buckets && b < hub.nbuckets; b++) {
        for (struct topic *t = hub.buckets[b]; t; t = t->next) {
            for (size_t i = 0; i < t->nsubs; i++) {
                if (t->subs[i] == ws) {
                    remove_sub(t, i, &r);
                    break;
                }
            }
        }
    }
    pthread_mutex_unlock(&hub.lock);
    release_run(&r);
}

int hub_publish_json(const char *topic, const json_t *data, uint64_t *seq)
{
    struct release_list r = {0};
    int rc = 0;

    if (!hub_is_valid_topic(topic))
        return ERR_INVALID;

    pthread_mutex_lock(&hub.lock);
    struct topic *t = get_topic(topic);
    json_t *env = json_pack("{s:s, s:I, s:O}", "topic", topic, "seq",
                            (json_int_t)(t->seq + 1), "data", data);
    char *text = env ? json_dumps(env, JFIELD_DUMP_FLAGS) : NULL;
    json_decref(env);
    if (!text) {
        rc = ERR_NOMEM;
        goto out_unlock;
    }
    size_t len = strlen(text);
    if (len > hub.max_text) {
        free(text);
        rc = ERR_TOO_BIG;
        goto out_unlock;
    }

    t->seq++;
    if (seq)
        *seq = t->seq;
    for (size_t i = 0; i < t->nsubs;) {
        /* A refused send means the connection is closing: let it go. */
        if (ws_send_text(t->subs[i], text, len) != 0)
            remove_sub(t, i, &r);
        else
            i++;
    }
    ring_push(t, t->seq, text, len);

out_unlock:
    pthread_mutex_unlock(&hub.lock);
    release_run(&r);
    return rc;
}

int hub_publish(const char *topic, const char *json, uint64_t *seq)
{
    json_error_t error;
    json_t *data = json_loads(json, JSON_DECODE_ANY, &error);

    if (!data)
        return ERR_INVALID;
    int rc = hub_publish_json(topic, data, seq);
    json_decref(data);
    return rc;
}

void hub_clear(void)
{
    struct release_list r = {0};

    pthread_mutex_lock(&hub.lock);
    for (size_t b = 0; hub.buckets && b < hub.nbuckets; b++) {
        struct topic *t = hub.buckets[b];
        while (t) {
            struct topic *next = t->next;
            for (size_t i = 0; i < t->nsubs; i++)
                release_add(&r, t->subs[i]);
            for (size_t i = 0; i < t->ring_len; i++)
                free(t->ring[(t->ring_start + i) % hub.ring_cap].text);
            free(t->ring);
            free(t->subs);
            free(t->name);
            free(t);
            t = next;
        }
    }
    free(hub.buckets);
    hub.buckets = NULL;
    hub.nbuckets = 0;
    hub.ntopics = 0;
    pthread_mutex_unlock(&hub.lock);
    release_run(&r);
}
