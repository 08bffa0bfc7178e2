/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Monitoring records: what the vision engine saw in one frame (detection),
 * what the browser reported (event), and the anomaly episodes the rules
 * engine raises from them.  Times are server-clock ms since the epoch;
 * a browser's own timestamp is kept for the record but never trusted.
 */
#ifndef PW_SERVICES_MONITORING_MODEL_H
#define PW_SERVICES_MONITORING_MODEL_H

#include "core/base.h"
#include "core/id.h"

/* Faces kept per detection; a frame may report more in face_count. */
#define MON_FACES_MAX 8

/* Objects kept per detection (highest score first). */
#define MON_OBJECTS_MAX 8

/* Size of an object label and its NUL, e.g. "cell phone". */
#define MON_LABEL_SIZE 24

/* Evidence records kept per anomaly: the first ones and the latest one. */
#define MON_EVIDENCE_MAX 16

enum mon_session_status {
    MON_SESSION_ACTIVE, /* frames and events are being received */
    MON_SESSION_ENDED,  /* closed; every open anomaly was ended */
};

/*
 * Size of an exam or reservation reference and its NUL.  Until the exam
 * catalog exists these are opaque client-chosen identifiers.
 */
#define MON_REF_SIZE 65

/* The proctoring of one attempt. */
struct mon_session {
    char id[ID_SIZE];                   /* session id */
    char exam_id[MON_REF_SIZE];         /* the exam being sat */
    char user_id[ID_SIZE];              /* the student sitting it */
    char reservation_id[MON_REF_SIZE];  /* the student's seat; "" if none */
    enum mon_session_status status;
    int64_t started_ms;       /* server time the session opened */
    int64_t ended_ms;         /* server time it ended; 0 while active */
};

enum mon_severity {
    MON_SEVERITY_LOW,
    MON_SEVERITY_MEDIUM,
    MON_SEVERITY_HIGH,
    MON_SEVERITY_CRITICAL,
};

enum mon_anomaly_type {
    MON_ANOMALY_FACE_ABSENT,      /* nobody in front of the camera */
    MON_ANOMALY_MULTIPLE_FACES,   /* someone else in the picture */
    MON_ANOMALY_FORBIDDEN_OBJECT, /* phone, book, laptop ... (per label) */
    MON_ANOMALY_TAB_CHANGE,       /* exam tab hidden or window left */
    MON_ANOMALY_WEBCAM_DISABLED,  /* camera stopped or frames stopped */
    MON_ANOMALY_POOR_LIGHTING,    /* frames too dark to judge */
    MON_ANOMALY_FULLSCREEN_EXIT,  /* fullscreen left */
    MON_ANOMALY_CLIPBOARD,        /* copy or paste in the exam page */
    MON_ANOMALY_TYPE_COUNT,
};

enum mon_event_type {
    MON_EVENT_TAB_HIDDEN,
    MON_EVENT_TAB_VISIBLE,
    MON_EVENT_WINDOW_BLUR,
    MON_EVENT_WINDOW_FOCUS,
    MON_EVENT_FULLSCREEN_EXIT,
    MON_EVENT_FULLSCREEN_ENTER,
    MON_EVENT_WEBCAM_STOPPED,
    MON_EVENT_COPY,
    MON_EVENT_PASTE,
    MON_EVENT_TYPE_COUNT,
};

/* One event reported by the exam page. */
struct mon_event {
    enum mon_event_type type;
    int64_t client_ms; /* the browser's clock; stored, never trusted */
};

struct mon_face {
    float score;  /* detector score, 0..1 */
    float box[4]; /* x1, y1, x2, y2 in frame pixels */
};

struct mon_object {
    char label[MON_LABEL_SIZE]; /* detector class name, e.g. "book" */
    float score;                /* 0..1 */
};

/* What the vision engine saw in one analysed frame. */
struct mon_detection {
    int face_count;    /* faces found, may exceed MON_FACES_MAX */
    int faces_kept;    /* entries of faces[], highest score first */
    struct mon_face faces[MON_FACES_MAX];
    float brightness;  /* mean luma of the frame, 0..255 */
    float contrast;    /* standard deviation of luma, 0..~128 */
    bool objects_ran;  /* whether the object pass ran on this frame */
    int objects_kept;  /* entries of objects[] when objects_ran */
    struct mon_object objects[MON_OBJECTS_MAX];
};

enum mon_evidence_kind {
    MON_EVIDENCE_FRAME,   /* an analysed frame */
    MON_EVIDENCE_EVENT,   /* a browser event */
    MON_EVIDENCE_SILENCE, /* no frame arrived since at_ms */
};

/* One fact an anomaly rests on. */
struct mon_evidence {
    enum mon_evidence_kind kind;
    int64_t at_ms;       /* server time of the frame or event */
    int64_t frame_seq;   /* FRAME: the frame's sequence number; else -1 */
    int face_count;      /* FRAME: faces found */
    float score;         /* FRAME: detector score behind it, 0 if none */
    float brightness;    /* FRAME: mean luma 0..255 */
    enum mon_event_type event; /* EVENT: which one */
    int64_t client_ms;   /* EVENT: the browser's timestamp */
};

/* One anomaly episode. */
struct mon_anomaly {
    int64_t episode;           /* 1, 2, ... in the order opened */
    enum mon_anomaly_type type;
    enum mon_severity severity;
    char label[MON_LABEL_SIZE]; /* FORBIDDEN_OBJECT: the object; else "" */
    int64_t started_ms;        /* server time the condition began */
    int64_t ended_ms;          /* server time it cleared; 0 while open */
    double confidence;         /* 0..1, see docs/design/monitoring.md */
    int frame_count;           /* analysed frames that showed it */
    int64_t opening_frame_seq; /* frame that opened it, or -1 */
    int evidence_count;        /* entries of evidence[] */
    int evidence_total;        /* records seen, kept or not */
    struct mon_evidence evidence[MON_EVIDENCE_MAX];
};

/* Return the snake_case name of t, e.g. "face_absent" (static text). */
const char *mon_anomaly_type_name(enum mon_anomaly_type t);

/* Parse a snake_case anomaly type name; 0 or ERR_INVALID. */
int mon_anomaly_type_parse(const char *name, enum mon_anomaly_type *out);

/* Return "low", "medium", "high" or "critical" (static text). */
const char *mon_severity_name(enum mon_severity s);

/* Return the snake_case name of t, e.g. "tab_hidden" (static text). */
const char *mon_event_type_name(enum mon_event_type t);

/* Parse an event name as the browser sends it; 0 or ERR_INVALID. */
int mon_event_type_parse(const char *name, enum mon_event_type *out);

/* Return "active" or "ended" (static text). */
const char *mon_session_status_name(enum mon_session_status s);

/*
 * Serialise a's evidence as a JSON array of objects, one per record.
 * Returns a new string the caller frees with free(); aborts on
 * out-of-memory like the x* wrappers.
 */
char *mon_anomaly_evidence_json(const struct mon_anomaly *a);

#endif
