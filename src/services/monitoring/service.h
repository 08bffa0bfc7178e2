/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitoring service's use cases: proctoring sessions, frames, browser
 * events, anomalies, reviews and evidence.  Frames go through the frame
 * queue to a pool of vision workers (each with its own analyser state); the
 * rules engine of each active session turns their detections, the events
 * and a once-a-second tick into anomaly episodes, which are stored with an
 * outbox event anomaly.detected in one transaction and pushed to a
 * publisher (the proctors' live stream).  The service knows neither HTTP
 * nor the vision library: both come in through the interfaces below.
 * Every use case is thread-safe.
 */
#ifndef PW_SERVICES_MONITORING_SERVICE_H
#define PW_SERVICES_MONITORING_SERVICE_H

#include "core/base.h"
#include "http/auth.h"
#include "services/monitoring/model.h"
#include "services/monitoring/queue.h"
#include "services/monitoring/rules.h"
#include "services/monitoring/score.h"
#include "services/monitoring/store.h"

#include <jansson.h>

struct store;
struct blob_store;
struct mon_service;

/* Largest page of a session or anomaly list. */
#define MON_LIST_MAX 200

/* Anomalies a frame's result lists as opened by that frame. */
#define MON_OPENED_MAX 8

/* The analyser's state kept between frames of one session. */
struct mon_stream {
    long frame_index;    /* frames analysed so far */
    int last_face_count; /* -1 before the first frame */
};

#define MON_STREAM_INIT {0, -1}

/*
 * The vision engine as the workers see it.  worker_new() makes the state
 * of worker index (e.g. its own detector), used by one thread at a time;
 * analyse() decodes and detects on jpeg (borrowed), updating stream, and
 * returns 0 or an ERR_* (ERR_CORRUPT for bytes that do not decode).
 * free_ctx(ctx) runs when the service is freed; it may be NULL.
 */
struct mon_analyser {
    void *ctx;
    int (*worker_new)(void *ctx, int index, void **worker, char *err,
                      size_t err_size);
    void (*worker_free)(void *worker);
    int (*analyse)(void *worker, const uint8_t *jpeg, size_t len,
                   struct mon_stream *stream, struct mon_detection *out);
    void (*free_ctx)(void *ctx);
};

/*
 * Receives every live message of an exam's sessions: session status
 * changes and anomalies as they happen.  msg is borrowed for the call.
 * Called from worker, tick and request threads, possibly at once.
 */
typedef void (*mon_publish_fn)(void *ctx, const char *exam_id,
                               const json_t *msg);

/*
 * Receives the results of a session's frames and its end, as JSON text
 * (borrowed for the call), for the student's WebSocket.  Called from
 * worker, tick and request threads, never two at once for one session.
 */
typedef void (*mon_sink_fn)(void *ctx, const char *json, size_t len);

struct mon_service_options {
    struct rules_config rules;
    struct queue_config queue;
    struct score_config score;
    int workers;           /* vision workers; 0: one per core */
    int frame_wait_ms;     /* how long a posted frame waits for its result */
    int tick_ms;           /* rules tick period; 0: 1000 */
    int64_t flush_ms;      /* frame counters saved this often; 0: 5000 */
    int event_queue_max;   /* events of mon_event_enqueue() waiting to be
                              stored, all sessions; 0: 1024 */
    int64_t (*now_ms)(void); /* server clock; NULL: utc_now_ms */
};

/*
 * Fill o from the PW_MONITOR_* settings.  Returns 0, or ERR_INVALID with a
 * message in err naming the setting.
 */
int mon_service_options_from_env(struct mon_service_options *o, char *err,
                                 size_t err_size);

/*
 * Create the service over st and blobs (borrowed, must outlive it) and
 * analyser (copied; its ctx is owned by the service from now on, also on
 * failure).  o is copied (NULL: the settings of the environment).  Sessions
 * left active by an earlier process are taken up again with fresh rules.
 * Their anomalies that process left open are closed, with closed_by
 * "restart", at the latest time it stored them as holding (see
 * mon_service_free()); mon_service_start() publishes their anomaly.ended
 * messages.  No thread runs until mon_service_start().  Returns 0 and a
 * new service in *out, freed with mon_service_free(), or an ERR_* with a
 * message in err.
 */
int mon_service_new(struct store *st, struct blob_store *blobs,
                    const struct mon_analyser *analyser,
                    const struct mon_service_options *o,
                    struct mon_service **out, char *err, size_t err_size);

/* Set the live publisher (fn NULL: none).  Call before starting. */
void mon_service_set_publisher(struct mon_service *svc, mon_publish_fn fn,
                               void *ctx);

/*
 * Publish the anomaly.ended messages of the anomalies closed at restart,
 * then start the vision workers (each with its analyser worker state), the
 * tick thread and the event thread.  Returns 0 or the error of
 * worker_new() with a message in err; on error no thread is left running.
 */
int mon_service_start(struct mon_service *svc, char *err, size_t err_size);

/*
 * Stop the threads: frames waiting are dropped, frames being analysed
 * finish, and events queued by mon_event_enqueue() are stored.  Safe to
 * call twice or without a start.
 */
void mon_service_stop(struct mon_service *svc);

/*
 * Stop and free svc, releasing every sink; NULL is allowed.  Before it
 * goes, it stores the frame counters and, on every open anomaly, this
 * time as the latest one it was known to hold.
 */
void mon_service_free(struct mon_service *svc);

/* ---- sessions ---------------------------------------------------------- */

/*
 * Whether s can be an exam or reservation reference: 1 to MON_REF_SIZE - 1
 * ASCII letters, digits and "._:-" (so a hub topic name can embed it).
 */
bool mon_ref_is_valid(const char *s);

/*
 * Start a session of exam_id for the student who (reservation_id may be
 * NULL).  Returns 0 and the session in *out, ERR_INVALID for a reference
 * that is empty, longer than MON_REF_SIZE - 1 or has a character other
 * than ASCII letters, digits and "._:-", ERR_FORBIDDEN for a
 * caller who is not a student, ERR_EXISTS when the student has an active
 * session of that exam, ERR_BUSY when the frame queue tracks too many
 * sessions, or a store error.
 */
int mon_session_start(struct mon_service *svc, const struct auth_claims *who,
                      const char *exam_id, const char *reservation_id,
                      struct mon_session *out);

/*
 * End session id: its student or a proctor or admin.  Open anomalies
 * close.  Returns 0 and the ended session in *out, ERR_NOT_FOUND,
 * ERR_FORBIDDEN, ERR_CONFLICT when it had ended already, or a store error.
 */
int mon_session_end(struct mon_service *svc, const struct auth_claims *who,
                    const char *id, struct mon_session *out);

/* A session with its frame counts and suspicion score. */
struct mon_summary {
    struct mon_session session;
    struct mon_counts counts;
    int anomaly_count[MON_ANOMALY_TYPE_COUNT]; /* episodes by type */
    struct score_config score_config;          /* weights applied */
    struct score_result score;
};

/*
 * Read session id with its summary for its student, a proctor or an
 * admin.  Returns 0, ERR_NOT_FOUND, ERR_FORBIDDEN or a store error.
 */
int mon_session_get(struct mon_service *svc, const struct auth_claims *who,
                    const char *id, struct mon_summary *out);

/*
 * List sessions for a proctor or admin, matching f, up to max
 * (MON_LIST_MAX at most) into out.  Returns 0, ERR_FORBIDDEN or a store
 * error.
 */
int mon_session_list(struct mon_service *svc, const struct auth_claims *who,
                     const struct mon_session_filter *f, size_t max,
                     struct mon_session *out, size_t *n);

/*
 * Read session id for who as mon_session_get() decides, without the
 * summary: for the live stream's and WebSocket's checks.
 */
int mon_session_read(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, struct mon_session *out);

/* ---- frames and events ------------------------------------------------- */

/* An anomaly opened by a frame. */
struct mon_opened {
    char id[ID_SIZE];
    enum mon_anomaly_type type;
    char label[MON_LABEL_SIZE];
};

/* The outcome of one frame. */
struct mon_frame_result {
    int64_t seq;         /* the frame's sequence number in its session */
    bool analysed;       /* false: still queued when the wait ended */
    int status;          /* analysed: 0 or the analyser's ERR_* */
    struct mon_detection detection; /* analysed with status 0 */
    int opened_count;    /* entries of opened[] */
    struct mon_opened opened[MON_OPENED_MAX];
};

/*
 * Queue the JPEG frame jpeg (len bytes) of session id for its student
 * and wait up to wait_ms (-1: the configured wait, which also caps any
 * other value) for its analysis.  On
 * success the service owns jpeg; on failure it stays the caller's.
 * Returns 0 and *out (analysed or queued), ERR_NOT_FOUND, ERR_FORBIDDEN
 * (not the session's student), ERR_CONFLICT (session ended),
 * ERR_UNSUPPORTED (not a JPEG), ERR_TOO_BIG, ERR_RATE_LIMITED with
 * *retry_after_ms set, or ERR_BUSY when the queue is full.
 */
int mon_frame_submit(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, uint8_t *jpeg, size_t len, int wait_ms,
                     struct mon_frame_result *out, int64_t *retry_after_ms);

/*
 * Store the browser event ev (borrowed) of session id, sent by its
 * student, and apply it, on the caller's thread.  Returns 0,
 * ERR_NOT_FOUND, ERR_FORBIDDEN, ERR_CONFLICT (ended) or a store error.
 */
int mon_event_submit(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, const struct mon_event *ev);

/*
 * Queue the browser event ev (copied) of session id, sent by its student,
 * for the event thread, which stores and applies the events in the order
 * they were queued.  It never touches the store, so a non-blocking caller
 * (the WebSocket thread) may call it.  A store failure later is logged
 * and sent to the session's sink as an error message.  Returns 0,
 * ERR_FORBIDDEN, ERR_BUSY when event_queue_max events are waiting, or
 * ERR_CONFLICT when the session is not active in this process (ended, or
 * unknown: the caller checks the session first, as the stream's upgrade
 * does).
 */
int mon_event_enqueue(struct mon_service *svc, const struct auth_claims *who,
                      const char *id, const struct mon_event *ev);

/*
 * Send session id's frame results and end to sink(ctx, ...) from now on,
 * replacing an earlier sink, whose release(ctx) then runs.  release(ctx)
 * also runs when the session ends, at mon_stream_detach() and when the
 * service is freed.  Only the session's student may attach.  Returns 0,
 * ERR_NOT_FOUND, ERR_FORBIDDEN or ERR_CONFLICT (ended); on error release
 * is not called.
 */
int mon_stream_attach(struct mon_service *svc, const struct auth_claims *who,
                      const char *id, mon_sink_fn sink, void *ctx,
                      void (*release)(void *ctx));

/* Stop sending to the sink ctx of session id, if it is still attached. */
void mon_stream_detach(struct mon_service *svc, const char *id, void *ctx);

/*
 * Return the JSON of result r as the stream sends it: a new reference.
 */
json_t *mon_frame_result_json(const struct mon_frame_result *r);

/* ---- anomalies and evidence -------------------------------------------- */

/*
 * List the anomalies of session id for its student, a proctor or an
 * admin, oldest first, up to MON_LIST_MAX, into a new array *out (free
 * with mon_anomaly_records_free()).  Returns 0, ERR_NOT_FOUND,
 * ERR_FORBIDDEN or a store error.
 */
int mon_anomaly_list(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, struct mon_anomaly_record **out,
                     size_t *n);

/*
 * Record a proctor's or admin's review of anomaly id (comment borrowed,
 * may be NULL) and return the updated anomaly in *out (release it).
 * Returns 0, ERR_INVALID (review pending), ERR_FORBIDDEN, ERR_NOT_FOUND or
 * a store error.
 */
int mon_anomaly_review(struct mon_service *svc, const struct auth_claims *who,
                       const char *id, enum mon_review review,
                       const char *comment, struct mon_anomaly_record *out);

/*
 * Read the evidence snapshot of anomaly id (the JPEG as received) into a
 * new buffer *data the caller frees, for a proctor, an admin or the
 * session's student.  Returns 0, ERR_NOT_FOUND (no such anomaly, or no
 * snapshot kept), ERR_FORBIDDEN or ERR_IO.
 */
int mon_evidence_get(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, void **data, size_t *len);

/* Return the JSON of anomaly r (borrowed) as the API shows it. */
json_t *mon_anomaly_record_json(const struct mon_anomaly_record *r);

/* Return the JSON of session s (borrowed) as the API shows it. */
json_t *mon_session_json(const struct mon_session *s);

#endif
