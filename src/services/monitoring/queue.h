/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frame queue between the API and the vision workers.  Each session
 * keeps only its latest unanalysed frame, and a newer one replaces it (the
 * replaced one is counted as dropped).  Workers take frames round robin
 * over sessions, one frame per session at a time, so a session's
 * detections reach the rules engine in order.  Memory is capped: over a
 * cap a push fails with ERR_BUSY instead of growing.
 */
#ifndef PW_SERVICES_MONITORING_QUEUE_H
#define PW_SERVICES_MONITORING_QUEUE_H

#include "core/base.h"
#include "core/id.h"

#include <pthread.h>

struct queue_config {
    int max_sessions;  /* sessions open at once */
    int max_waiting;   /* sessions with a frame waiting */
    size_t max_bytes;  /* JPEG bytes waiting, all sessions together */
    size_t max_frame;  /* largest JPEG accepted */
    double rate;       /* frames per second per session; <= 0: no limit */
    double burst;      /* frames accepted at once above the rate */
};

/* A frame handed to a worker by queue_take(). */
struct queue_frame {
    char session_id[ID_SIZE]; /* session the frame belongs to */
    int64_t seq;              /* 1, 2, ... per session, as pushed */
    int64_t arrived_ms;       /* server time of the push */
    uint8_t *jpeg;            /* the JPEG bytes, owned by the frame */
    size_t len;               /* bytes in jpeg */

    /* private to the queue */
    struct queue_session *session;
    struct queue_ticket *ticket;
};

enum queue_ticket_state {
    QUEUE_TICKET_PENDING,  /* waiting or being analysed */
    QUEUE_TICKET_DONE,     /* analysed; status and result are set */
    QUEUE_TICKET_DROPPED,  /* replaced by a newer frame, or discarded */
};

/*
 * Lets the pusher of a frame wait a short time for its outcome.  The
 * pusher owns it (typically on the stack of the HTTP handler), passes it
 * to queue_push() and then must call queue_wait() before releasing it,
 * even with a zero timeout, because that unlinks it from the queue.
 */
struct queue_ticket {
    enum queue_ticket_state state;
    int status;          /* DONE: the worker's status, 0 or ERR_* */
    void *result;        /* buffer the worker's result is copied into */
    size_t result_cap;   /* bytes available at result */
    size_t result_len;   /* DONE: bytes copied (at most result_cap) */
    int64_t seq;         /* the frame's sequence number */

    /* private to the queue */
    pthread_cond_t cond;
    struct queue_frame *frame;
};

/* Counters of one session, for the API and the logs. */
struct queue_stats {
    int64_t accepted;     /* frames pushed successfully */
    int64_t dropped;      /* waiting frames replaced or discarded */
    int64_t rate_limited; /* pushes refused with ERR_RATE_LIMITED */
    int64_t busy;         /* pushes refused with ERR_BUSY */
    int64_t analysed;     /* frames finished by a worker */
};

struct queue;

/* Fill cfg with the defaults of the PW_MONITOR_* queue settings. */
void queue_config_default(struct queue_config *cfg);

/* Fill cfg from the PW_MONITOR_* settings of core/config.h. */
void queue_config_from_env(struct queue_config *cfg);

/*
 * Create a queue with cfg (copied).  Returns a new queue freed with
 * queue_free(); aborts on out-of-memory.
 */
struct queue *queue_new(const struct queue_config *cfg);

/*
 * Free q with its waiting frames.  Workers must have returned from
 * queue_take() and finished their frames first (see queue_shutdown());
 * NULL is allowed.
 */
void queue_free(struct queue *q);

/*
 * Start tracking session_id (copied), with a full token bucket at now_ms.
 * Returns 0, ERR_EXISTS if it is open already, ERR_BUSY when
 * max_sessions are open, or ERR_CONFLICT after queue_shutdown().
 */
int queue_session_open(struct queue *q, const char *session_id,
                       int64_t now_ms);

/*
 * Stop tracking session_id: its waiting frame is dropped; a frame being
 * analysed finishes normally.  Returns 0 or ERR_NOT_FOUND.
 */
int queue_session_close(struct queue *q, const char *session_id);

/*
 * Queue the JPEG jpeg of len bytes for session_id, arrived at now_ms.  On
 * success takes ownership of jpeg (freed with free()), replaces any frame
 * of the session still waiting, writes the frame's sequence number to
 * *seq (may be NULL) and links ticket (may be NULL) to the frame.  On
 * failure jpeg stays the caller's and the ticket is not linked:
 *   ERR_NOT_FOUND      the session is not open
 *   ERR_INVALID        len is 0
 *   ERR_TOO_BIG        len is over max_frame
 *   ERR_RATE_LIMITED   over the session's rate; *retry_after_ms (may be
 *                      NULL) is when a frame will be accepted again
 *   ERR_BUSY           over max_waiting or max_bytes, or shut down
 * Thread-safe.
 */
int queue_push(struct queue *q, const char *session_id, uint8_t *jpeg,
               size_t len, int64_t now_ms, struct queue_ticket *ticket,
               int64_t *seq, int64_t *retry_after_ms);

/*
 * Take the next frame for a worker, waiting up to timeout_ms (-1: no
 * limit).  Sessions are served round robin, each at most one frame at a
 * time.  Returns 0 and the frame in *out, owned by the worker until it
 * passes it to queue_done(); ERR_TIMEOUT; or ERR_CONFLICT once the queue
 * is shut down.  Thread-safe.
 */
int queue_take(struct queue *q, int timeout_ms, struct queue_frame **out);

/*
 * Finish frame f (taking ownership, it is freed here) with the worker's
 * status and result (len bytes, borrowed), copied into the waiting
 * ticket if any, and make the session's next frame available.
 * Thread-safe.
 */
void queue_done(struct queue *q, struct queue_frame *f, int status,
                const void *result, size_t len);

/* Prepare ticket with a result buffer (borrowed, may be NULL if cap 0). */
void queue_ticket_init(struct queue_ticket *ticket, void *result,
                       size_t result_cap);

/* Release what queue_ticket_init() set up. */
void queue_ticket_release(struct queue_ticket *ticket);

/*
 * Wait up to timeout_ms for ticket's frame to be analysed or dropped, then
 * unlink the ticket from the queue.  Returns the ticket's state; PENDING
 * means the time ran out (the frame is still analysed, its result is not
 * kept).  Thread-safe.
 */
enum queue_ticket_state queue_wait(struct queue *q,
                                   struct queue_ticket *ticket,
                                   int timeout_ms);

/*
 * Stop the queue: pending frames are dropped, blocked and future
 * queue_take() calls return ERR_CONFLICT, pushes fail with ERR_BUSY.
 * Frames already taken still go through queue_done().  Thread-safe.
 */
void queue_shutdown(struct queue *q);

/* Copy session_id's counters into *out.  Returns 0 or ERR_NOT_FOUND. */
int queue_session_stats(struct queue *q, const char *session_id,
                        struct queue_stats *out);

/* Sessions with a frame waiting now, and their bytes.  Thread-safe. */
void queue_usage(struct queue *q, int *waiting, size_t *bytes);

#endif
