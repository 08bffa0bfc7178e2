/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frame queue: latest frame wins, drop counts, round robin over sessions,
 * one frame per session at a time, caps returning ERR_BUSY, the rate
 * limit, tickets, shutdown waking workers, and a threaded run of
 * producers and workers with bounded iterations.
 */
#include "core/base.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "services/monitoring/queue.h"

#define T0 1700000000000LL

static struct queue_config small_config(void)
{
    struct queue_config cfg;

    queue_config_default(&cfg);
    cfg.rate = 0;
    return cfg;
}

static uint8_t *jpeg_of(size_t len)
{
    uint8_t *p = xmalloc(len);

    memset(p, 0xd8, len);
    return p;
}

/* Push a frame of len bytes that the queue must accept. */
static int64_t push_ok(struct queue *q, const char *id, size_t len,
                       int64_t now, struct queue_ticket *ticket)
{
    int64_t seq = 0;

    assert_int_equal(queue_push(q, id, jpeg_of(len), len, now, ticket, &seq,
                                NULL), 0);
    return seq;
}

/* Push a frame the queue must refuse with want. */
static void push_fails(struct queue *q, const char *id, size_t len,
                       int64_t now, int want)
{
    uint8_t *jpeg = jpeg_of(len);

    assert_int_equal(queue_push(q, id, jpeg, len, now, NULL, NULL, NULL),
                     want);
    free(jpeg);
}

static struct queue_frame *take_now(struct queue *q)
{
    struct queue_frame *f = NULL;

    assert_int_equal(queue_take(q, 0, &f), 0);
    assert_non_null(f);
    return f;
}

static void test_queue__latest_frame_wins(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct queue_ticket t1, t3;
    struct queue_frame *f = NULL;
    struct queue_stats st;

    (void)state;
    queue_ticket_init(&t1, NULL, 0);
    queue_ticket_init(&t3, NULL, 0);
    assert_int_equal(queue_session_open(q, "a", T0), 0);
    assert_int_equal(push_ok(q, "a", 100, T0, &t1), 1);
    assert_int_equal(push_ok(q, "a", 200, T0 + 1, NULL), 2);
    assert_int_equal(push_ok(q, "a", 300, T0 + 2, &t3), 3);

    assert_int_equal(queue_wait(q, &t1, 0), QUEUE_TICKET_DROPPED);
    f = take_now(q);
    assert_string_equal(f->session_id, "a");
    assert_int_equal(f->seq, 3);
    assert_int_equal(f->len, 300);
    assert_int_equal(f->arrived_ms, T0 + 2);
    assert_int_equal(queue_take(q, 0, &f), ERR_TIMEOUT);

    queue_done(q, f, 0, NULL, 0);
    assert_int_equal(queue_wait(q, &t3, 0), QUEUE_TICKET_DONE);
    assert_int_equal(queue_session_stats(q, "a", &st), 0);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.analysed, 1);

    queue_ticket_release(&t1);
    queue_ticket_release(&t3);
    queue_free(q);
}

static void test_queue__round_robin(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct queue_frame *fa, *fb, *fc, *f;

    (void)state;
    queue_session_open(q, "a", T0);
    queue_session_open(q, "b", T0);
    queue_session_open(q, "c", T0);

    /* a sends often, b and c once; a may not get a second turn first. */
    push_ok(q, "a", 10, T0, NULL);
    push_ok(q, "b", 10, T0, NULL);
    push_ok(q, "a", 10, T0, NULL);
    push_ok(q, "c", 10, T0, NULL);
    fa = take_now(q);
    assert_string_equal(fa->session_id, "a");
    push_ok(q, "a", 10, T0, NULL);
    queue_done(q, fa, 0, NULL, 0);
    push_ok(q, "a", 10, T0, NULL);

    fb = take_now(q);
    assert_string_equal(fb->session_id, "b");
    fc = take_now(q);
    assert_string_equal(fc->session_id, "c");
    f = take_now(q);
    assert_string_equal(f->session_id, "a");
    assert_int_equal(f->seq, 4);

    queue_done(q, fb, 0, NULL, 0);
    queue_done(q, fc, 0, NULL, 0);
    queue_done(q, f, 0, NULL, 0);
    queue_free(q);
}

static void test_queue__one_in_flight_per_session(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct queue_frame *f1, *f2 = NULL;

    (void)state;
    queue_session_open(q, "a", T0);
    push_ok(q, "a", 10, T0, NULL);
    f1 = take_now(q);
    push_ok(q, "a", 10, T0, NULL);
    assert_int_equal(queue_take(q, 0, &f2), ERR_TIMEOUT);

    queue_done(q, f1, 0, NULL, 0);
    f2 = take_now(q);
    assert_int_equal(f2->seq, 2);
    queue_done(q, f2, 0, NULL, 0);
    queue_free(q);
}

static void test_queue__waiting_cap(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q;
    struct queue_stats st;

    (void)state;
    cfg.max_waiting = 2;
    q = queue_new(&cfg);
    queue_session_open(q, "a", T0);
    queue_session_open(q, "b", T0);
    queue_session_open(q, "c", T0);
    push_ok(q, "a", 10, T0, NULL);
    push_ok(q, "b", 10, T0, NULL);
    push_fails(q, "c", 10, T0, ERR_BUSY);
    /* Replacing a waiting frame needs no new place. */
    push_ok(q, "a", 10, T0, NULL);

    assert_int_equal(queue_session_stats(q, "c", &st), 0);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.accepted, 0);
    queue_free(q);
}

static void test_queue__bytes_cap(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q;
    int waiting;
    size_t bytes;

    (void)state;
    cfg.max_bytes = 1000;
    q = queue_new(&cfg);
    queue_session_open(q, "a", T0);
    queue_session_open(q, "b", T0);
    push_ok(q, "a", 600, T0, NULL);
    push_fails(q, "b", 500, T0, ERR_BUSY);
    push_ok(q, "b", 400, T0, NULL);
    /* a's 600 bytes go when its new frame comes: 400 + 600 fits. */
    push_ok(q, "a", 600, T0, NULL);
    push_fails(q, "a", 601, T0, ERR_BUSY);

    queue_usage(q, &waiting, &bytes);
    assert_int_equal(waiting, 2);
    assert_int_equal(bytes, 1000);
    queue_free(q);
}

static void test_queue__session_and_size_errors(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q;

    (void)state;
    cfg.max_sessions = 2;
    cfg.max_frame = 1000;
    q = queue_new(&cfg);
    assert_int_equal(queue_session_open(q, "a", T0), 0);
    assert_int_equal(queue_session_open(q, "a", T0), ERR_EXISTS);
    assert_int_equal(queue_session_open(q, "b", T0), 0);
    assert_int_equal(queue_session_open(q, "c", T0), ERR_BUSY);

    push_fails(q, "zz", 10, T0, ERR_NOT_FOUND);
    push_fails(q, "a", 1001, T0, ERR_TOO_BIG);
    assert_int_equal(queue_push(q, "a", NULL, 0, T0, NULL, NULL, NULL),
                     ERR_INVALID);
    push_ok(q, "a", 1000, T0, NULL);

    assert_int_equal(queue_session_close(q, "b"), 0);
    assert_int_equal(queue_session_close(q, "b"), ERR_NOT_FOUND);
    assert_int_equal(queue_session_open(q, "c", T0), 0);
    queue_free(q);
}

static void test_queue__rate_limit(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q;
    struct queue_stats st;
    int64_t retry = 0;
    uint8_t *jpeg;

    (void)state;
    cfg.rate = 5;
    cfg.burst = 2;
    q = queue_new(&cfg);
    queue_session_open(q, "a", T0);
    push_ok(q, "a", 10, T0, NULL);
    push_ok(q, "a", 10, T0, NULL);

    jpeg = jpeg_of(10);
    assert_int_equal(queue_push(q, "a", jpeg, 10, T0 + 50, NULL, NULL,
                                &retry), ERR_RATE_LIMITED);
    /* 0.25 token after 50 ms; the missing 0.75 takes 150 ms at 5/s. */
    assert_int_equal(retry, 150);
    assert_int_equal(queue_push(q, "a", jpeg, 10, T0 + 200, NULL, NULL,
                                &retry), 0);

    /* 5 frames a second are accepted for as long as they come. */
    for (int64_t t = T0 + 400; t < T0 + 10400; t += 200)
        push_ok(q, "a", 10, t, NULL);
    assert_int_equal(queue_session_stats(q, "a", &st), 0);
    assert_int_equal(st.rate_limited, 1);
    assert_int_equal(st.accepted, 53);
    queue_free(q);
}

static void test_queue__close_while_analysed(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct queue_ticket t;
    struct queue_frame *f;
    char result[8] = "";

    (void)state;
    queue_ticket_init(&t, result, sizeof(result));
    queue_session_open(q, "a", T0);
    push_ok(q, "a", 10, T0, &t);
    f = take_now(q);
    push_ok(q, "a", 10, T0, NULL);
    assert_int_equal(queue_session_close(q, "a"), 0);
    queue_done(q, f, ERR_CORRUPT, "bad", 4);

    assert_int_equal(queue_wait(q, &t, 0), QUEUE_TICKET_DONE);
    assert_int_equal(t.status, ERR_CORRUPT);
    assert_string_equal(result, "bad");
    assert_int_equal(queue_take(q, 0, &f), ERR_TIMEOUT);
    queue_ticket_release(&t);
    queue_free(q);
}

static void test_queue__wait_timeout_unlinks(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct queue_ticket *t = xmalloc(sizeof(*t));
    struct queue_frame *f;
    char result[8];

    (void)state;
    queue_ticket_init(t, result, sizeof(result));
    queue_session_open(q, "a", T0);
    push_ok(q, "a", 10, T0, t);
    f = take_now(q);
    assert_int_equal(queue_wait(q, t, 20), QUEUE_TICKET_PENDING);
    queue_ticket_release(t);
    free(t);

    /* The ticket is gone: finishing the frame must not touch it. */
    queue_done(q, f, 0, "ok", 3);
    queue_free(q);
}

struct result_worker {
    struct queue *q;
    int ret;
    struct queue_frame *frame; /* what take_blocking() got, if anything */
};

static void *answer_one(void *arg)
{
    struct result_worker *w = arg;
    struct queue_frame *f = NULL;

    w->ret = queue_take(w->q, 5000, &f);
    if (w->ret == 0)
        queue_done(w->q, f, 0, "faces=1", 8);
    return NULL;
}

static void test_queue__ticket_gets_result(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct result_worker w = {q, -1, NULL};
    struct queue_ticket t;
    char result[32] = "";
    pthread_t thread;

    (void)state;
    queue_ticket_init(&t, result, sizeof(result));
    queue_session_open(q, "a", T0);
    assert_int_equal(pthread_create(&thread, NULL, answer_one, &w), 0);
    push_ok(q, "a", 10, T0, &t);
    assert_int_equal(queue_wait(q, &t, 5000), QUEUE_TICKET_DONE);
    pthread_join(thread, NULL);

    assert_int_equal(w.ret, 0);
    assert_int_equal(t.status, 0);
    assert_int_equal(t.result_len, 8);
    assert_string_equal(result, "faces=1");
    queue_ticket_release(&t);
    queue_free(q);
}

static void *take_blocking(void *arg)
{
    struct result_worker *w = arg;

    w->frame = NULL;
    w->ret = queue_take(w->q, -1, &w->frame);
    return NULL;
}

static void test_queue__shutdown_wakes_workers(void **state)
{
    struct queue_config cfg = small_config();
    struct queue *q = queue_new(&cfg);
    struct result_worker w[3];
    pthread_t threads[3];
    struct queue_ticket t;
    struct queue_frame *f = NULL;

    (void)state;
    queue_ticket_init(&t, NULL, 0);
    for (int i = 0; i < 3; i++) {
        w[i].q = q;
        w[i].ret = 1;
        assert_int_equal(pthread_create(&threads[i], NULL, take_blocking,
                                        &w[i]), 0);
    }
    queue_session_open(q, "a", T0);
    queue_session_open(q, "b", T0);

    /* Let a worker hold a's frame so b's frame is still waiting. */
    push_ok(q, "a", 10, T0, NULL);
    for (int tries = 0; tries < 500; tries++) {
        int waiting;
        size_t bytes;

        queue_usage(q, &waiting, &bytes);
        if (waiting == 0)
            break;
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    push_ok(q, "a", 10, T0, &t);

    queue_shutdown(q);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);

    /* One worker took a's first frame; the others were woken. */
    assert_int_equal((w[0].ret == 0) + (w[1].ret == 0) + (w[2].ret == 0), 1);
    for (int i = 0; i < 3; i++) {
        assert_true(w[i].ret == 0 || w[i].ret == ERR_CONFLICT);
        if (w[i].ret == 0)
            queue_done(q, w[i].frame, 0, NULL, 0);
    }
    assert_int_equal(queue_wait(q, &t, 0), QUEUE_TICKET_DROPPED);
    assert_int_equal(queue_take(q, 0, &f), ERR_CONFLICT);
    push_fails(q, "b", 10, T0, ERR_BUSY);
    assert_int_equal(queue_session_open(q, "c", T0), ERR_CONFLICT);

    queue_ticket_release(&t);
    queue_free(q);
}

/* ---- threaded producers and workers ----------------------------------- */

#define PRODUCERS 4
#define SESSIONS_PER_PRODUCER 2
#define FRAMES_PER_SESSION 400
#define WORKERS 3

struct stress {
    struct queue *q;
    atomic_int in_flight[PRODUCERS * SESSIONS_PER_PRODUCER];
    int64_t last_seq[PRODUCERS * SESSIONS_PER_PRODUCER]; /* per session */
    atomic_int overlap;      /* two frames of one session analysed at once */
    atomic_int out_of_order; /* a session's seq going backwards */
    atomic_long analysed;
    atomic_long busy;
};

struct producer {
    struct stress *s;
    int index;
};

static void session_name(int n, char out[ID_SIZE])
{
    snprintf(out, ID_SIZE, "session-%02d", n);
}

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (int i = 0; i < FRAMES_PER_SESSION; i++) {
        for (int k = 0; k < SESSIONS_PER_PRODUCER; k++) {
            char id[ID_SIZE];
            size_t len = 64 + (size_t)(i % 7) * 100;
            uint8_t *jpeg = jpeg_of(len);
            int ret;

            session_name(p->index * SESSIONS_PER_PRODUCER + k, id);
            ret = queue_push(p->s->q, id, jpeg, len, T0 + i, NULL, NULL,
                             NULL);
            if (ret) {
                atomic_fetch_add(&p->s->busy, 1);
                free(jpeg);
            }
        }
        if (i % 50 == 0)
            sched_yield();
    }
    return NULL;
}

static void *work(void *arg)
{
    struct stress *s = arg;
    struct queue_frame *f;

    while (queue_take(s->q, -1, &f) == 0) {
        int n = (int)strtol(f->session_id + 8, NULL, 10);

        if (atomic_fetch_add(&s->in_flight[n], 1) != 0)
            atomic_fetch_add(&s->overlap, 1);
        /* Only this worker holds session n now, so last_seq is ours. */
        if (f->seq <= s->last_seq[n])
            atomic_fetch_add(&s->out_of_order, 1);
        s->last_seq[n] = f->seq;
        atomic_fetch_sub(&s->in_flight[n], 1);
        atomic_fetch_add(&s->analysed, 1);
        queue_done(s->q, f, 0, NULL, 0);
    }
    return NULL;
}

static void test_queue__threads(void **state)
{
    struct queue_config cfg = small_config();
    struct stress *s = xcalloc(1, sizeof(*s));
    struct producer producers[PRODUCERS];
    pthread_t pt[PRODUCERS], wt[WORKERS];
    int64_t accepted = 0, dropped = 0, analysed = 0;
    int waiting = 1;
    size_t bytes;

    (void)state;
    cfg.max_waiting = 6; /* below the 8 sessions, so caps are hit */
    s->q = queue_new(&cfg);
    for (int n = 0; n < PRODUCERS * SESSIONS_PER_PRODUCER; n++) {
        char id[ID_SIZE];

        session_name(n, id);
        assert_int_equal(queue_session_open(s->q, id, T0), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&wt[i], NULL, work, s), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        producers[i].s = s;
        producers[i].index = i;
        assert_int_equal(pthread_create(&pt[i], NULL, produce,
                                        &producers[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);

    /* Let the workers drain, bounded to about 5 s. */
    for (int tries = 0; tries < 2500 && waiting > 0; tries++) {
        queue_usage(s->q, &waiting, &bytes);
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    assert_int_equal(waiting, 0);
    queue_shutdown(s->q);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(wt[i], NULL);

    for (int n = 0; n < PRODUCERS * SESSIONS_PER_PRODUCER; n++) {
        struct queue_stats st;
        char id[ID_SIZE];

        session_name(n, id);
        assert_int_equal(queue_session_stats(s->q, id, &st), 0);
        assert_int_equal(st.accepted, st.analysed + st.dropped);
        assert_true(st.analysed > 0);
        accepted += st.accepted;
        dropped += st.dropped;
        analysed += st.analysed;
    }
    assert_int_equal(atomic_load(&s->overlap), 0);
    assert_int_equal(atomic_load(&s->out_of_order), 0);
    assert_int_equal(analysed, atomic_load(&s->analysed));
    assert_int_equal(accepted + atomic_load(&s->busy),
                     PRODUCERS * SESSIONS_PER_PRODUCER * FRAMES_PER_SESSION);
    print_message("threads: %" PRId64 " accepted, %" PRId64
                  " analysed, %" PRId64 " dropped, %ld busy\n",
                  accepted, analysed, dropped, atomic_load(&s->busy));

    queue_free(s->q);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue__latest_frame_wins),
        cmocka_unit_test(test_queue__round_robin),
        cmocka_unit_test(test_queue__one_in_flight_per_session),
        cmocka_unit_test(test_queue__waiting_cap),
        cmocka_unit_test(test_queue__bytes_cap),
        cmocka_unit_test(test_queue__session_and_size_errors),
        cmocka_unit_test(test_queue__rate_limit),
        cmocka_unit_test(test_queue__close_while_analysed),
        cmocka_unit_test(test_queue__wait_timeout_unlinks),
        cmocka_unit_test(test_queue__ticket_gets_result),
        cmocka_unit_test(test_queue__shutdown_wakes_workers),
        cmocka_unit_test(test_queue__threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
