/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules engine: scripted timelines of frames, events and ticks, checked
 * for the episodes they open and close, their times, counts, evidence and
 * confidence.  Frames come every 200 ms (5 per second) unless a test sets
 * another pace.
 */
#include "core/base.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "services/monitoring/rules.h"

#define T0 1700000000000LL
#define STEP 200

/* Every change seen over a script, by anomaly type. */
struct tally {
    int opened[MON_ANOMALY_TYPE_COUNT];
    int updated[MON_ANOMALY_TYPE_COUNT];
    int closed[MON_ANOMALY_TYPE_COUNT];
    struct mon_anomaly first_opened[MON_ANOMALY_TYPE_COUNT];
    struct mon_anomaly last_closed[MON_ANOMALY_TYPE_COUNT];
};

struct script {
    struct rules_config cfg;
    struct rules *r;
    struct tally t;
    struct rules_output out;
    int64_t seq;
};

static void record(struct script *s)
{
    for (int i = 0; i < s->out.count; i++) {
        const struct rules_change *c = &s->out.changes[i];
        enum mon_anomaly_type type = c->anomaly.type;

        switch (c->kind) {
        case RULES_OPENED:
            if (s->t.opened[type]++ == 0)
                s->t.first_opened[type] = c->anomaly;
            break;
        case RULES_UPDATED:
            s->t.updated[type]++;
            break;
        case RULES_CLOSED:
            s->t.closed[type]++;
            s->t.last_closed[type] = c->anomaly;
            break;
        }
    }
}

static struct script *script_new(void)
{
    struct script *s = xcalloc(1, sizeof(*s));

    rules_config_default(&s->cfg);
    s->r = rules_new(&s->cfg, T0);
    return s;
}

static struct script *script_with(const struct rules_config *cfg)
{
    struct script *s = xcalloc(1, sizeof(*s));

    s->cfg = *cfg;
    s->r = rules_new(&s->cfg, T0);
    return s;
}

static void script_free(struct script *s)
{
    rules_free(s->r);
    free(s);
}

/* A detection of n equal faces side by side in a lit frame. */
static struct mon_detection faces(int n)
{
    struct mon_detection d;

    memset(&d, 0, sizeof(d));
    d.face_count = n;
    d.faces_kept = MIN(n, MON_FACES_MAX);
    for (int i = 0; i < d.faces_kept; i++) {
        d.faces[i].score = 0.9f;
        d.faces[i].box[0] = (float)(i * 200);
        d.faces[i].box[1] = 100;
        d.faces[i].box[2] = (float)(i * 200 + 100);
        d.faces[i].box[3] = 200;
    }
    d.brightness = 120;
    return d;
}

static struct mon_detection dark(void)
{
    struct mon_detection d = faces(0);

    d.brightness = 10;
    return d;
}

static struct mon_detection with_object(struct mon_detection d,
                                        const char *label, float score)
{
    d.objects_ran = true;
    strlcpy_pw(d.objects[d.objects_kept].label, label, MON_LABEL_SIZE);
    d.objects[d.objects_kept].score = score;
    d.objects_kept++;
    return d;
}

/* Arrival then analysis of one frame at T0 + at. */
static void frame_at(struct script *s, int64_t at,
                     const struct mon_detection *d)
{
    rules_on_arrival(s->r, T0 + at, &s->out);
    record(s);
    rules_on_frame(s->r, T0 + at, d, ++s->seq, &s->out);
    record(s);
}

/* Frames d every STEP ms over [from, to); returns to. */
static int64_t frames(struct script *s, int64_t from, int64_t to,
                      struct mon_detection d)
{
    for (int64_t at = from; at < to; at += STEP)
        frame_at(s, at, &d);
    return to;
}

static void event_at(struct script *s, int64_t at, enum mon_event_type type)
{
    struct mon_event ev = {type, T0 + at - 1234};

    rules_on_event(s->r, T0 + at, &ev, &s->out);
    record(s);
}

static void tick_at(struct script *s, int64_t at)
{
    rules_on_tick(s->r, T0 + at, &s->out);
    record(s);
}

static void end_at(struct script *s, int64_t at)
{
    rules_end(s->r, T0 + at, &s->out);
    record(s);
}

static int total_opened(const struct script *s)
{
    int n = 0;

    for (int i = 0; i < MON_ANOMALY_TYPE_COUNT; i++)
        n += s->t.opened[i];
    return n;
}

/* ---- face_absent ------------------------------------------------------ */

static void test_face_absent__six_seconds(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + 6000, faces(0));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    a = &s->t.first_opened[MON_ANOMALY_FACE_ABSENT];
    assert_int_equal(a->started_ms, T0 + 1000);
    assert_int_equal(a->ended_ms, 0);
    assert_int_equal(a->severity, MON_SEVERITY_HIGH);
    /* The first frame past 5 s opens it: 1000 + 5200 is frame 32. */
    assert_int_equal(a->opening_frame_seq, 32);
    assert_int_equal(a->frame_count, 27);
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 0);

    frames(s, at, at + 1000, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 1);
    a = &s->t.last_closed[MON_ANOMALY_FACE_ABSENT];
    assert_int_equal(a->started_ms, T0 + 1000);
    assert_int_equal(a->ended_ms, T0 + 7000);
    assert_int_equal(a->frame_count, 30);
    assert_int_equal(total_opened(s), 1);
    script_free(s);
}

static void test_face_absent__three_seconds(void **state)
{
    struct script *s = script_new();
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + 3000, faces(0));
    at = frames(s, at, at + 1000, faces(1));
    at = frames(s, at, at + 4800, faces(0));
    frames(s, at, at + 1000, faces(1));
    end_at(s, at + 1000);
    assert_int_equal(total_opened(s), 0);
    script_free(s);
}

static void test_face_absent__one_face_frame_no_close(void **state)
{
    struct script *s = script_new();
    int64_t at;

    (void)state;
    at = frames(s, 0, 7000, faces(0));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);

    /* One face frame is under the two-frame hysteresis. */
    at = frames(s, at, at + STEP, faces(1));
    at = frames(s, at, at + 2000, faces(0));
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 0);
    frames(s, at, at + 2 * STEP, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    script_free(s);
}

static void test_face_absent__long_is_one_episode(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;

    (void)state;
    frames(s, 0, 60000, faces(0));
    end_at(s, 60000);
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 1);
    /* Updates at most every 5 s: 55 s open gives 10 at most. */
    assert_in_range(s->t.updated[MON_ANOMALY_FACE_ABSENT], 9, 11);

    a = &s->t.last_closed[MON_ANOMALY_FACE_ABSENT];
    assert_int_equal(a->frame_count, 300);
    assert_int_equal(a->evidence_count, MON_EVIDENCE_MAX);
    assert_int_equal(a->evidence_total, 300);
    assert_int_equal(a->evidence[0].at_ms, T0);
    assert_int_equal(a->evidence[MON_EVIDENCE_MAX - 1].at_ms,
                     T0 + 60000 - STEP);
    assert_int_equal(a->ended_ms, T0 + 60000);
    assert_true(a->confidence > 0.99);
    script_free(s);
}

static void test_face_absent__confidence_at_open(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;

    (void)state;
    frames(s, 0, 5400, faces(0));
    a = &s->t.first_opened[MON_ANOMALY_FACE_ABSENT];
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    /* 5.2 s of 10 s sustained: 0.5 + 0.5 * 0.52 = 0.76. */
    assert_float_equal(a->confidence, 0.76, 1e-6);
    script_free(s);
}

/* ---- lighting --------------------------------------------------------- */

static void test_dark__poor_lighting_not_absent(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + 10000, dark());
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 0);
    assert_int_equal(s->t.opened[MON_ANOMALY_POOR_LIGHTING], 1);
    a = &s->t.first_opened[MON_ANOMALY_POOR_LIGHTING];
    assert_int_equal(a->severity, MON_SEVERITY_LOW);
    assert_int_equal(a->started_ms, T0 + 1000);

    frames(s, at, at + 1000, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_POOR_LIGHTING], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_POOR_LIGHTING].ended_ms,
                     T0 + at);
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 0);
    script_free(s);
}

static void test_dark__does_not_hide_absence(void **state)
{
    struct script *s = script_new();
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + 1000, faces(0));
    at = frames(s, at, at + 4000, dark());
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 0);
    frames(s, at, at + 1000, faces(0));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.first_opened[MON_ANOMALY_FACE_ABSENT].started_ms,
                     T0 + 1000);
    script_free(s);
}

static void test_dark__face_seen_resets_absence(void **state)
{
    struct script *s = script_new();
    struct mon_detection dim_face = faces(1);
    int64_t at;

    (void)state;
    dim_face.brightness = 10;
    at = frames(s, 0, 3000, faces(0));
    at = frames(s, at, at + STEP, dim_face);
    frames(s, at, at + 3000, faces(0));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 0);
    script_free(s);
}

static void test_dark__dim_with_contrast_is_seen(void **state)
{
    struct script *s = script_new();
    struct mon_detection dim = faces(0);

    (void)state;
    /* A dim room with some light in it still shows an empty seat. */
    dim.brightness = 30;
    dim.contrast = 25;
    frames(s, 0, 6000, dim);
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_POOR_LIGHTING], 0);
    script_free(s);
}

/* ---- multiple_faces --------------------------------------------------- */

static void test_multiple_faces__three_frames(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + 3 * STEP, faces(2));
    assert_int_equal(s->t.opened[MON_ANOMALY_MULTIPLE_FACES], 1);
    a = &s->t.first_opened[MON_ANOMALY_MULTIPLE_FACES];
    assert_int_equal(a->severity, MON_SEVERITY_CRITICAL);
    assert_int_equal(a->started_ms, T0 + 1000);
    assert_int_equal(a->frame_count, 3);
    assert_int_equal(a->opening_frame_seq, 8);
    assert_int_equal(a->evidence_count, 3);
    assert_int_equal(a->evidence[0].face_count, 2);
    /* Detector term 0.9, 3 of 6 frames: 0.9 * 0.75. */
    assert_float_equal(a->confidence, 0.675, 1e-6);

    at = frames(s, at, at + 2000, faces(2));
    frames(s, at, at + 2 * STEP, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_MULTIPLE_FACES], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_MULTIPLE_FACES].ended_ms,
                     T0 + at);
    assert_int_equal(s->t.opened[MON_ANOMALY_MULTIPLE_FACES], 1);
    script_free(s);
}

static void test_multiple_faces__one_frame(void **state)
{
    struct script *s = script_new();
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    at = frames(s, at, at + STEP, faces(2));
    at = frames(s, at, at + 1000, faces(1));
    at = frames(s, at, at + 2 * STEP, faces(3));
    frames(s, at, at + 1000, faces(1));
    assert_int_equal(total_opened(s), 0);
    script_free(s);
}

static void test_multiple_faces__tiny_second_ignored(void **state)
{
    struct script *s = script_new();
    struct mon_detection d = faces(2);

    (void)state;
    /* 10x10 next to 100x100 is 1% of the area, under 5%. */
    d.faces[1].box[2] = d.faces[1].box[0] + 10;
    d.faces[1].box[3] = d.faces[1].box[1] + 10;
    frames(s, 0, 2000, d);
    assert_int_equal(s->t.opened[MON_ANOMALY_MULTIPLE_FACES], 0);

    /* 30x30 is 9%, which counts. */
    d.faces[1].box[2] = d.faces[1].box[0] + 30;
    d.faces[1].box[3] = d.faces[1].box[1] + 30;
    frames(s, 2000, 3000, d);
    assert_int_equal(s->t.opened[MON_ANOMALY_MULTIPLE_FACES], 1);
    script_free(s);
}

/* ---- forbidden_object ------------------------------------------------- */

static void test_object__two_passes(void **state)
{
    struct script *s = script_new();
    struct mon_detection plain = faces(1);
    struct mon_detection pass = plain;
    struct mon_detection phone = with_object(plain, "cell phone", 0.8f);
    const struct mon_anomaly *a;

    (void)state;
    pass.objects_ran = true;
    frame_at(s, 0, &phone);
    frame_at(s, 200, &plain); /* no object pass: not a miss */
    assert_int_equal(total_opened(s), 0);
    frame_at(s, 400, &phone);
    assert_int_equal(s->t.opened[MON_ANOMALY_FORBIDDEN_OBJECT], 1);
    a = &s->t.first_opened[MON_ANOMALY_FORBIDDEN_OBJECT];
    assert_string_equal(a->label, "cell phone");
    assert_int_equal(a->severity, MON_SEVERITY_HIGH);
    assert_int_equal(a->started_ms, T0);
    assert_int_equal(a->opening_frame_seq, 3);
    assert_int_equal(a->frame_count, 2);
    assert_float_equal(a->evidence[1].score, 0.8, 1e-6);

    /* Closed by the third pass without it, dated at the first. */
    frame_at(s, 600, &pass);
    frame_at(s, 800, &pass);
    assert_int_equal(s->t.closed[MON_ANOMALY_FORBIDDEN_OBJECT], 0);
    frame_at(s, 1000, &pass);
    assert_int_equal(s->t.closed[MON_ANOMALY_FORBIDDEN_OBJECT], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_FORBIDDEN_OBJECT].ended_ms,
                     T0 + 600);
    script_free(s);
}

static void test_object__one_pass(void **state)
{
    struct script *s = script_new();
    struct mon_detection pass = faces(1);
    struct mon_detection phone = with_object(faces(1), "cell phone", 0.9f);
    struct mon_detection weak = with_object(faces(1), "cell phone", 0.2f);

    (void)state;
    pass.objects_ran = true;
    frame_at(s, 0, &phone);
    frame_at(s, 200, &pass);
    frame_at(s, 400, &phone);
    frame_at(s, 600, &weak);
    frame_at(s, 800, &phone);
    assert_int_equal(total_opened(s), 0);
    script_free(s);
}

static void test_object__one_episode_per_label(void **state)
{
    struct script *s = script_new();
    struct mon_detection both =
        with_object(with_object(faces(1), "book", 0.7f), "laptop", 0.6f);
    struct mon_detection cup = with_object(faces(1), "cup", 0.99f);

    (void)state;
    for (int i = 0; i < 10; i++)
        frame_at(s, i * STEP, &both);
    for (int i = 10; i < 20; i++)
        frame_at(s, i * STEP, &cup);
    assert_int_equal(s->t.opened[MON_ANOMALY_FORBIDDEN_OBJECT], 2);
    assert_int_equal(s->t.closed[MON_ANOMALY_FORBIDDEN_OBJECT], 2);
    script_free(s);
}

/* ---- webcam_disabled -------------------------------------------------- */

static void test_silence__webcam_disabled(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;
    int64_t at;

    (void)state;
    at = frames(s, 0, 1000, faces(1));
    for (int64_t t = at; t <= at + 19000; t += 1000)
        tick_at(s, t);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 0);
    tick_at(s, 20800);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);
    a = &s->t.first_opened[MON_ANOMALY_WEBCAM_DISABLED];
    assert_int_equal(a->severity, MON_SEVERITY_CRITICAL);
    assert_int_equal(a->started_ms, T0 + 800);
    assert_int_equal(a->opening_frame_seq, -1);
    assert_int_equal(a->evidence[0].kind, MON_EVIDENCE_SILENCE);

    /* Longer silence stays one episode. */
    for (int64_t t = 21000; t <= 60000; t += 1000)
        tick_at(s, t);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);

    frames(s, 60000, 61000, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_WEBCAM_DISABLED], 1);
    a = &s->t.last_closed[MON_ANOMALY_WEBCAM_DISABLED];
    assert_int_equal(a->ended_ms, T0 + 60000);
    assert_true(a->confidence > 0.99);
    assert_int_equal(total_opened(s), 1);
    script_free(s);
}

static void test_silence__from_start(void **state)
{
    struct script *s = script_new();

    (void)state;
    tick_at(s, 19999);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 0);
    tick_at(s, 20000);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);
    assert_int_equal(s->t.first_opened[MON_ANOMALY_WEBCAM_DISABLED]
                         .started_ms, T0);
    script_free(s);
}

static void test_silence__one_stray_frame(void **state)
{
    struct script *s = script_new();
    struct mon_detection d = faces(1);

    (void)state;
    tick_at(s, 20000);
    frame_at(s, 21000, &d);
    tick_at(s, 45000);
    frame_at(s, 46000, &d);
    assert_int_equal(s->t.closed[MON_ANOMALY_WEBCAM_DISABLED], 0);
    frame_at(s, 46200, &d);
    assert_int_equal(s->t.closed[MON_ANOMALY_WEBCAM_DISABLED], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);
    script_free(s);
}

static void test_webcam_stopped__event(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;
    int64_t at;

    (void)state;
    at = frames(s, 0, 7000, faces(0));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    event_at(s, at, MON_EVENT_WEBCAM_STOPPED);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);
    a = &s->t.first_opened[MON_ANOMALY_WEBCAM_DISABLED];
    assert_float_equal(a->confidence, 1.0, 0);
    assert_int_equal(a->evidence[0].kind, MON_EVIDENCE_EVENT);
    assert_int_equal(a->evidence[0].client_ms, T0 + at - 1234);

    /* Absence ends where the camera stopped. */
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_FACE_ABSENT].ended_ms,
                     T0 + at);

    at = frames(s, at + 30000, at + 31000, faces(1));
    assert_int_equal(s->t.closed[MON_ANOMALY_WEBCAM_DISABLED], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_WEBCAM_DISABLED], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    script_free(s);
}

/* ---- browser events --------------------------------------------------- */

static void test_tab__hidden_then_visible(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;

    (void)state;
    event_at(s, 1000, MON_EVENT_TAB_HIDDEN);
    event_at(s, 1001, MON_EVENT_WINDOW_BLUR);
    assert_int_equal(s->t.opened[MON_ANOMALY_TAB_CHANGE], 1);
    a = &s->t.first_opened[MON_ANOMALY_TAB_CHANGE];
    assert_int_equal(a->severity, MON_SEVERITY_MEDIUM);
    assert_int_equal(a->started_ms, T0 + 1000);

    event_at(s, 4000, MON_EVENT_TAB_VISIBLE);
    event_at(s, 4001, MON_EVENT_WINDOW_FOCUS);
    assert_int_equal(s->t.closed[MON_ANOMALY_TAB_CHANGE], 1);
    a = &s->t.last_closed[MON_ANOMALY_TAB_CHANGE];
    assert_int_equal(a->ended_ms, T0 + 4000);
    assert_int_equal(a->evidence_count, 3);
    assert_int_equal(a->evidence[2].event, MON_EVENT_TAB_VISIBLE);
    assert_int_equal(s->t.opened[MON_ANOMALY_TAB_CHANGE], 1);
    script_free(s);
}

static void test_tab__cap(void **state)
{
    struct script *s = script_new();

    (void)state;
    event_at(s, 0, MON_EVENT_WINDOW_BLUR);
    tick_at(s, 299999);
    assert_int_equal(s->t.closed[MON_ANOMALY_TAB_CHANGE], 0);
    tick_at(s, 301000);
    assert_int_equal(s->t.closed[MON_ANOMALY_TAB_CHANGE], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_TAB_CHANGE].ended_ms,
                     T0 + 300000);
    script_free(s);
}

static void test_fullscreen__own_episode(void **state)
{
    struct script *s = script_new();

    (void)state;
    event_at(s, 1000, MON_EVENT_FULLSCREEN_EXIT);
    assert_int_equal(s->t.opened[MON_ANOMALY_FULLSCREEN_EXIT], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_TAB_CHANGE], 0);
    event_at(s, 2000, MON_EVENT_FULLSCREEN_ENTER);
    assert_int_equal(s->t.closed[MON_ANOMALY_FULLSCREEN_EXIT], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_FULLSCREEN_EXIT].severity,
                     MON_SEVERITY_LOW);
    script_free(s);
}

static void test_clipboard__merged(void **state)
{
    struct script *s = script_new();
    const struct mon_anomaly *a;

    (void)state;
    event_at(s, 1000, MON_EVENT_COPY);
    event_at(s, 4000, MON_EVENT_PASTE);
    tick_at(s, 13999);
    assert_int_equal(s->t.closed[MON_ANOMALY_CLIPBOARD], 0);
    tick_at(s, 14000);
    assert_int_equal(s->t.opened[MON_ANOMALY_CLIPBOARD], 1);
    assert_int_equal(s->t.closed[MON_ANOMALY_CLIPBOARD], 1);
    a = &s->t.last_closed[MON_ANOMALY_CLIPBOARD];
    assert_int_equal(a->started_ms, T0 + 1000);
    assert_int_equal(a->ended_ms, T0 + 4000);
    assert_int_equal(a->evidence_count, 2);

    event_at(s, 20000, MON_EVENT_PASTE);
    assert_int_equal(s->t.opened[MON_ANOMALY_CLIPBOARD], 2);
    script_free(s);
}

/* ---- session end and clock -------------------------------------------- */

static void test_end__closes_open_episodes(void **state)
{
    struct script *s = script_new();
    int64_t at;

    (void)state;
    at = frames(s, 0, 7000, faces(0));
    event_at(s, at, MON_EVENT_TAB_HIDDEN);
    event_at(s, at, MON_EVENT_COPY);
    assert_int_equal(rules_open_count(s->r), 3);

    end_at(s, at + 500);
    assert_int_equal(rules_open_count(s->r), 0);
    assert_int_equal(s->t.closed[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.closed[MON_ANOMALY_TAB_CHANGE], 1);
    assert_int_equal(s->t.closed[MON_ANOMALY_CLIPBOARD], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_FACE_ABSENT].ended_ms,
                     T0 + at + 500);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_CLIPBOARD].ended_ms,
                     T0 + at);

    /* Nothing happens after the end. */
    event_at(s, at + 600, MON_EVENT_TAB_HIDDEN);
    tick_at(s, at + 60000);
    assert_int_equal(s->out.count, 0);
    assert_int_equal(total_opened(s), 3);
    script_free(s);
}

static void test_clock__backwards_clamped(void **state)
{
    struct script *s = script_new();

    (void)state;
    event_at(s, 5000, MON_EVENT_TAB_HIDDEN);
    event_at(s, 3000, MON_EVENT_TAB_VISIBLE);
    assert_int_equal(s->t.closed[MON_ANOMALY_TAB_CHANGE], 1);
    assert_int_equal(s->t.last_closed[MON_ANOMALY_TAB_CHANGE].ended_ms,
                     T0 + 5000);
    script_free(s);
}

static void test_clock__late_analysis_keeps_frame_times(void **state)
{
    struct script *s = script_new();
    struct mon_detection face = faces(1), empty = faces(0);
    const struct mon_anomaly *a;

    (void)state;
    /* Each frame is analysed two arrivals after it came in. */
    for (int k = 0; k < 60; k++) {
        int64_t at = (int64_t)k * STEP;

        rules_on_arrival(s->r, T0 + at, &s->out);
        record(s);
        if (k >= 2) {
            int64_t frame_at = at - 2 * STEP;

            rules_on_frame(s->r, T0 + frame_at,
                           frame_at < 1000 ? &face : &empty, k - 1,
                           &s->out);
            record(s);
        }
    }
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    a = &s->t.first_opened[MON_ANOMALY_FACE_ABSENT];
    assert_int_equal(a->started_ms, T0 + 1000);
    assert_int_equal(a->evidence[0].at_ms, T0 + 1000);
    script_free(s);
}

static void test_episodes__numbered_in_order(void **state)
{
    struct script *s = script_new();

    (void)state;
    event_at(s, 0, MON_EVENT_TAB_HIDDEN);
    event_at(s, 10, MON_EVENT_FULLSCREEN_EXIT);
    assert_int_equal(s->t.first_opened[MON_ANOMALY_TAB_CHANGE].episode, 1);
    assert_int_equal(s->t.first_opened[MON_ANOMALY_FULLSCREEN_EXIT].episode,
                     2);
    script_free(s);
}

static void test_config__custom_thresholds(void **state)
{
    struct rules_config cfg;
    struct script *s;

    (void)state;
    rules_config_default(&cfg);
    cfg.face_absent_ms = 2000;
    cfg.multi_face_frames = 1;
    s = script_with(&cfg);
    frames(s, 0, 2400, faces(0));
    frames(s, 2400, 2400 + STEP, faces(2));
    assert_int_equal(s->t.opened[MON_ANOMALY_FACE_ABSENT], 1);
    assert_int_equal(s->t.opened[MON_ANOMALY_MULTIPLE_FACES], 1);
    script_free(s);
}

static void test_config__from_env(void **state)
{
    struct rules_config def, cfg;
    char err[256] = "";

    (void)state;
    config_reset();
    rules_config_default(&def);
    assert_int_equal(rules_config_from_env(&cfg, err, sizeof(err)), 0);
    assert_memory_equal(&def, &cfg, sizeof(cfg));

    assert_int_equal(config_set("PW_MONITOR_FORBIDDEN_OBJECTS",
                                " book , remote,", err, sizeof(err)), 0);
    assert_int_equal(config_set("PW_MONITOR_SILENCE", "30", err,
                                sizeof(err)), 0);
    assert_int_equal(rules_config_from_env(&cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.label_count, 2);
    assert_string_equal(cfg.labels[0], "book");
    assert_string_equal(cfg.labels[1], "remote");
    assert_int_equal(cfg.silence_ms, 30000);

    assert_int_equal(config_set("PW_MONITOR_FORBIDDEN_OBJECTS",
                                "a,b,c,d,e,f,g,h,i", err, sizeof(err)), 0);
    assert_int_equal(rules_config_from_env(&cfg, err, sizeof(err)),
                     ERR_INVALID);
    assert_non_null(strstr(err, "PW_MONITOR_FORBIDDEN_OBJECTS"));
    config_reset();
}

static void test_evidence__json(void **state)
{
    struct script *s = script_new();
    json_t *arr, *first;
    json_error_t jerr;
    char *text;

    (void)state;
    frames(s, 0, 1000, faces(2));
    event_at(s, 1000, MON_EVENT_TAB_HIDDEN);
    text = mon_anomaly_evidence_json(
        &s->t.first_opened[MON_ANOMALY_MULTIPLE_FACES]);
    arr = json_loads(text, 0, &jerr);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 3);
    first = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(first, "kind")),
                        "frame");
    assert_int_equal(json_integer_value(json_object_get(first, "face_count")),
                     2);
    json_decref(arr);
    free(text);

    text = mon_anomaly_evidence_json(
        &s->t.first_opened[MON_ANOMALY_TAB_CHANGE]);
    assert_non_null(strstr(text, "\"event\":\"tab_hidden\""));
    free(text);
    script_free(s);
}

static void test_model__names(void **state)
{
    enum mon_anomaly_type type;
    enum mon_event_type ev;

    (void)state;
    for (int i = 0; i < MON_ANOMALY_TYPE_COUNT; i++) {
        const char *name = mon_anomaly_type_name((enum mon_anomaly_type)i);

        assert_int_equal(mon_anomaly_type_parse(name, &type), 0);
        assert_int_equal(type, i);
    }
    for (int i = 0; i < MON_EVENT_TYPE_COUNT; i++) {
        const char *name = mon_event_type_name((enum mon_event_type)i);

        assert_int_equal(mon_event_type_parse(name, &ev), 0);
        assert_int_equal(ev, i);
    }
    assert_int_equal(mon_event_type_parse("tab_gone", &ev), ERR_INVALID);
    assert_string_equal(mon_severity_name(MON_SEVERITY_CRITICAL), "critical");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_face_absent__six_seconds),
        cmocka_unit_test(test_face_absent__three_seconds),
        cmocka_unit_test(test_face_absent__one_face_frame_no_close),
        cmocka_unit_test(test_face_absent__long_is_one_episode),
        cmocka_unit_test(test_face_absent__confidence_at_open),
        cmocka_unit_test(test_dark__poor_lighting_not_absent),
        cmocka_unit_test(test_dark__does_not_hide_absence),
        cmocka_unit_test(test_dark__face_seen_resets_absence),
        cmocka_unit_test(test_dark__dim_with_contrast_is_seen),
        cmocka_unit_test(test_multiple_faces__three_frames),
        cmocka_unit_test(test_multiple_faces__one_frame),
        cmocka_unit_test(test_multiple_faces__tiny_second_ignored),
        cmocka_unit_test(test_object__two_passes),
        cmocka_unit_test(test_object__one_pass),
        cmocka_unit_test(test_object__one_episode_per_label),
        cmocka_unit_test(test_silence__webcam_disabled),
        cmocka_unit_test(test_silence__from_start),
        cmocka_unit_test(test_silence__one_stray_frame),
        cmocka_unit_test(test_webcam_stopped__event),
        cmocka_unit_test(test_tab__hidden_then_visible),
        cmocka_unit_test(test_tab__cap),
        cmocka_unit_test(test_fullscreen__own_episode),
        cmocka_unit_test(test_clipboard__merged),
        cmocka_unit_test(test_end__closes_open_episodes),
        cmocka_unit_test(test_clock__backwards_clamped),
        cmocka_unit_test(test_clock__late_analysis_keeps_frame_times),
        cmocka_unit_test(test_episodes__numbered_in_order),
        cmocka_unit_test(test_config__custom_thresholds),
        cmocka_unit_test(test_config__from_env),
        cmocka_unit_test(test_evidence__json),
        cmocka_unit_test(test_model__names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
