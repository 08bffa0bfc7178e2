/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules engine: turns one session's detections, browser events, frame
 * arrivals and periodic ticks into anomaly episodes that open, update and
 * close.  It is pure: no I/O, no clock reads (every call passes the server
 * time), deterministic, and cheap enough to run on every frame.  The rules
 * and their defaults are described in docs/design/monitoring.md.
 */
#ifndef PW_SERVICES_MONITORING_RULES_H
#define PW_SERVICES_MONITORING_RULES_H

#include "core/base.h"
#include "services/monitoring/model.h"

/* Forbidden object labels the engine tracks; more are ignored. */
#define RULES_LABELS_MAX 8

/*
 * Most changes one call can report: every episode slot (7 single ones
 * plus one per label) closing and a new one opening in the same call.
 */
#define RULES_OUTPUT_MAX (2 * (7 + RULES_LABELS_MAX))

/* Thresholds and durations.  Times are in ms, brightness in luma 0..255. */
struct rules_config {
    int64_t face_absent_ms;     /* no face for longer than this */
    float dark_brightness;      /* mean luma below this ... */
    float dark_contrast;        /* ... and contrast below this: dark */
    int64_t dark_ms;            /* dark for this long: poor_lighting */
    int multi_face_frames;      /* consecutive frames with 2+ faces */
    float min_face_area;        /* second face area / largest, to count */
    float object_threshold;     /* object score to count as seen */
    int object_passes;          /* consecutive object passes to open */
    int object_clear_passes;    /* object passes without it to close */
    int clear_frames;           /* consecutive clean frames to close */
    int64_t tab_cap_ms;         /* tab_change / fullscreen_exit cap */
    int64_t clipboard_merge_ms; /* copy/paste within this: one episode */
    int64_t silence_ms;         /* no frame for this: webcam_disabled */
    int64_t update_interval_ms; /* minimum time between two UPDATED */
    int label_count;            /* entries of labels[] */
    char labels[RULES_LABELS_MAX][MON_LABEL_SIZE]; /* forbidden objects */
};

enum rules_change_kind {
    RULES_OPENED,  /* a new episode; anomaly.ended_ms is 0 */
    RULES_UPDATED, /* an open episode gained frames or confidence */
    RULES_CLOSED,  /* the episode ended; anomaly.ended_ms is set */
};

struct rules_change {
    enum rules_change_kind kind;
    struct mon_anomaly anomaly; /* a copy taken at this call */
};

/* The changes of one call, filled by the engine, owned by the caller. */
struct rules_output {
    int count;                                   /* entries of changes[] */
    struct rules_change changes[RULES_OUTPUT_MAX];
};

struct rules;

/* Fill cfg with the documented defaults. */
void rules_config_default(struct rules_config *cfg);

/*
 * Fill cfg from the PW_MONITOR_* settings of core/config.h.  Returns 0, or
 * ERR_INVALID with a message in err when PW_MONITOR_FORBIDDEN_OBJECTS has
 * more than RULES_LABELS_MAX labels or a label longer than
 * MON_LABEL_SIZE - 1 bytes.
 */
int rules_config_from_env(struct rules_config *cfg, char *err,
                          size_t err_size);

/*
 * Create the engine of one session that starts at now_ms (the silence
 * clock runs from there).  cfg is copied.  Returns a new engine freed with
 * rules_free(); aborts on out-of-memory.
 *
 * NEEDSWORK: the state lives only in memory.  After a restart a new engine
 * starts from nothing, so it never closes an episode opened before, and a
 * streak under way counts again from zero.  The service must close such
 * episodes itself when it starts.
 */
struct rules *rules_new(const struct rules_config *cfg, int64_t now_ms);

/* Free r; NULL is allowed.  Open episodes are dropped, not closed. */
void rules_free(struct rules *r);

/*
 * The calls below are for one thread at a time per engine.  Each resets
 * *out and appends the changes it made.  Times should not go backwards.
 * A time earlier than one already seen is taken as the latest time seen,
 * except that rules_on_frame() clamps to the latest frame time only.
 * After rules_end() every call is ignored and reports nothing.
 */

/*
 * Record that a frame arrived at now_ms, analysed or not (the queue may
 * drop it).  It keeps the silence clock and ends webcam_disabled.
 */
void rules_on_arrival(struct rules *r, int64_t now_ms,
                      struct rules_output *out);

/*
 * Apply the detection d (borrowed) of frame frame_seq, with now_ms the
 * server time the frame arrived.  now_ms may lie behind arrivals and
 * ticks already passed (analysis takes time): frame rules then use it,
 * clamped only to the previous frame's time.  An episode opened here has
 * opening_frame_seq = frame_seq, so the caller can store that frame's JPEG
 * as evidence.
 */
void rules_on_frame(struct rules *r, int64_t now_ms,
                    const struct mon_detection *d, int64_t frame_seq,
                    struct rules_output *out);

/* Apply the browser event ev (borrowed) received at server time now_ms. */
void rules_on_event(struct rules *r, int64_t now_ms,
                    const struct mon_event *ev, struct rules_output *out);

/*
 * Advance time without input: raises webcam_disabled after the silence
 * and closes episodes whose cap or merge window passed.  Call it about
 * once a second.
 */
void rules_on_tick(struct rules *r, int64_t now_ms, struct rules_output *out);

/* End the session at now_ms: close every open episode. */
void rules_end(struct rules *r, int64_t now_ms, struct rules_output *out);

/* Number of episodes open now. */
int rules_open_count(const struct rules *r);

#endif
