/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frame queue: one mutex over a hash of sessions and a FIFO of the
 * sessions that are ready (a frame waiting, none being analysed).  A
 * session enters the FIFO at the tail when it becomes ready and leaves at
 * the head when a worker takes its frame.  Service is therefore round
 * robin: a session sending fast only replaces its own waiting frame, so it
 * never gets a second turn before the others had theirs.
 */
#include "core/base.h"
#include "services/monitoring/queue.h"

#include "core/config.h"
#include "core/err.h"

#include <math.h>
#include <time.h>

struct queue_session {
    char id[ID_SIZE];
    struct queue_session *hash_next;  /* next in the hash bucket */
    struct queue_session *ready_next; /* next in the ready FIFO */
    struct queue_frame *waiting;      /* latest frame not yet taken */
    bool in_flight;                   /* a worker took one of its frames */
    bool in_ready;                    /* linked in the ready FIFO */
    bool closed;                      /* closed while a frame was taken */
    double tokens;                    /* token bucket of the rate limit */
    int64_t refill_ms;                /* when tokens was last refilled */
    int64_t last_seq;                 /* seq of the latest frame pushed */
    struct queue_stats stats;
};

struct queue {
    struct queue_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when a session becomes ready */
    struct queue_session **buckets;
    size_t bucket_mask;  /* bucket count - 1, a power of two */
    int sessions;        /* sessions open */
    int waiting;         /* sessions with a waiting frame */
    size_t bytes;        /* JPEG bytes of the waiting frames */
    struct queue_session *ready_head;
    struct queue_session *ready_tail;
    bool shutdown;
};

void queue_config_default(struct queue_config *cfg)
{
    cfg->max_sessions = 4096;
    cfg->max_waiting = 1024;
    cfg->max_bytes = 64u << 20;
    cfg->max_frame = 1u << 20;
    cfg->rate = 10;
    cfg->burst = 20;
}

void queue_config_from_env(struct queue_config *cfg)
{
    cfg->max_sessions = (int)config_int("PW_MONITOR_QUEUE_SESSIONS");
    cfg->max_waiting = (int)config_int("PW_MONITOR_QUEUE_WAITING");
    cfg->max_bytes = (size_t)config_int("PW_MONITOR_QUEUE_BYTES");
    cfg->max_frame = (size_t)config_int("PW_MONITOR_FRAME_MAX");
    cfg->rate = config_double("PW_MONITOR_FRAME_RATE");
    cfg->burst = (double)config_int("PW_MONITOR_FRAME_BURST");
}

/* ---- helpers (called with the lock held) ------------------------------ */

static void cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

static struct timespec deadline_after(int timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* FNV-1a over the id. */
static size_t hash_id(const char *id)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *id; id++) {
        h ^= (unsigned char)*id;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

static struct queue_session **find_link(struct queue *q, const char *id)
{
    struct queue_session **link = &q->buckets[hash_id(id) & q->bucket_mask];

    while (*link && strcmp((*link)->id, id))
        link = &(*link)->hash_next;
    return link;
}

static void ready_push(struct queue *q, struct queue_session *s)
{
    s->ready_next = NULL;
    s->in_ready = true;
    if (q->ready_tail)
        q->ready_tail->ready_next = s;
    else
        q->ready_head = s;
    q->ready_tail = s;
    pthread_cond_signal(&q->work);
}

static struct queue_session *ready_pop(struct queue *q)
{
    struct queue_session *s = q->ready_head;

    if (!s)
        return NULL;
    q->ready_head = s->ready_next;
    if (!q->ready_head)
        q->ready_tail = NULL;
    s->ready_next = NULL;
    s->in_ready = false;
    return s;
}

static void ready_remove(struct queue *q, struct queue_session *s)
{
    struct queue_session *prev = NULL;

    if (!s->in_ready)
        return;
    for (struct queue_session *p = q->ready_head; p; p = p->ready_next) {
        if (p != s) {
            prev = p;
            continue;
        }
        if (prev)
            prev->ready_next = s->ready_next;
        else
            q->ready_head = s->ready_next;
        if (q->ready_tail == s)
            q->ready_tail = prev;
        break;
    }
    s->ready_next = NULL;
    s->in_ready = false;
}

/* Tell the frame's waiter, if any, how it ended, and unlink it. */
static void settle(struct queue_frame *f, enum queue_ticket_state state,
                   int status, const void *result, size_t len)
{
    struct queue_ticket *t = f->ticket;

    if (!t)
        return;
    t->state = state;
    t->status = status;
    if (state == QUEUE_TICKET_DONE && result && t->result) {
        t->result_len = MIN(len, t->result_cap);
        memcpy(t->result, result, t->result_len);
    }
    t->frame = NULL;
    f->ticket = NULL;
    pthread_cond_signal(&t->cond);
}

static void frame_free(struct queue_frame *f)
{
    free(f->jpeg);
    free(f);
}

/* Discard s's waiting frame, if any. */
static void drop_waiting(struct queue *q, struct queue_session *s)
{
    struct queue_frame *f = s->waiting;

    if (!f)
        return;
    settle(f, QUEUE_TICKET_DROPPED, 0, NULL, 0);
    q->waiting--;
    q->bytes -= f->len;
    s->waiting = NULL;
    s->stats.dropped++;
    frame_free(f);
}

/*
 * Refill s's bucket for the time since the last refill and take one token.
 * Returns 0, or ERR_RATE_LIMITED with the wait until a token is there.
 */
static int take_token(const struct queue *q, struct queue_session *s,
                      int64_t now, int64_t *retry_after_ms)
{
    if (q->cfg.rate <= 0)
        return 0;
    if (now > s->refill_ms) {
        s->tokens += (double)(now - s->refill_ms) * q->cfg.rate / 1000.0;
        s->tokens = MIN(s->tokens, MAX(q->cfg.burst, 1.0));
        s->refill_ms = now;
    }
    if (s->tokens < 1.0) {
        if (retry_after_ms)
            *retry_after_ms =
                (int64_t)ceil((1.0 - s->tokens) * 1000.0 / q->cfg.rate);
        return ERR_RATE_LIMITED;
    }
    s->tokens -= 1.0;
    return 0;
}

/* ---- public calls ----------------------------------------------------- */

struct queue *queue_new(const struct queue_config *cfg)
{
    struct queue *q = xcalloc(1, sizeof(*q));
    size_t buckets = 16;

    q->cfg = *cfg;
    while (buckets < (size_t)MAX(cfg->max_sessions, 1) * 2)
        buckets *= 2;
    q->buckets = xcalloc(buckets, sizeof(*q->buckets));
    q->bucket_mask = buckets - 1;
    pthread_mutex_init(&q->lock, NULL);
    cond_init_monotonic(&q->work);
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i <= q->bucket_mask; i++) {
        struct queue_session *s = q->buckets[i];

        while (s) {
            struct queue_session *next = s->hash_next;

            drop_waiting(q, s);
            free(s);
            s = next;
        }
    }
    free(q->buckets);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int queue_session_open(struct queue *q, const char *session_id,
                       int64_t now_ms)
{
    struct queue_session **link, *s;
    int ret = 0;

    pthread_mutex_lock(&q->lock);
    if (q->shutdown) {
        ret = ERR_CONFLICT;
        goto out_unlock;
    }
    link = find_link(q, session_id);
    if (*link) {
        ret = ERR_EXISTS;
        goto out_unlock;
    }
    if (q->sessions >= q->cfg.max_sessions) {
        ret = ERR_BUSY;
        goto out_unlock;
    }

    s = xcalloc(1, sizeof(*s));
    strlcpy_pw(s->id, session_id, sizeof(s->id));
    s->tokens = MAX(q->cfg.burst, 1.0);
    s->refill_ms = now_ms;
    *link = s;
    q->sessions++;

out_unlock:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int queue_session_close(struct queue *q, const char *session_id)
{
    struct queue_session **link, *s;
    int ret = 0;

    pthread_mutex_lock(&q->lock);
    link = find_link(q, session_id);
    s = *link;
    if (!s) {
        ret = ERR_NOT_FOUND;
        goto out_unlock;
    }
    *link = s->hash_next;
    q->sessions--;
    ready_remove(q, s);
    drop_waiting(q, s);

    /* A worker still holds a frame pointing here; queue_done() frees it. */
    if (s->in_flight)
        s->closed = true;
    else
        free(s);

out_unlock:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int queue_push(struct queue *q, const char *session_id, uint8_t *jpeg,
               size_t len, int64_t now_ms, struct queue_ticket *ticket,
               int64_t *seq, int64_t *retry_after_ms)
{
    struct queue_session *s;
    struct queue_frame *f;
    size_t old_len;
    int ret;

    pthread_mutex_lock(&q->lock);
    if (q->shutdown) {
        ret = ERR_BUSY;
        goto out_unlock;
    }
    s = *find_link(q, session_id);
    if (!s) {
        ret = ERR_NOT_FOUND;
        goto out_unlock;
    }
    if (len == 0) {
        ret = ERR_INVALID;
        goto out_unlock;
    }
    if (len > q->cfg.max_frame) {
        ret = ERR_TOO_BIG;
        goto out_unlock;
    }

    /* The caps count the frame this one replaces as gone. */
    old_len = s->waiting ? s->waiting->len : 0;
    if ((!s->waiting && q->waiting >= q->cfg.max_waiting) ||
        q->bytes - old_len + len > q->cfg.max_bytes) {
        s->stats.busy++;
        ret = ERR_BUSY;
        goto out_unlock;
    }
    ret = take_token(q, s, now_ms, retry_after_ms);
    if (ret) {
        s->stats.rate_limited++;
        goto out_unlock;
    }

    drop_waiting(q, s);
    f = xcalloc(1, sizeof(*f));
    strlcpy_pw(f->session_id, s->id, sizeof(f->session_id));
    f->seq = ++s->last_seq;
    f->arrived_ms = now_ms;
    f->jpeg = jpeg;
    f->len = len;
    f->session = s;
    if (ticket) {
        ticket->state = QUEUE_TICKET_PENDING;
        ticket->seq = f->seq;
        ticket->frame = f;
        f->ticket = ticket;
    }
    s->waiting = f;
    s->stats.accepted++;
    q->waiting++;
    q->bytes += len;
    if (!s->in_flight && !s->in_ready)
        ready_push(q, s);
    if (seq)
        *seq = f->seq;

out_unlock:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int queue_take(struct queue *q, int timeout_ms, struct queue_frame **out)
{
    struct timespec deadline = {0, 0};
    struct queue_session *s;
    int ret = 0;

    if (timeout_ms >= 0)
        deadline = deadline_after(timeout_ms);

    pthread_mutex_lock(&q->lock);
    while (!q->shutdown && !q->ready_head) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->work, &q->lock);
        } else if (pthread_cond_timedwait(&q->work, &q->lock, &deadline) ==
                   ETIMEDOUT) {
            break;
        }
    }
    if (q->shutdown) {
        ret = ERR_CONFLICT;
        goto out_unlock;
    }
    s = ready_pop(q);
    if (!s) {
        ret = ERR_TIMEOUT;
        goto out_unlock;
    }

    *out = s->waiting;
    s->waiting = NULL;
    s->in_flight = true;
    q->waiting--;
    q->bytes -= (*out)->len;

out_unlock:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void queue_done(struct queue *q, struct queue_frame *f, int status,
                const void *result, size_t len)
{
    struct queue_session *s = f->session;

    pthread_mutex_lock(&q->lock);
    settle(f, QUEUE_TICKET_DONE, status, result, len);
    s->in_flight = false;
    s->stats.analysed++;
    if (s->closed)
        free(s);
    else if (s->waiting && !q->shutdown)
        ready_push(q, s);
    pthread_mutex_unlock(&q->lock);

    frame_free(f);
}

void queue_ticket_init(struct queue_ticket *ticket, void *result,
                       size_t result_cap)
{
    memset(ticket, 0, sizeof(*ticket));
    ticket->result = result;
    ticket->result_cap = result ? result_cap : 0;
    cond_init_monotonic(&ticket->cond);
}

void queue_ticket_release(struct queue_ticket *ticket)
{
    assert(!ticket->frame);
    pthread_cond_destroy(&ticket->cond);
}

enum queue_ticket_state queue_wait(struct queue *q,
                                   struct queue_ticket *ticket,
                                   int timeout_ms)
{
    struct timespec deadline = deadline_after(MAX(timeout_ms, 0));
    enum queue_ticket_state state;

    pthread_mutex_lock(&q->lock);
    while (ticket->state == QUEUE_TICKET_PENDING && ticket->frame) {
        if (pthread_cond_timedwait(&ticket->cond, &q->lock, &deadline) ==
            ETIMEDOUT)
            break;
    }

    /* Out of time: the worker must not write into the ticket any more. */
    if (ticket->frame) {
        ticket->frame->ticket = NULL;
        ticket->frame = NULL;
    }
    state = ticket->state;
    pthread_mutex_unlock(&q->lock);
    return state;
}

void queue_shutdown(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutdown = true;
    for (size_t i = 0; i <= q->bucket_mask; i++) {
        for (struct queue_session *s = q->buckets[i]; s; s = s->hash_next) {
            drop_waiting(q, s);
            s->in_ready = false;
            s->ready_next = NULL;
        }
    }
    q->ready_head = NULL;
    q->ready_tail = NULL;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
}

int queue_session_stats(struct queue *q, const char *session_id,
                        struct queue_stats *out)
{
    struct queue_session *s;
    int ret = 0;

    pthread_mutex_lock(&q->lock);
    s = *find_link(q, session_id);
    if (s)
        *out = s->stats;
    else
        ret = ERR_NOT_FOUND;
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void queue_usage(struct queue *q, int *waiting, size_t *bytes)
{
    pthread_mutex_lock(&q->lock);
    *waiting = q->waiting;
    *bytes = q->bytes;
    pthread_mutex_unlock(&q->lock);
}
