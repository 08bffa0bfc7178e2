/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitoring use cases over a real SQLite file and blob directory,
 * with a fake analyser and a fake clock: a frame's fourth byte is its face
 * count and a fifth byte 'P' shows a phone, so each test scripts exactly
 * what the vision engine detects and when.
 */
#include "core/base.h"
#include "services/monitoring/service.h"

#include "blob/blob.h"
#include "bus/outbox.h"
#include "core/err.h"
#include "core/log.h"
#include "store/migrate.h"
#include "store/store.h"

#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>
#include <time.h>

static char dir[64];
static struct store *db;
static struct blob_store *blobs;
static struct mon_service *svc;
static int64_t clock_ms;
static int published;
static char last_published[64];
static pthread_mutex_t messages_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *messages; /* copies of every published message */

static const struct auth_claims alice = {"01J0000000000000000000ALCE",
                                         AUTH_ROLE_STUDENT, 0, 0};
static const struct auth_claims bob = {"01J0000000000000000000B0BB",
                                       AUTH_ROLE_STUDENT, 0, 0};
static const struct auth_claims proctor = {"01J00000000000000000PRCTR0",
                                           AUTH_ROLE_PROCTOR, 0, 0};

static int64_t fake_now(void)
{
    return __atomic_load_n(&clock_ms, __ATOMIC_SEQ_CST);
}

static void set_clock(int64_t ms)
{
    __atomic_store_n(&clock_ms, ms, __ATOMIC_SEQ_CST);
}

static int fake_worker_new(void *ctx, int index, void **worker, char *err,
                           size_t err_size)
{
    (void)ctx;
    (void)index;
    (void)err;
    (void)err_size;
    *worker = NULL;
    return 0;
}

static void fake_worker_free(void *worker)
{
    (void)worker;
}

static int fake_analyse(void *worker, const uint8_t *jpeg, size_t len,
                        struct mon_stream *stream, struct mon_detection *out)
{
    (void)worker;
    memset(out, 0, sizeof(*out));
    if (len < 4)
        return ERR_CORRUPT;
    out->face_count = jpeg[3];
    out->faces_kept = MIN(out->face_count, MON_FACES_MAX);
    for (int i = 0; i < out->faces_kept; i++) {
        out->faces[i].score = 0.9f;
        out->faces[i].box[2] = 100;
        out->faces[i].box[3] = 100;
    }
    out->brightness = 120;
    out->objects_ran = true;
    if (len > 4 && jpeg[4] == 'P') {
        out->objects_kept = 1;
        strlcpy_pw(out->objects[0].label, "cell phone",
                   sizeof(out->objects[0].label));
        out->objects[0].score = 0.8f;
    }
    stream->frame_index++;
    stream->last_face_count = out->face_count;
    return 0;
}

static void count_publish(void *ctx, const char *exam_id, const json_t *msg)
{
    (void)ctx;
    (void)exam_id;
    __atomic_add_fetch(&published, 1, __ATOMIC_SEQ_CST);
    strlcpy_pw(last_published,
               json_string_value(json_object_get(msg, "type")),
               sizeof(last_published));
    pthread_mutex_lock(&messages_lock);
    json_array_append_new(messages, json_deep_copy(msg));
    pthread_mutex_unlock(&messages_lock);
}

/*
 * Return a copy of the "anomaly" of the last published message of type
 * type about episode of session id (a new reference), or NULL.
 */
static json_t *find_published(const char *type, const char *id,
                              int64_t episode)
{
    json_t *found = NULL, *msg;
    size_t i;

    pthread_mutex_lock(&messages_lock);
    json_array_foreach(messages, i, msg) {
        json_t *a = json_object_get(msg, "anomaly");

        if (!strcmp(json_string_value(json_object_get(msg, "type")), type) &&
            !strcmp(json_string_value(json_object_get(a, "session_id")), id) &&
            json_integer_value(json_object_get(a, "episode")) == episode) {
            json_decref(found);
            found = json_deep_copy(a);
        }
    }
    pthread_mutex_unlock(&messages_lock);
    return found;
}

static const struct mon_analyser fake_analyser = {
    NULL, fake_worker_new, fake_worker_free, fake_analyse, NULL,
};

static void options_for_tests(struct mon_service_options *o)
{
    memset(o, 0, sizeof(*o));
    rules_config_default(&o->rules);
    o->rules.silence_ms = 3000;
    queue_config_default(&o->queue);
    score_config_default(&o->score);
    o->workers = 1;
    o->frame_wait_ms = 5000;
    o->tick_ms = 20;
    o->now_ms = fake_now;
}

static void service_up(void)
{
    struct mon_service_options o;
    char err[256];

    options_for_tests(&o);
    assert_int_equal(mon_service_new(db, blobs, &fake_analyser, &o, &svc,
                                     err, sizeof(err)), 0);
    mon_service_set_publisher(svc, count_publish, NULL);
    assert_int_equal(mon_service_start(svc, err, sizeof(err)), 0);
}

static int setup(void **state)
{
    char *url, *blob_dir;
    int ret;

    (void)state;
    log_setup(LOG_WARN, LOG_FORMAT_TEXT);
    strlcpy_pw(dir, "/tmp/pw_monitoring_test_XXXXXX", sizeof(dir));
    if (!mkdtemp(dir))
        return -1;
    url = xasprintf("sqlite:%s/db.sqlite", dir);
    blob_dir = xasprintf("%s/blobs", dir);
    ret = store_open(&db, url, NULL, NULL, 0);
    if (!ret)
        ret = store_migrate(db, NULL);
    if (!ret)
        ret = blob_store_open(blob_dir, &blobs);
    free(url);
    free(blob_dir);
    return ret ? -1 : 0;
}

static int teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int ret;

    (void)state;
    blob_store_free(blobs);
    store_free(db);
    ret = system(cmd);
    free(cmd);
    return ret;
}

static int each_setup(void **state)
{
    (void)state;
    set_clock(1700000000000);
    published = 0;
    json_decref(messages);
    messages = json_array();
    service_up();
    return 0;
}

static int each_teardown(void **state)
{
    (void)state;
    mon_service_free(svc);
    svc = NULL;
    json_decref(messages);
    messages = NULL;
    return 0;
}

/* Send a fake frame with faces faces (and a phone) at time at_ms. */
static int frame_at(const char *id, int64_t at_ms, int faces, bool phone,
                    struct mon_frame_result *res)
{
    uint8_t *jpeg = xmalloc(5);
    int64_t retry = 0;
    int ret;

    jpeg[0] = 0xff;
    jpeg[1] = 0xd8;
    jpeg[2] = 0xff;
    jpeg[3] = (uint8_t)faces;
    jpeg[4] = phone ? 'P' : 0;
    set_clock(at_ms);
    ret = mon_frame_submit(svc, &alice, id, jpeg, 5, -1, res, &retry);
    if (ret)
        free(jpeg);
    return ret;
}

static size_t count_type(const char *id, enum mon_anomaly_type type,
                         struct mon_anomaly_record *first)
{
    struct mon_anomaly_record *list;
    size_t n, found = 0;

    assert_int_equal(mon_anomaly_list(svc, &proctor, id, &list, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (list[i].type != type)
            continue;
        if (found++ == 0 && first) {
            *first = list[i];
            list[i].evidence = NULL;
            list[i].review_comment = NULL;
        }
    }
    mon_anomaly_records_free(list, n);
    return found;
}

static void test_service__one_active_session_per_exam(void **state)
{
    struct mon_session s, again, ended;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-1", NULL, &s), 0);
    assert_int_equal(s.status, MON_SESSION_ACTIVE);
    assert_string_equal(s.user_id, alice.sub);
    assert_int_equal(mon_session_start(svc, &alice, "exam-1", NULL, &again),
                     ERR_EXISTS);
    assert_int_equal(mon_session_start(svc, &bob, "exam-1", "r1", &again), 0);
    assert_int_equal(mon_session_start(svc, &proctor, "exam-1", NULL, &again),
                     ERR_FORBIDDEN);
    assert_int_equal(mon_session_start(svc, &alice, "a/b", NULL, &again),
                     ERR_INVALID);

    assert_int_equal(mon_session_end(svc, &bob, s.id, &ended), ERR_FORBIDDEN);
    assert_int_equal(mon_session_end(svc, &alice, s.id, &ended), 0);
    assert_int_equal(ended.status, MON_SESSION_ENDED);
    assert_int_equal(mon_session_end(svc, &proctor, s.id, &ended),
                     ERR_CONFLICT);
    assert_int_equal(mon_session_start(svc, &alice, "exam-1", NULL, &again),
                     0);
}

static void test_service__frame_checks(void **state)
{
    struct mon_frame_result res;
    struct mon_session s, ended;
    uint8_t *png = xmalloc(8);
    int64_t retry = 0;

    (void)state;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(mon_session_start(svc, &alice, "exam-2", NULL, &s), 0);
    assert_int_equal(mon_frame_submit(svc, &alice, s.id, png, 8, 0, &res,
                                      &retry), ERR_UNSUPPORTED);
    assert_int_equal(mon_frame_submit(svc, &bob, s.id, png, 8, 0, &res,
                                      &retry), ERR_FORBIDDEN);
    assert_int_equal(mon_frame_submit(svc, &alice, "01J0000000000000000000NONE",
                                      png, 8, 0, &res, &retry),
                     ERR_NOT_FOUND);
    free(png);

    assert_int_equal(frame_at(s.id, fake_now(), 1, false, &res), 0);
    assert_true(res.analysed);
    assert_int_equal(res.seq, 1);
    assert_int_equal(res.detection.face_count, 1);

    assert_int_equal(mon_session_end(svc, &alice, s.id, &ended), 0);
    assert_int_equal(frame_at(s.id, fake_now(), 1, false, &res),
                     ERR_CONFLICT);
}

static void test_service__face_absent_stores_evidence(void **state)
{
    struct mon_anomaly_record a;
    struct mon_frame_result res;
    struct mon_summary *sum = xmalloc(sizeof(*sum));
    struct outbox_event *events;
    struct store_conn *c;
    struct mon_session s;
    int64_t t0 = fake_now();
    void *data;
    size_t len;
    bool opened_seen = false;
    int n;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-3", NULL, &s), 0);
    assert_int_equal(frame_at(s.id, t0, 1, false, &res), 0);
    for (int64_t t = 1000; t <= 7000; t += 500) {
        assert_int_equal(frame_at(s.id, t0 + t, 0, false, &res), 0);
        assert_true(res.analysed);
        if (res.opened_count) {
            assert_int_equal(res.opened[0].type, MON_ANOMALY_FACE_ABSENT);
            opened_seen = true;
        }
    }
    assert_true(opened_seen);
    for (int64_t t = 7500; t <= 9000; t += 500)
        assert_int_equal(frame_at(s.id, t0 + t, 1, false, &res), 0);

    assert_int_equal(count_type(s.id, MON_ANOMALY_FACE_ABSENT, &a), 1);
    assert_int_equal(a.severity, MON_SEVERITY_HIGH);
    assert_int_equal(a.started_ms, t0 + 1000);
    assert_true(a.ended_ms > a.started_ms);
    assert_true(a.evidence_key[0] != '\0');
    assert_true(a.opening_frame_seq > 1);

    /* The snapshot is the opening frame's bytes, as received. */
    assert_int_equal(mon_evidence_get(svc, &alice, a.id, &data, &len), 0);
    assert_int_equal(len, 5);
    assert_int_equal(((uint8_t *)data)[3], 0);
    free(data);
    assert_int_equal(mon_evidence_get(svc, &bob, a.id, &data, &len),
                     ERR_FORBIDDEN);
    mon_anomaly_record_release(&a);

    /* The outbox event was written with it. */
    assert_int_equal(store_conn_get(db, &c), 0);
    n = outbox_pending(c, 0, 100, &events);
    assert_true(n >= 1);
    assert_string_equal(events[n - 1].topic, "anomaly.detected");
    assert_string_equal(events[n - 1].key, s.id);
    outbox_events_free(events, n);
    assert_true(published >= 2); /* session.started, anomaly.detected */

    assert_int_equal(mon_session_get(svc, &alice, s.id, sum), 0);
    assert_int_equal(sum->counts.received, 18);
    assert_int_equal(sum->counts.analysed, 18);
    assert_int_equal(sum->counts.one_face, 5);
    assert_int_equal(sum->anomaly_count[MON_ANOMALY_FACE_ABSENT], 1);
    assert_true(sum->score.score > 0);
    assert_true(sum->score.parts[MON_ANOMALY_FACE_ABSENT].points > 0);
    assert_int_equal(mon_session_get(svc, &bob, s.id, sum), ERR_FORBIDDEN);
    free(sum);
}

static void test_service__short_gap_raises_nothing(void **state)
{
    struct mon_frame_result res;
    struct mon_session s;
    int64_t t0 = fake_now();

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-4", NULL, &s), 0);
    assert_int_equal(frame_at(s.id, t0, 1, false, &res), 0);
    for (int64_t t = 500; t <= 3500; t += 500)
        assert_int_equal(frame_at(s.id, t0 + t, 0, false, &res), 0);
    assert_int_equal(frame_at(s.id, t0 + 4000, 1, false, &res), 0);
    assert_int_equal(count_type(s.id, MON_ANOMALY_FACE_ABSENT, NULL), 0);
}

static void test_service__phone_opens_forbidden_object(void **state)
{
    struct mon_anomaly_record a;
    struct mon_frame_result res;
    struct mon_session s;
    int64_t t0 = fake_now();

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-5", NULL, &s), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(frame_at(s.id, t0 + i * 200, 1, true, &res), 0);
    assert_int_equal(count_type(s.id, MON_ANOMALY_FORBIDDEN_OBJECT, &a), 1);
    assert_string_equal(a.label, "cell phone");
    mon_anomaly_record_release(&a);
}

static void test_service__events_and_review(void **state)
{
    struct mon_event hidden = {MON_EVENT_TAB_HIDDEN, 123};
    struct mon_event visible = {MON_EVENT_TAB_VISIBLE, 456};
    struct mon_summary *sum = xmalloc(sizeof(*sum));
    struct mon_anomaly_record a, reviewed;
    struct mon_session s;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-6", NULL, &s), 0);
    assert_int_equal(mon_event_submit(svc, &bob, s.id, &hidden),
                     ERR_FORBIDDEN);
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &hidden), 0);
    assert_string_equal(last_published, "anomaly.detected");
    set_clock(fake_now() + 2000);
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &visible), 0);
    assert_int_equal(count_type(s.id, MON_ANOMALY_TAB_CHANGE, &a), 1);
    assert_int_equal(a.ended_ms - a.started_ms, 2000);
    assert_non_null(strstr(a.evidence, "\"client_ms\":123"));

    assert_int_equal(mon_anomaly_review(svc, &alice, a.id,
                                        MON_REVIEW_CONFIRMED, NULL,
                                        &reviewed), ERR_FORBIDDEN);
    assert_int_equal(mon_anomaly_review(svc, &proctor, a.id,
                                        MON_REVIEW_DISMISSED, "alarm",
                                        &reviewed), 0);
    assert_int_equal(reviewed.review, MON_REVIEW_DISMISSED);
    assert_string_equal(reviewed.review_comment, "alarm");
    assert_string_equal(reviewed.reviewed_by, proctor.sub);
    mon_anomaly_record_release(&reviewed);
    mon_anomaly_record_release(&a);

    /* A dismissed anomaly no longer weighs on the score. */
    assert_int_equal(mon_session_get(svc, &proctor, s.id, sum), 0);
    assert_int_equal(sum->anomaly_count[MON_ANOMALY_TAB_CHANGE], 0);
    assert_true(sum->score.score == 0);
    free(sum);
}

static void test_service__silence_raises_webcam_disabled(void **state)
{
    struct mon_frame_result res;
    struct mon_session s;
    struct timespec pause = {0, 20 * 1000000L};
    size_t found = 0;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-7", NULL, &s), 0);
    assert_int_equal(frame_at(s.id, fake_now(), 1, false, &res), 0);
    set_clock(fake_now() + 4000);

    /* The tick thread runs every 20 ms; give it up to two seconds. */
    for (int i = 0; i < 100 && !found; i++) {
        nanosleep(&pause, NULL);
        found = count_type(s.id, MON_ANOMALY_WEBCAM_DISABLED, NULL);
    }
    assert_int_equal(found, 1);
}

static void test_service__restart_takes_up_sessions(void **state)
{
    struct mon_event blur = {MON_EVENT_WINDOW_BLUR, 0};
    struct mon_event focus = {MON_EVENT_WINDOW_FOCUS, 0};
    struct mon_anomaly_record *list;
    struct mon_session s;
    size_t n;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-8", NULL, &s), 0);
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &blur), 0);
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &focus), 0);

    mon_service_free(svc);
    service_up();

    assert_int_equal(mon_event_submit(svc, &alice, s.id, &blur), 0);
    assert_int_equal(mon_anomaly_list(svc, &alice, s.id, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].episode, 1);
    assert_int_equal(list[1].episode, 2);
    mon_anomaly_records_free(list, n);
}

/* Wait up to two seconds for the tick thread to open an anomaly of type. */
static size_t wait_for_type(const char *id, enum mon_anomaly_type type,
                            struct mon_anomaly_record *first)
{
    struct timespec pause = {0, 20 * 1000000L};
    size_t found = 0;

    for (int i = 0; i < 100 && !found; i++) {
        nanosleep(&pause, NULL);
        found = count_type(id, type, first);
    }
    return found;
}

static void test_service__restart_closes_at_stop_time(void **state)
{
    struct mon_event hidden = {MON_EVENT_TAB_HIDDEN, 0};
    struct mon_anomaly_record a;
    struct mon_session s;
    int64_t t0 = fake_now();
    json_t *ended, *shown;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-9", NULL, &s), 0);
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &hidden), 0);

    /* A clean stop records that the tab was still hidden at t0 + 2 s. */
    set_clock(t0 + 2000);
    mon_service_free(svc);
    set_clock(t0 + 60000);
    service_up();

    assert_int_equal(count_type(s.id, MON_ANOMALY_TAB_CHANGE, &a), 1);
    assert_int_equal(a.episode, 1);
    assert_int_equal(a.started_ms, t0);
    assert_int_equal(a.ended_ms, t0 + 2000);
    assert_string_equal(a.closed_by, "restart");
    shown = mon_anomaly_record_json(&a);
    assert_string_equal(json_string_value(json_object_get(shown, "closed_by")),
                        "restart");
    json_decref(shown);
    mon_anomaly_record_release(&a);

    ended = find_published("anomaly.ended", s.id, 1);
    assert_non_null(ended);
    assert_string_equal(json_string_value(json_object_get(ended, "type")),
                        "tab_change");
    assert_string_equal(json_string_value(json_object_get(ended, "closed_by")),
                        "restart");
    json_decref(ended);

    /* The page has to report the hidden tab again to open a new episode. */
    assert_int_equal(mon_event_submit(svc, &alice, s.id, &hidden), 0);
    assert_int_equal(count_type(s.id, MON_ANOMALY_TAB_CHANGE, NULL), 2);
}

static void test_service__restart_after_crash_uses_evidence(void **state)
{
    struct mon_anomaly_record before, a, *list;
    struct mon_frame_result res;
    struct store_conn *c;
    struct mon_session s;
    int64_t t0 = fake_now(), newest;
    json_t *evidence;
    size_t n;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-10", NULL, &s), 0);
    assert_int_equal(frame_at(s.id, t0, 1, false, &res), 0);
    for (int64_t t = 500; t <= 12000; t += 500)
        assert_int_equal(frame_at(s.id, t0 + t, 0, false, &res), 0);
    assert_int_equal(count_type(s.id, MON_ANOMALY_FACE_ABSENT, &before), 1);
    assert_int_equal(before.ended_ms, 0);
    mon_anomaly_record_release(&before);

    /* A crash writes nothing at stop: drop what the clean stop wrote. */
    set_clock(t0 + 12500);
    mon_service_free(svc);
    assert_int_equal(store_conn_get(db, &c), 0);
    assert_int_equal(store_exec(c, "UPDATE monitoring_anomalies"
                                   " SET updated_at = NULL"
                                   " WHERE ended_at IS NULL"), 0);

    /* The newest stored evidence is the last entry of the list. */
    assert_int_equal(mon_store_anomaly_list(c, s.id, 10, &list, &n), 0);
    assert_int_equal(n, 1);
    evidence = json_loads(list[0].evidence, 0, NULL);
    assert_non_null(evidence);
    newest = json_integer_value(json_object_get(
        json_array_get(evidence, json_array_size(evidence) - 1), "at_ms"));
    json_decref(evidence);
    mon_anomaly_records_free(list, n);
    assert_true(newest >= t0 + 6000);
    assert_true(newest <= t0 + 12000);

    set_clock(t0 + 60000);
    service_up();
    assert_int_equal(count_type(s.id, MON_ANOMALY_FACE_ABSENT, &a), 1);
    assert_int_equal(a.ended_ms, newest);
    assert_true(a.ended_ms > a.started_ms);
    assert_string_equal(a.closed_by, "restart");
    mon_anomaly_record_release(&a);

    /* Still nobody in front of the camera: the fresh engine opens anew. */
    for (int64_t t = 60000; t <= 66500; t += 500)
        assert_int_equal(frame_at(s.id, t0 + t, 0, false, &res), 0);
    assert_int_equal(mon_anomaly_list(svc, &proctor, s.id, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[1].episode, 2);
    assert_int_equal(list[1].type, MON_ANOMALY_FACE_ABSENT);
    assert_int_equal(list[1].started_ms, t0 + 60000);
    assert_int_equal(list[1].ended_ms, 0);
    assert_string_equal(list[1].closed_by, "");
    mon_anomaly_records_free(list, n);
}

static void test_service__silence_after_restart(void **state)
{
    struct mon_anomaly_record a;
    struct mon_frame_result res;
    struct mon_session s;
    int64_t t0 = fake_now();

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-11", NULL, &s), 0);
    assert_int_equal(frame_at(s.id, t0, 1, false, &res), 0);
    mon_service_free(svc);

    /* The student never comes back; the silence clock starts at restore. */
    set_clock(t0 + 60000);
    service_up();
    set_clock(t0 + 64000);
    assert_int_equal(wait_for_type(s.id, MON_ANOMALY_WEBCAM_DISABLED, &a), 1);
    assert_int_equal(a.started_ms, t0 + 60000);
    assert_int_equal(a.ended_ms, 0);
    mon_anomaly_record_release(&a);
}

static void test_service__queued_events_keep_order(void **state)
{
    static const char sql[] = "SELECT type, client_at FROM monitoring_events"
                              " WHERE session_id = ? ORDER BY id";
    struct mon_event ev = {MON_EVENT_TAB_HIDDEN, 0};
    struct store_stmt *st = NULL;
    struct store_conn *c;
    struct mon_session s, ended;
    int64_t t0 = fake_now();
    int rows = 0;

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-12", NULL, &s), 0);
    assert_int_equal(mon_event_enqueue(svc, &bob, s.id, &ev), ERR_FORBIDDEN);
    for (int i = 0; i < 40; i++) {
        ev.type = i % 2 ? MON_EVENT_TAB_VISIBLE : MON_EVENT_TAB_HIDDEN;
        ev.client_ms = i + 1;
        set_clock(t0 + i * 100);
        assert_int_equal(mon_event_enqueue(svc, &alice, s.id, &ev), 0);
    }

    /* Stopping stores every queued event first. */
    mon_service_stop(svc);
    assert_int_equal(store_conn_get(db, &c), 0);
    assert_int_equal(store_prepare(c, sql, &st), 0);
    assert_int_equal(store_bind_text(st, 1, s.id), 0);
    while (store_step(st) == STORE_ROW) {
        assert_string_equal(store_column_text(st, 0, NULL),
                            rows % 2 ? "tab_visible" : "tab_hidden");
        assert_int_equal(store_column_int64(st, 1), rows + 1);
        rows++;
    }
    store_finalize(st);
    assert_int_equal(rows, 40);
    assert_int_equal(count_type(s.id, MON_ANOMALY_TAB_CHANGE, NULL), 20);

    assert_int_equal(mon_session_end(svc, &alice, s.id, &ended), 0);
    assert_int_equal(mon_event_enqueue(svc, &alice, s.id, &ev), ERR_CONFLICT);
}

static void test_service__event_queue_is_bounded(void **state)
{
    struct mon_event ev = {MON_EVENT_COPY, 0};
    struct mon_service_options o;
    struct store_stmt *st = NULL;
    struct store_conn *c;
    struct mon_session s;
    char err[256];

    (void)state;
    assert_int_equal(mon_session_start(svc, &alice, "exam-13", NULL, &s), 0);
    mon_service_free(svc);

    /* Not started yet: the events wait for the event thread. */
    options_for_tests(&o);
    o.event_queue_max = 2;
    assert_int_equal(mon_service_new(db, blobs, &fake_analyser, &o, &svc,
                                     err, sizeof(err)), 0);
    assert_int_equal(mon_event_enqueue(svc, &alice, s.id, &ev), 0);
    assert_int_equal(mon_event_enqueue(svc, &alice, s.id, &ev), 0);
    assert_int_equal(mon_event_enqueue(svc, &alice, s.id, &ev), ERR_BUSY);

    assert_int_equal(mon_service_start(svc, err, sizeof(err)), 0);
    mon_service_stop(svc);
    assert_int_equal(store_conn_get(db, &c), 0);
    assert_int_equal(store_prepare(c, "SELECT count(*) FROM monitoring_events"
                                      " WHERE session_id = ?", &st), 0);
    assert_int_equal(store_bind_text(st, 1, s.id), 0);
    assert_int_equal(store_step(st), STORE_ROW);
    assert_int_equal(store_column_int64(st, 0), 2);
    store_finalize(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_service__one_active_session_per_exam, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(test_service__frame_checks,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__face_absent_stores_evidence, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__short_gap_raises_nothing, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__phone_opens_forbidden_object, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(test_service__events_and_review,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__silence_raises_webcam_disabled, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__restart_takes_up_sessions, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__restart_closes_at_stop_time, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__restart_after_crash_uses_evidence, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(test_service__silence_after_restart,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__queued_events_keep_order, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(
            test_service__event_queue_is_bounded, each_setup, each_teardown),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
