/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the monitoring service: sessions, browser events and anomaly
 * episodes, in portable SQL through src/store.  Every function runs on the
 * connection it is given, so a caller groups several in one transaction
 * (an anomaly and its outbox event).  Records are copied into caller-owned
 * structs; strings marked "owned" are freed with mon_anomaly_record_release().
 */
#ifndef PW_SERVICES_MONITORING_STORE_H
#define PW_SERVICES_MONITORING_STORE_H

#include "core/base.h"
#include "services/monitoring/model.h"

struct store_conn;

/* Size of a blob key of an evidence snapshot and its NUL. */
#define MON_BLOB_KEY_SIZE 128

/* Size of an anomaly's closed_by mark and its NUL. */
#define MON_CLOSED_BY_SIZE 16

/* Frame counters of a session. */
struct mon_counts {
    int64_t received; /* frames accepted by the API */
    int64_t analysed; /* frames the vision workers finished */
    int64_t one_face; /* analysed frames with exactly one face */
    int64_t dropped;  /* frames replaced by a newer one before analysis */
};

enum mon_review {
    MON_REVIEW_PENDING,   /* no proctor looked at it yet */
    MON_REVIEW_CONFIRMED, /* a proctor judged it real */
    MON_REVIEW_DISMISSED, /* a proctor judged it harmless */
};

/* One stored anomaly episode. */
struct mon_anomaly_record {
    char id[ID_SIZE];
    char session_id[ID_SIZE];
    char exam_id[MON_REF_SIZE];
    char user_id[ID_SIZE];
    int64_t episode;           /* 1, 2 ... per session */
    enum mon_anomaly_type type;
    enum mon_severity severity;
    char label[MON_LABEL_SIZE]; /* forbidden_object: the object */
    int64_t started_ms;
    int64_t ended_ms;          /* 0 while open */
    double confidence;         /* 0..1 */
    int frame_count;
    int64_t opening_frame_seq; /* -1 when no frame opened it */
    char *evidence;            /* owned JSON array text */
    char evidence_key[MON_BLOB_KEY_SIZE]; /* "" when no snapshot is kept */
    enum mon_review review;
    char *review_comment;      /* owned; NULL when none */
    char reviewed_by[ID_SIZE]; /* "" when not reviewed */
    int64_t reviewed_ms;       /* 0 when not reviewed */
    int64_t created_ms;
    int64_t updated_ms;        /* last write while open; 0 if unknown */
    char closed_by[MON_CLOSED_BY_SIZE]; /* "restart", or "" (the rules) */
};

/* Free the owned strings of r and zero it; a zeroed r is fine. */
void mon_anomaly_record_release(struct mon_anomaly_record *r);

/* Release n records of list, then free(list); NULL is allowed. */
void mon_anomaly_records_free(struct mon_anomaly_record *list, size_t n);

/* Return "pending", "confirmed" or "dismissed" (static text). */
const char *mon_review_name(enum mon_review r);

/*
 * Insert the session s with zero counters.  Returns 0, ERR_EXISTS when
 * the user already has an active session of the exam, or a store error.
 */
int mon_store_session_insert(struct store_conn *c,
                             const struct mon_session *s);

/*
 * Read session id into *out and its stored counters into *counts (may be
 * NULL).  Returns 0, ERR_NOT_FOUND or a store error.
 */
int mon_store_session_get(struct store_conn *c, const char *id,
                          struct mon_session *out, struct mon_counts *counts);

/*
 * Mark session id ended at ended_ms.  Returns 0, ERR_CONFLICT when it was
 * not active, ERR_NOT_FOUND, or a store error.
 */
int mon_store_session_end(struct store_conn *c, const char *id,
                          int64_t ended_ms);

/* Overwrite the frame counters of session id.  0 or a store error. */
int mon_store_session_set_counts(struct store_conn *c, const char *id,
                                 const struct mon_counts *counts);

/* Filters of mon_store_session_list(). */
struct mon_session_filter {
    const char *exam_id; /* NULL: any exam */
    int status;          /* enum mon_session_status, or -1 for any */
    const char *after;   /* return ids above this one; NULL: from start */
};

/*
 * Read up to max sessions matching f, in id order, into out (max entries)
 * and their number into *n.  Returns 0 or a store error.
 */
int mon_store_session_list(struct store_conn *c,
                           const struct mon_session_filter *f, size_t max,
                           struct mon_session *out, size_t *n);

/*
 * Record the browser event ev of session_id received at received_ms.
 * Returns 0 or a store error.
 */
int mon_store_event_insert(struct store_conn *c, const char *session_id,
                           const struct mon_event *ev, int64_t received_ms);

/*
 * Insert r (borrowed) with created_ms as its update time.  evidence_key ""
 * stores NULL.  Returns 0 or a store error.
 */
int mon_store_anomaly_insert(struct store_conn *c,
                             const struct mon_anomaly_record *r);

/*
 * Update the ending, confidence, frame count and evidence of the episode
 * of session_id from a (borrowed; a->episode + episode_base is the stored
 * episode), written at now_ms.  Returns 0, ERR_NOT_FOUND or a store error.
 */
int mon_store_anomaly_update(struct store_conn *c, const char *session_id,
                             int64_t episode_base,
                             const struct mon_anomaly *a, int64_t now_ms);

/*
 * Set the update time of session_id's open episodes to now_ms, the last
 * time this process knew they held.  Returns 0 or a store error.
 */
int mon_store_anomaly_touch_open(struct store_conn *c,
                                 const char *session_id, int64_t now_ms);

/*
 * End the open anomaly id at ended_ms and mark it closed_by "restart".
 * Returns 0, ERR_NOT_FOUND when it is not open, or a store error.
 */
int mon_store_anomaly_close_restart(struct store_conn *c, const char *id,
                                    int64_t ended_ms);

/*
 * Read anomaly id into *out (release it after).  Returns 0,
 * ERR_NOT_FOUND or a store error.
 */
int mon_store_anomaly_get(struct store_conn *c, const char *id,
                          struct mon_anomaly_record *out);

/*
 * Read the anomalies of session_id, oldest first, up to max, into a new
 * array *out (free with mon_anomaly_records_free()) and their number into
 * *n.  Returns 0 or a store error.
 */
int mon_store_anomaly_list(struct store_conn *c, const char *session_id,
                           size_t max, struct mon_anomaly_record **out,
                           size_t *n);

/* Store the highest episode number of session_id in *out (0: none). */
int mon_store_anomaly_max_episode(struct store_conn *c,
                                  const char *session_id, int64_t *out);

/*
 * Record a proctor's review of anomaly id: review, comment (borrowed, may
 * be NULL), by (user id) at at_ms.  Returns 0, ERR_NOT_FOUND or a store
 * error.
 */
int mon_store_anomaly_review(struct store_conn *c, const char *id,
                             enum mon_review review, const char *comment,
                             const char *by, int64_t at_ms);

#endif
