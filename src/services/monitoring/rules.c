/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules engine.  Each kind of episode has one slot (forbidden objects
 * have one per label).  A slot is open or not, so one condition is one
 * episode however many frames show it.  Frame rules keep a streak (the frames
 * since the condition began) and a clear run (clean frames since it
 * stopped); an episode opens when the streak is long enough and closes
 * when the clear run is, dated back to where the run began.
 */
#include "core/base.h"
#include "services/monitoring/rules.h"

#include "core/config.h"
#include "core/err.h"

/* Records of a streak kept before its episode opens. */
#define PENDING_MAX 4

enum slot {
    SLOT_FACE_ABSENT,
    SLOT_MULTIPLE_FACES,
    SLOT_POOR_LIGHTING,
    SLOT_TAB_CHANGE,
    SLOT_FULLSCREEN_EXIT,
    SLOT_CLIPBOARD,
    SLOT_WEBCAM_DISABLED,
    SLOT_OBJECT, /* first of RULES_LABELS_MAX object slots */
    SLOT_COUNT = SLOT_OBJECT + RULES_LABELS_MAX,
};

static_assert(RULES_OUTPUT_MAX >= 2 * SLOT_COUNT,
              "a call may close and reopen every slot");

struct episode {
    bool open;
    bool opened_now;        /* opened during the current call */
    bool dirty;             /* changed since last reported */
    bool from_event;        /* opened by a browser event, not a measure */
    double term_sum;        /* detector terms of the frames judged */
    int term_count;         /* frames judged while the streak/episode ran */
    int64_t last_report_ms; /* when OPENED or UPDATED was last emitted */
    struct mon_anomaly a;
};

/* A run of consecutive frames (or passes) sharing one condition. */
struct run {
    int count;        /* frames in the run */
    int64_t start_ms; /* time of its first frame */
    int64_t last_ms;  /* time of its latest frame */
};

/* The frames of a streak before its episode opens. */
struct pending {
    double term_sum;
    int count;
    struct mon_evidence rec[PENDING_MAX];
    int kept;
    int total;
};

struct rules {
    struct rules_config cfg;
    int64_t clock_ms;        /* latest time seen */
    int64_t frame_clock_ms;  /* latest time of an analysed frame */
    bool ended;              /* rules_end() was called */
    int64_t next_episode;    /* number of the next episode opened */
    int64_t last_arrival_ms; /* latest frame arrival, or the start */

    struct run absent;       /* lit frames without a face */
    struct run face_clear;   /* frames with a face, closing absence */
    struct run multi;        /* frames with two faces or more */
    struct run multi_clear;  /* frames with fewer, closing the episode */
    struct run dark;         /* frames too dark to see */
    struct run light_clear;  /* lit frames, closing poor_lighting */
    struct run camera_clear; /* arrivals, closing webcam_disabled */
    struct run object[RULES_LABELS_MAX];       /* passes seeing it */
    struct run object_clear[RULES_LABELS_MAX]; /* passes without it */
    int64_t clipboard_last_ms; /* latest copy or paste */

    struct pending pending[SLOT_COUNT];
    struct episode slots[SLOT_COUNT];
};

static const struct {
    enum mon_anomaly_type type;
    enum mon_severity severity;
} slot_kinds[SLOT_OBJECT + 1] = {
    [SLOT_FACE_ABSENT] = {MON_ANOMALY_FACE_ABSENT, MON_SEVERITY_HIGH},
    [SLOT_MULTIPLE_FACES] = {MON_ANOMALY_MULTIPLE_FACES,
                             MON_SEVERITY_CRITICAL},
    [SLOT_POOR_LIGHTING] = {MON_ANOMALY_POOR_LIGHTING, MON_SEVERITY_LOW},
    [SLOT_TAB_CHANGE] = {MON_ANOMALY_TAB_CHANGE, MON_SEVERITY_MEDIUM},
    [SLOT_FULLSCREEN_EXIT] = {MON_ANOMALY_FULLSCREEN_EXIT, MON_SEVERITY_LOW},
    [SLOT_CLIPBOARD] = {MON_ANOMALY_CLIPBOARD, MON_SEVERITY_LOW},
    [SLOT_WEBCAM_DISABLED] = {MON_ANOMALY_WEBCAM_DISABLED,
                              MON_SEVERITY_CRITICAL},
    [SLOT_OBJECT] = {MON_ANOMALY_FORBIDDEN_OBJECT, MON_SEVERITY_HIGH},
};

/* ---- configuration ---------------------------------------------------- */

static int parse_labels(struct rules_config *cfg, const char *list,
                        char *err, size_t err_size)
{
    const char *p = list;

    cfg->label_count = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len;

        if (!end)
            end = p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        len = (size_t)(end - p);
        while (len > 0 && p[len - 1] == ' ')
            len--;

        if (len > 0) {
            if (cfg->label_count == RULES_LABELS_MAX) {
                snprintf(err, err_size,
                         "invalid PW_MONITOR_FORBIDDEN_OBJECTS: more than "
                         "%d labels", RULES_LABELS_MAX);
                return ERR_INVALID;
            }
            if (len >= MON_LABEL_SIZE) {
                snprintf(err, err_size,
                         "invalid PW_MONITOR_FORBIDDEN_OBJECTS: label "
                         "\"%.*s\" is longer than %d bytes", (int)len, p,
                         MON_LABEL_SIZE - 1);
                return ERR_INVALID;
            }
            memcpy(cfg->labels[cfg->label_count], p, len);
            cfg->labels[cfg->label_count][len] = '\0';
            cfg->label_count++;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

void rules_config_default(struct rules_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->face_absent_ms = 5000;
    cfg->dark_brightness = 40.0f;
    cfg->dark_contrast = 12.0f;
    cfg->dark_ms = 5000;
    cfg->multi_face_frames = 3;
    cfg->min_face_area = 0.05f;
    cfg->object_threshold = 0.25f;
    cfg->object_passes = 2;
    cfg->object_clear_passes = 3;
    cfg->clear_frames = 2;
    cfg->tab_cap_ms = 300000;
    cfg->clipboard_merge_ms = 10000;
    cfg->silence_ms = 20000;
    cfg->update_interval_ms = 5000;
    parse_labels(cfg, "cell phone,book,laptop", NULL, 0);
}

int rules_config_from_env(struct rules_config *cfg, char *err,
                          size_t err_size)
{
    rules_config_default(cfg);
    cfg->face_absent_ms = config_int("PW_MONITOR_FACE_ABSENT") * 1000;
    cfg->dark_brightness = (float)config_double("PW_MONITOR_DARK_BRIGHTNESS");
    cfg->dark_contrast = (float)config_double("PW_MONITOR_DARK_CONTRAST");
    cfg->dark_ms = config_int("PW_MONITOR_DARK_DURATION") * 1000;
    cfg->multi_face_frames = (int)config_int("PW_MONITOR_MULTI_FACE_FRAMES");
    cfg->min_face_area = (float)config_double("PW_MONITOR_MIN_FACE_AREA");
    cfg->object_threshold =
        (float)config_double("PW_MONITOR_OBJECT_THRESHOLD");
    cfg->object_passes = (int)config_int("PW_MONITOR_OBJECT_PASSES");
    cfg->object_clear_passes =
        (int)config_int("PW_MONITOR_OBJECT_CLEAR_PASSES");
    cfg->clear_frames = (int)config_int("PW_MONITOR_CLEAR_FRAMES");
    cfg->tab_cap_ms = config_int("PW_MONITOR_TAB_CAP") * 1000;
    cfg->clipboard_merge_ms = config_int("PW_MONITOR_CLIPBOARD_MERGE") * 1000;
    cfg->silence_ms = config_int("PW_MONITOR_SILENCE") * 1000;
    cfg->update_interval_ms =
        config_int("PW_MONITOR_UPDATE_INTERVAL") * 1000;
    return parse_labels(cfg, config_str("PW_MONITOR_FORBIDDEN_OBJECTS"), err,
                        err_size);
}

/* ---- evidence and episodes -------------------------------------------- */

/*
 * Append rec to a bounded list: the first cap - 1 records stay, and the
 * last entry always contains the latest one, so a long episode keeps how
 * it began and its latest state.
 */
static void keep_record(struct mon_evidence *list, int cap, int *kept,
                        int *total, const struct mon_evidence *rec)
{
    (*total)++;
    if (*kept < cap)
        list[(*kept)++] = *rec;
    else
        list[cap - 1] = *rec;
}

static void add_evidence(struct episode *ep, const struct mon_evidence *rec)
{
    keep_record(ep->a.evidence, MON_EVIDENCE_MAX, &ep->a.evidence_count,
                &ep->a.evidence_total, rec);
    ep->dirty = true;
}

static struct mon_evidence frame_record(int64_t now, int64_t seq,
                                        const struct mon_detection *d,
                                        float score)
{
    struct mon_evidence rec = {
        .kind = MON_EVIDENCE_FRAME,
        .at_ms = now,
        .frame_seq = seq,
        .face_count = d->face_count,
        .score = score,
        .brightness = d->brightness,
        .client_ms = 0,
    };

    return rec;
}

static struct mon_evidence event_record(int64_t now,
                                        const struct mon_event *ev)
{
    struct mon_evidence rec = {
        .kind = MON_EVIDENCE_EVENT,
        .at_ms = now,
        .frame_seq = -1,
        .event = ev->type,
        .client_ms = ev->client_ms,
    };

    return rec;
}

/* The slot's threshold in ms (time rules) or frames (frame rules). */
static double support_needed(const struct rules *r, int slot)
{
    switch (slot) {
    case SLOT_FACE_ABSENT:
        return (double)r->cfg.face_absent_ms;
    case SLOT_POOR_LIGHTING:
        return (double)r->cfg.dark_ms;
    case SLOT_WEBCAM_DISABLED:
        return (double)r->cfg.silence_ms;
    case SLOT_MULTIPLE_FACES:
        return r->cfg.multi_face_frames;
    default:
        return r->cfg.object_passes;
    }
}

/*
 * confidence = detector * (0.5 + 0.5 * min(1, support / (2 * needed))):
 * detector is the mean detector term of the frames judged, and support the
 * episode's duration (time rules) or frame count (frame rules), so an
 * episode that just met its threshold scores 0.75 of its detector term and
 * one that lasted twice as long the full term.  Browser events are taken
 * at their word (1.0): their truth is the browser's, not a measure.
 */
static double confidence_of(const struct rules *r, int slot,
                            const struct episode *ep, int64_t now)
{
    double detector, support, needed;
    int64_t end = ep->a.ended_ms ? ep->a.ended_ms : now;

    if (ep->from_event)
        return 1.0;

    switch (slot) {
    case SLOT_FACE_ABSENT:
    case SLOT_POOR_LIGHTING:
    case SLOT_WEBCAM_DISABLED:
        support = (double)(end - ep->a.started_ms);
        break;
    default:
        support = ep->a.frame_count;
        break;
    }
    detector = ep->term_count ? ep->term_sum / ep->term_count : 1.0;
    needed = support_needed(r, slot);
    if (needed <= 0)
        return detector;
    return detector * (0.5 + 0.5 * MIN(1.0, support / (2.0 * needed)));
}

static void emit(struct rules_output *out, enum rules_change_kind kind,
                 const struct mon_anomaly *a)
{
    if (out->count == RULES_OUTPUT_MAX)
        BUG("rules output overflow: %d changes", out->count);
    out->changes[out->count].kind = kind;
    out->changes[out->count].anomaly = *a;
    out->count++;
}

static struct episode *open_episode(struct rules *r, int slot,
                                    int64_t started, int64_t frame_seq)
{
    struct episode *ep = &r->slots[slot];
    int kind = MIN(slot, (int)SLOT_OBJECT);

    assert(!ep->open);
    memset(ep, 0, sizeof(*ep));
    ep->open = true;
    ep->opened_now = true;
    ep->a.episode = r->next_episode++;
    ep->a.type = slot_kinds[kind].type;
    ep->a.severity = slot_kinds[kind].severity;
    if (slot >= SLOT_OBJECT)
        strlcpy_pw(ep->a.label, r->cfg.labels[slot - SLOT_OBJECT],
                   sizeof(ep->a.label));
    ep->a.started_ms = started;
    ep->a.opening_frame_seq = frame_seq;
    return ep;
}

/* Open slot's episode from its pending streak, which is then cleared. */
static struct episode *open_from_streak(struct rules *r, int slot,
                                        int64_t started, int64_t frame_seq)
{
    struct episode *ep = open_episode(r, slot, started, frame_seq);
    struct pending *p = &r->pending[slot];

    for (int i = 0; i < p->kept; i++)
        add_evidence(ep, &p->rec[i]);
    ep->a.evidence_total = p->total;
    ep->a.frame_count = p->count;
    ep->term_sum = p->term_sum;
    ep->term_count = p->count;
    memset(p, 0, sizeof(*p));
    return ep;
}

static void close_episode(struct rules *r, int slot, int64_t ended,
                          int64_t now, struct rules_output *out)
{
    struct episode *ep = &r->slots[slot];

    assert(ep->open);
    ep->a.ended_ms = MAX(ended, ep->a.started_ms);
    ep->a.confidence = confidence_of(r, slot, ep, now);
    if (ep->opened_now)
        emit(out, RULES_OPENED, &ep->a);
    emit(out, RULES_CLOSED, &ep->a);
    ep->open = false;
    ep->opened_now = false;
}

/* Emit OPENED for episodes opened by this call and due UPDATED ones. */
static void flush(struct rules *r, int64_t now, struct rules_output *out)
{
    for (int slot = 0; slot < SLOT_COUNT; slot++) {
        struct episode *ep = &r->slots[slot];

        if (!ep->open)
            continue;
        if (ep->opened_now) {
            ep->a.confidence = confidence_of(r, slot, ep, now);
            emit(out, RULES_OPENED, &ep->a);
        } else if (ep->dirty &&
                   now - ep->last_report_ms >= r->cfg.update_interval_ms) {
            ep->a.confidence = confidence_of(r, slot, ep, now);
            emit(out, RULES_UPDATED, &ep->a);
        } else {
            continue;
        }
        ep->opened_now = false;
        ep->dirty = false;
        ep->last_report_ms = now;
    }
}

/* Add one frame to a pending streak. */
static void pend(struct rules *r, int slot, const struct mon_evidence *rec,
                 double term)
{
    struct pending *p = &r->pending[slot];

    keep_record(p->rec, PENDING_MAX, &p->kept, &p->total, rec);
    p->count++;
    p->term_sum += term;
}

/* Add one frame showing the condition to an open episode. */
static void support(struct episode *ep, const struct mon_evidence *rec,
                    double term)
{
    add_evidence(ep, rec);
    ep->a.frame_count++;
    ep->term_sum += term;
    ep->term_count++;
}

/*
 * Count a clean frame against an open episode: it lowers the detector
 * term, and clear_needed of them in a row close the episode at the first.
 */
static void clean(struct rules *r, int slot, struct run *clear, int64_t now,
                  int clear_needed, struct rules_output *out)
{
    struct episode *ep = &r->slots[slot];

    if (!ep->open)
        return;
    ep->term_count++;
    ep->dirty = true;
    if (clear->count++ == 0)
        clear->start_ms = now;
    clear->last_ms = now;
    if (clear->count >= clear_needed) {
        close_episode(r, slot, clear->start_ms, now, out);
        clear->count = 0;
    }
}

/* ---- frame rules ------------------------------------------------------ */

/*
 * Too dark to see anything: low mean luma with little contrast, as for a
 * covered or unlit camera.  A dim room with some light in it is not dark.
 */
static bool is_dark(const struct rules *r, const struct mon_detection *d)
{
    return d->brightness < r->cfg.dark_brightness &&
           d->contrast < r->cfg.dark_contrast;
}

static float box_area(const float box[4])
{
    float w = box[2] - box[0];
    float h = box[3] - box[1];

    return w > 0 && h > 0 ? w * h : 0;
}

/*
 * Faces that count as people: a kept face smaller than min_face_area of
 * the largest one is ignored (detector noise on a poster or a pattern
 * rather than someone in the room).  *second receives the score of the
 * best counted face after the first one.
 */
static int counted_faces(const struct rules *r, const struct mon_detection *d,
                         float *second)
{
    float largest = 0;
    int n = 0;

    *second = 0;
    if (d->faces_kept <= 0)
        return d->face_count;
    for (int i = 0; i < d->faces_kept && i < MON_FACES_MAX; i++)
        largest = MAX(largest, box_area(d->faces[i].box));
    for (int i = 0; i < d->faces_kept && i < MON_FACES_MAX; i++) {
        if (box_area(d->faces[i].box) < r->cfg.min_face_area * largest)
            continue;
        if (++n == 2)
            *second = d->faces[i].score;
    }
    return n;
}

static void rule_face_absent(struct rules *r, int64_t now, int64_t seq,
                             const struct mon_detection *d,
                             struct rules_output *out)
{
    struct episode *ep = &r->slots[SLOT_FACE_ABSENT];
    struct mon_evidence rec;

    if (d->face_count > 0) {
        r->absent.count = 0;
        memset(&r->pending[SLOT_FACE_ABSENT], 0, sizeof(struct pending));
        clean(r, SLOT_FACE_ABSENT, &r->face_clear, now, r->cfg.clear_frames,
              out);
        return;
    }

    /*
     * A dark frame without a face proves neither presence nor absence: it
     * leaves the streak as it is, so darkness neither hides an absence
     * that lit frames show on both sides nor starts one on its own.
     */
    if (is_dark(r, d))
        return;

    rec = frame_record(now, seq, d, 0);
    r->face_clear.count = 0;
    if (ep->open) {
        support(ep, &rec, 1.0);
        return;
    }
    if (r->absent.count++ == 0)
        r->absent.start_ms = now;
    pend(r, SLOT_FACE_ABSENT, &rec, 1.0);
    if (now - r->absent.start_ms > r->cfg.face_absent_ms) {
        open_from_streak(r, SLOT_FACE_ABSENT, r->absent.start_ms, seq);
        r->absent.count = 0;
    }
}

static void rule_multiple_faces(struct rules *r, int64_t now, int64_t seq,
                                const struct mon_detection *d,
                                struct rules_output *out)
{
    struct episode *ep = &r->slots[SLOT_MULTIPLE_FACES];
    struct mon_evidence rec;
    float second;

    if (counted_faces(r, d, &second) < 2) {
        r->multi.count = 0;
        memset(&r->pending[SLOT_MULTIPLE_FACES], 0, sizeof(struct pending));
        clean(r, SLOT_MULTIPLE_FACES, &r->multi_clear, now,
              r->cfg.clear_frames, out);
        return;
    }

    rec = frame_record(now, seq, d, second);
    r->multi_clear.count = 0;
    if (ep->open) {
        support(ep, &rec, second);
        return;
    }
    if (r->multi.count++ == 0)
        r->multi.start_ms = now;
    pend(r, SLOT_MULTIPLE_FACES, &rec, second);
    if (r->multi.count >= r->cfg.multi_face_frames) {
        open_from_streak(r, SLOT_MULTIPLE_FACES, r->multi.start_ms, seq);
        r->multi.count = 0;
    }
}

static void rule_poor_lighting(struct rules *r, int64_t now, int64_t seq,
                               const struct mon_detection *d,
                               struct rules_output *out)
{
    struct episode *ep = &r->slots[SLOT_POOR_LIGHTING];
    struct mon_evidence rec;

    if (!is_dark(r, d)) {
        r->dark.count = 0;
        memset(&r->pending[SLOT_POOR_LIGHTING], 0, sizeof(struct pending));
        clean(r, SLOT_POOR_LIGHTING, &r->light_clear, now,
              r->cfg.clear_frames, out);
        return;
    }

    rec = frame_record(now, seq, d, 0);
    r->light_clear.count = 0;
    if (ep->open) {
        support(ep, &rec, 1.0);
        return;
    }
    if (r->dark.count++ == 0)
        r->dark.start_ms = now;
    pend(r, SLOT_POOR_LIGHTING, &rec, 1.0);
    if (now - r->dark.start_ms >= r->cfg.dark_ms) {
        open_from_streak(r, SLOT_POOR_LIGHTING, r->dark.start_ms, seq);
        r->dark.count = 0;
    }
}

static float object_score(const struct mon_detection *d, const char *label)
{
    float best = 0;

    for (int i = 0; i < d->objects_kept && i < MON_OBJECTS_MAX; i++) {
        if (!strcmp(d->objects[i].label, label))
            best = MAX(best, d->objects[i].score);
    }
    return best;
}

static void rule_objects(struct rules *r, int64_t now, int64_t seq,
                         const struct mon_detection *d,
                         struct rules_output *out)
{
    if (!d->objects_ran)
        return;

    for (int i = 0; i < r->cfg.label_count; i++) {
        int slot = SLOT_OBJECT + i;
        struct episode *ep = &r->slots[slot];
        float score = object_score(d, r->cfg.labels[i]);
        struct mon_evidence rec;

        if (score < r->cfg.object_threshold) {
            r->object[i].count = 0;
            memset(&r->pending[slot], 0, sizeof(struct pending));
            clean(r, slot, &r->object_clear[i], now,
                  r->cfg.object_clear_passes, out);
            continue;
        }

        rec = frame_record(now, seq, d, score);
        r->object_clear[i].count = 0;
        if (ep->open) {
            support(ep, &rec, score);
            continue;
        }
        if (r->object[i].count++ == 0)
            r->object[i].start_ms = now;
        pend(r, slot, &rec, score);
        if (r->object[i].count >= r->cfg.object_passes) {
            open_from_streak(r, slot, r->object[i].start_ms, seq);
            r->object[i].count = 0;
        }
    }
}

/* ---- time, events and the silence rule -------------------------------- */

/* Clamp now_ms so time never goes backwards; false once ended. */
static bool advance(struct rules *r, int64_t now_ms, int64_t *now,
                    struct rules_output *out)
{
    out->count = 0;
    if (r->ended)
        return false;
    r->clock_ms = MAX(r->clock_ms, now_ms);
    *now = r->clock_ms;
    return true;
}

/*
 * With the camera off nothing is seen, so frame episodes end where the
 * pictures stopped and their streaks restart from the next frame: a face
 * missing before and after a camera gap is not one long absence.
 */
static void stop_frame_rules(struct rules *r, int64_t ended, int64_t now,
                             struct rules_output *out)
{
    static const int frame_slots[] = {SLOT_FACE_ABSENT, SLOT_MULTIPLE_FACES,
                                      SLOT_POOR_LIGHTING};

    for (size_t i = 0; i < ARRAY_SIZE(frame_slots); i++) {
        if (r->slots[frame_slots[i]].open)
            close_episode(r, frame_slots[i], ended, now, out);
    }
    for (int i = 0; i < r->cfg.label_count; i++) {
        if (r->slots[SLOT_OBJECT + i].open)
            close_episode(r, SLOT_OBJECT + i, ended, now, out);
        r->object[i].count = 0;
        r->object_clear[i].count = 0;
    }
    r->absent.count = 0;
    r->face_clear.count = 0;
    r->multi.count = 0;
    r->multi_clear.count = 0;
    r->dark.count = 0;
    r->light_clear.count = 0;
    memset(r->pending, 0, sizeof(r->pending));
}

static void open_webcam_disabled(struct rules *r, int64_t started,
                                 int64_t now, bool from_event,
                                 struct rules_output *out)
{
    struct episode *ep;

    stop_frame_rules(r, started, now, out);
    ep = open_episode(r, SLOT_WEBCAM_DISABLED, started, -1);
    ep->from_event = from_event;
    r->camera_clear.count = 0;
}

/* Close episodes whose cap or merge window passed; raise silence. */
static void expire(struct rules *r, int64_t now, struct rules_output *out)
{
    static const int capped[] = {SLOT_TAB_CHANGE, SLOT_FULLSCREEN_EXIT};

    for (size_t i = 0; i < ARRAY_SIZE(capped); i++) {
        struct episode *ep = &r->slots[capped[i]];

        if (ep->open && now - ep->a.started_ms >= r->cfg.tab_cap_ms)
            close_episode(r, capped[i], ep->a.started_ms + r->cfg.tab_cap_ms,
                          now, out);
    }

    if (r->slots[SLOT_CLIPBOARD].open &&
        now - r->clipboard_last_ms >= r->cfg.clipboard_merge_ms)
        close_episode(r, SLOT_CLIPBOARD, r->clipboard_last_ms, now, out);

    if (!r->slots[SLOT_WEBCAM_DISABLED].open &&
        now - r->last_arrival_ms >= r->cfg.silence_ms) {
        struct mon_evidence rec = {
            .kind = MON_EVIDENCE_SILENCE,
            .at_ms = r->last_arrival_ms,
            .frame_seq = -1,
        };

        open_webcam_disabled(r, r->last_arrival_ms, now, false, out);
        add_evidence(&r->slots[SLOT_WEBCAM_DISABLED], &rec);
    }
}

static void on_event_open(struct rules *r, int slot, int64_t now,
                          const struct mon_evidence *rec)
{
    struct episode *ep = &r->slots[slot];

    if (!ep->open) {
        ep = open_episode(r, slot, now, -1);
        ep->from_event = true;
    }
    add_evidence(ep, rec);
}

static void on_event_close(struct rules *r, int slot, int64_t now,
                           const struct mon_evidence *rec,
                           struct rules_output *out)
{
    struct episode *ep = &r->slots[slot];

    if (!ep->open)
        return;
    add_evidence(ep, rec);
    close_episode(r, slot, now, now, out);
}

/* ---- public calls ----------------------------------------------------- */

struct rules *rules_new(const struct rules_config *cfg, int64_t now_ms)
{
    struct rules *r = xcalloc(1, sizeof(*r));

    r->cfg = *cfg;
    r->cfg.label_count = MIN(MAX(cfg->label_count, 0), RULES_LABELS_MAX);
    r->cfg.clear_frames = MAX(cfg->clear_frames, 1);
    r->cfg.object_clear_passes = MAX(cfg->object_clear_passes, 1);
    r->clock_ms = now_ms;
    r->frame_clock_ms = now_ms;
    r->last_arrival_ms = now_ms;
    r->next_episode = 1;
    return r;
}

void rules_free(struct rules *r)
{
    free(r);
}

void rules_on_arrival(struct rules *r, int64_t now_ms,
                      struct rules_output *out)
{
    struct run *clear = &r->camera_clear;
    int64_t now;

    if (!advance(r, now_ms, &now, out))
        return;
    expire(r, now, out);

    r->last_arrival_ms = now;
    if (r->slots[SLOT_WEBCAM_DISABLED].open) {
        /* Arrivals a silence apart are not frames coming back. */
        if (clear->count > 0 && now - clear->last_ms >= r->cfg.silence_ms)
            clear->count = 0;
        if (clear->count++ == 0)
            clear->start_ms = now;
        clear->last_ms = now;
        if (clear->count >= r->cfg.clear_frames) {
            close_episode(r, SLOT_WEBCAM_DISABLED, clear->start_ms, now,
                          out);
            clear->count = 0;
        }
    }
    flush(r, now, out);
}

void rules_on_frame(struct rules *r, int64_t now_ms,
                    const struct mon_detection *d, int64_t frame_seq,
                    struct rules_output *out)
{
    int64_t now, frame_ms;

    if (!advance(r, now_ms, &now, out))
        return;

    /*
     * Analysis finishes after later frames arrived, so the clock may be
     * ahead of this frame.  Frame rules run on frame times of their own,
     * which keeps episode starts and ends at the frames that showed them.
     */
    frame_ms = MAX(now_ms, r->frame_clock_ms);
    r->frame_clock_ms = frame_ms;
    r->last_arrival_ms = MAX(r->last_arrival_ms, frame_ms);
    expire(r, now, out);

    /* The camera shows nothing while it is reported stopped. */
    if (!r->slots[SLOT_WEBCAM_DISABLED].open) {
        rule_face_absent(r, frame_ms, frame_seq, d, out);
        rule_multiple_faces(r, frame_ms, frame_seq, d, out);
        rule_poor_lighting(r, frame_ms, frame_seq, d, out);
        rule_objects(r, frame_ms, frame_seq, d, out);
    }
    flush(r, now, out);
}

void rules_on_event(struct rules *r, int64_t now_ms,
                    const struct mon_event *ev, struct rules_output *out)
{
    struct mon_evidence rec;
    int64_t now;

    if (!advance(r, now_ms, &now, out))
        return;
    expire(r, now, out);

    rec = event_record(now, ev);
    switch (ev->type) {
    case MON_EVENT_TAB_HIDDEN:
    case MON_EVENT_WINDOW_BLUR:
        on_event_open(r, SLOT_TAB_CHANGE, now, &rec);
        break;
    case MON_EVENT_TAB_VISIBLE:
    case MON_EVENT_WINDOW_FOCUS:
        on_event_close(r, SLOT_TAB_CHANGE, now, &rec, out);
        break;
    case MON_EVENT_FULLSCREEN_EXIT:
        on_event_open(r, SLOT_FULLSCREEN_EXIT, now, &rec);
        break;
    case MON_EVENT_FULLSCREEN_ENTER:
        on_event_close(r, SLOT_FULLSCREEN_EXIT, now, &rec, out);
        break;
    case MON_EVENT_WEBCAM_STOPPED:
        if (!r->slots[SLOT_WEBCAM_DISABLED].open)
            open_webcam_disabled(r, now, now, true, out);
        r->camera_clear.count = 0;
        add_evidence(&r->slots[SLOT_WEBCAM_DISABLED], &rec);
        break;
    case MON_EVENT_COPY:
    case MON_EVENT_PASTE:
        on_event_open(r, SLOT_CLIPBOARD, now, &rec);
        r->clipboard_last_ms = now;
        break;
    case MON_EVENT_TYPE_COUNT:
        BUG("invalid event type %d", ev->type);
    }
    flush(r, now, out);
}

void rules_on_tick(struct rules *r, int64_t now_ms, struct rules_output *out)
{
    int64_t now;

    if (!advance(r, now_ms, &now, out))
        return;
    expire(r, now, out);
    flush(r, now, out);
}

void rules_end(struct rules *r, int64_t now_ms, struct rules_output *out)
{
    int64_t now;

    if (!advance(r, now_ms, &now, out))
        return;

    /* Caps and merge windows first, so their episodes keep their ends. */
    expire(r, now, out);
    for (int slot = 0; slot < SLOT_COUNT; slot++) {
        int64_t ended = slot == SLOT_CLIPBOARD ? r->clipboard_last_ms : now;

        if (r->slots[slot].open)
            close_episode(r, slot, ended, now, out);
    }
    r->ended = true;
}

int rules_open_count(const struct rules *r)
{
    int n = 0;

    for (int slot = 0; slot < SLOT_COUNT; slot++)
        n += r->slots[slot].open;
    return n;
}
