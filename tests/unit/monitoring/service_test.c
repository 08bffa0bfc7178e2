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
}

static const struct mon_analyser fake_analyser = {
    NULL, fake_worker_new, fake_worker_free, fake_analyse, NULL,
};

static void service_up(void)
{
    struct mon_service_options o = {0};
    char err[256];

    rules_config_default(&o.rules);
    o.rules.silence_ms = 3000;
    queue_config_default(&o.queue);
    score_config_default(&o.score);
    o.workers = 1;
    o.frame_wait_ms = 5000;
    o.tick_ms = 20;
    o.now_ms = fake_now;
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
    service_up();
    return 0;
}

static int each_teardown(void **state)
{
    (void)state;
    mon_service_free(svc);
    svc = NULL;
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
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
