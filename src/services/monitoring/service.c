/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Monitoring use cases.  Each active session has a live record in memory
 * (its rules engine, analyser stream, frame counters and result sink),
 * found by id in a hash table and kept alive by a reference count while a
 * thread uses it.  A live record's lock serialises its rules engine and
 * the store writes of the changes the engine reports, so a session's
 * anomalies are stored in the order the engine raised them.
 */
#include "core/base.h"
#include "services/monitoring/service.h"

#include "blob/blob.h"
#include "bus/outbox.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/utc.h"
#include "core/jfield.h"
#include "store/store.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define LIVE_BUCKETS 256

/* Largest evidence snapshot read back, as the frame cap may be raised. */
#define EVIDENCE_READ_MAX (64u << 20)

/*
 * Browser events waiting to be stored, across all sessions.  A page sends
 * a handful a minute, so 1024 only fills when the store stalls.
 */
#define EVENT_QUEUE_DEFAULT 1024

struct live {
    struct live *next;        /* bucket chain, under svc->map_lock */
    int refs;                 /* under svc->map_lock */
    pthread_mutex_t lock;     /* everything below */
    struct mon_session s;
    struct rules *rules;
    struct mon_stream stream; /* the analyser's; one worker at a time */
    struct mon_counts counts;
    bool counts_dirty;        /* counts changed since they were saved */
    int64_t counts_saved_ms;
    int64_t episode_base;     /* stored episode = base + engine episode */
    bool ended;
    mon_sink_fn sink;
    void *sink_ctx;
    void (*sink_release)(void *ctx);
};

struct mon_service {
    struct store *store;
    struct blob_store *blobs;
    struct mon_analyser analyser;
    struct mon_service_options opts;
    struct queue *queue;
    struct log_ctx log;

    mon_publish_fn publish;
    void *publish_ctx;

    pthread_mutex_t map_lock;
    struct live *buckets[LIVE_BUCKETS];
    size_t live_count;

    pthread_mutex_t run_lock;  /* stopping and its condition */
    pthread_cond_t run_cond;
    bool stopping;
    bool started;
    int worker_count;
    pthread_t *workers;
    void **worker_states;
    pthread_t ticker;

    /* Browser events from mon_event_enqueue(), stored by event_main(). */
    pthread_mutex_t event_lock; /* the fields below */
    pthread_cond_t event_cond;  /* an event came, or stopping */
    struct queued_event *event_head;
    struct queued_event *event_tail;
    size_t event_count;
    bool event_stopping;
    pthread_t event_thread;

    json_t *restart_ended; /* anomaly.ended messages of restore_sessions() */
};

/* A browser event waiting for the event thread. */
struct queued_event {
    struct queued_event *next;
    struct live *l;       /* a reference on the session's live record */
    struct mon_event ev;
    int64_t received_ms;  /* server time the event arrived */
};

/* The frame in a worker's hand, as apply_changes() needs it. */
struct frame_ctx {
    int64_t seq;
    const uint8_t *jpeg;
    size_t len;
    struct mon_frame_result *result; /* opened anomalies are added here */
};

static int64_t now_ms(const struct mon_service *svc)
{
    return svc->opts.now_ms ? svc->opts.now_ms() : utc_now_ms();
}

static bool is_staff(const struct auth_claims *who)
{
    return who->role == AUTH_ROLE_PROCTOR || who->role == AUTH_ROLE_ADMIN;
}

/* ---- options ----------------------------------------------------------- */

int mon_service_options_from_env(struct mon_service_options *o, char *err,
                                 size_t err_size)
{
    int ret;

    memset(o, 0, sizeof(*o));
    ret = rules_config_from_env(&o->rules, err, err_size);
    if (ret)
        return ret;
    ret = score_config_from_env(&o->score, err, err_size);
    if (ret)
        return ret;
    queue_config_from_env(&o->queue);
    o->workers = (int)config_int("PW_MONITOR_WORKERS");
    o->frame_wait_ms = (int)config_int("PW_MONITOR_FRAME_WAIT");
    o->tick_ms = 1000;
    o->flush_ms = 5000;
    return 0;
}

/* ---- the live table ---------------------------------------------------- */

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % LIVE_BUCKETS;
}

/* Find session id's live record and take a reference; NULL if none. */
static struct live *live_get(struct mon_service *svc, const char *id)
{
    struct live *l;

    pthread_mutex_lock(&svc->map_lock);
    for (l = svc->buckets[bucket_of(id)]; l; l = l->next) {
        if (!strcmp(l->s.id, id)) {
            l->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&svc->map_lock);
    return l;
}

static void live_free(struct live *l)
{
    if (l->sink_release)
        l->sink_release(l->sink_ctx);
    rules_free(l->rules);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Drop a reference taken by live_get() or live_add(). */
static void live_put(struct mon_service *svc, struct live *l)
{
    bool last;

    if (!l)
        return;
    pthread_mutex_lock(&svc->map_lock);
    last = --l->refs == 0;
    pthread_mutex_unlock(&svc->map_lock);
    if (last)
        live_free(l);
}

/* Create the live record of s, in the table with one reference for it. */
static struct live *live_add(struct mon_service *svc,
                             const struct mon_session *s,
                             int64_t episode_base, int64_t now)
{
    struct live *l = xcalloc(1, sizeof(*l));
    struct mon_stream stream = MON_STREAM_INIT;
    unsigned b = bucket_of(s->id);

    pthread_mutex_init(&l->lock, NULL);
    l->s = *s;
    l->rules = rules_new(&svc->opts.rules, now);
    l->stream = stream;
    l->episode_base = episode_base;
    l->counts_saved_ms = now;
    l->refs = 1;

    pthread_mutex_lock(&svc->map_lock);
    l->next = svc->buckets[b];
    svc->buckets[b] = l;
    svc->live_count++;
    pthread_mutex_unlock(&svc->map_lock);
    return l;
}

/* Take l out of the table and drop the table's reference. */
static void live_remove(struct mon_service *svc, struct live *l)
{
    struct live **p;
    bool found = false;

    pthread_mutex_lock(&svc->map_lock);
    for (p = &svc->buckets[bucket_of(l->s.id)]; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            svc->live_count--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&svc->map_lock);
    if (found)
        live_put(svc, l);
}

/*
 * Take a reference on every live record into a new array *out (the
 * caller puts each and frees it).  Returns the count.
 */
static size_t live_snapshot(struct mon_service *svc, struct live ***out)
{
    struct live **list;
    size_t n = 0;

    pthread_mutex_lock(&svc->map_lock);
    list = xmalloc((svc->live_count + 1) * sizeof(*list));
    for (size_t b = 0; b < LIVE_BUCKETS; b++) {
        for (struct live *l = svc->buckets[b]; l; l = l->next) {
            l->refs++;
            list[n++] = l;
        }
    }
    pthread_mutex_unlock(&svc->map_lock);
    *out = list;
    return n;
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *time_or_null(int64_t ms)
{
    char buf[UTC_ISO_SIZE];

    return ms ? json_string(utc_format(ms, buf)) : json_null();
}

json_t *mon_session_json(const struct mon_session *s)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", s->id,
                     "exam_id", s->exam_id, "user_id", s->user_id,
                     "reservation_id",
                     s->reservation_id[0] ? json_string(s->reservation_id)
                                          : json_null(),
                     "status", mon_session_status_name(s->status),
                     "started_at", time_or_null(s->started_ms), "ended_at",
                     time_or_null(s->ended_ms));
}

json_t *mon_anomaly_record_json(const struct mon_anomaly_record *r)
{
    json_t *evidence = json_loads(r->evidence ? r->evidence : "[]", 0, NULL);
    json_t *o;

    o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:f, s:i,"
                  " s:o, s:b, s:s, s:o}",
                  "id", r->id, "session_id", r->session_id, "exam_id",
                  r->exam_id, "user_id", r->user_id, "episode",
                  (json_int_t)r->episode, "type",
                  mon_anomaly_type_name(r->type), "severity",
                  mon_severity_name(r->severity), "started_at",
                  time_or_null(r->started_ms), "ended_at",
                  time_or_null(r->ended_ms), "confidence", r->confidence,
                  "frame_count", r->frame_count, "evidence",
                  evidence ? evidence : json_array(), "has_snapshot",
                  r->evidence_key[0] != '\0', "review",
                  mon_review_name(r->review), "reviewed_at",
                  time_or_null(r->reviewed_ms));
    if (!o)
        BUG("out of memory building anomaly JSON");
    if (r->label[0])
        json_object_set_new(o, "label", json_string(r->label));
    if (r->opening_frame_seq >= 0)
        json_object_set_new(o, "frame_seq",
                            json_integer(r->opening_frame_seq));
    if (r->review_comment)
        json_object_set_new(o, "review_comment",
                            json_string(r->review_comment));
    if (r->reviewed_by[0])
        json_object_set_new(o, "reviewed_by", json_string(r->reviewed_by));
    if (r->closed_by[0])
        json_object_set_new(o, "closed_by", json_string(r->closed_by));
    return o;
}

/* Return the anomaly of an anomaly.ended message: a new reference. */
static json_t *ended_json(const char *session_id, int64_t episode,
                          enum mon_anomaly_type type, int64_t ended_ms,
                          double confidence, const char *closed_by)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:f}", "session_id",
                          session_id, "episode", (json_int_t)episode, "type",
                          mon_anomaly_type_name(type), "ended_at",
                          time_or_null(ended_ms), "confidence", confidence);

    if (!o)
        BUG("out of memory building an anomaly.ended message");
    if (closed_by)
        json_object_set_new(o, "closed_by", json_string(closed_by));
    return o;
}

static json_t *detection_json(const struct mon_detection *d)
{
    json_t *faces = json_array(), *objects = json_array();

    for (int i = 0; i < d->faces_kept; i++) {
        const struct mon_face *f = &d->faces[i];

        json_array_append_new(faces,
                              json_pack("{s:f, s:[f,f,f,f]}", "score",
                                        (double)f->score, "box",
                                        (double)f->box[0], (double)f->box[1],
                                        (double)f->box[2],
                                        (double)f->box[3]));
    }
    for (int i = 0; d->objects_ran && i < d->objects_kept; i++)
        json_array_append_new(objects,
                              json_pack("{s:s, s:f}", "label",
                                        d->objects[i].label, "score",
                                        (double)d->objects[i].score));
    return json_pack("{s:i, s:o, s:f, s:b, s:o}", "face_count",
                     d->face_count, "faces", faces, "brightness",
                     (double)d->brightness, "objects_ran", d->objects_ran,
                     "objects", objects);
}

json_t *mon_frame_result_json(const struct mon_frame_result *r)
{
    json_t *o = json_pack("{s:s, s:I, s:s}", "type", "frame.result", "seq",
                          (json_int_t)r->seq, "status",
                          !r->analysed ? "queued"
                          : r->status  ? "failed"
                                       : "analysed");
    json_t *opened;

    if (!o)
        BUG("out of memory building a frame result");
    if (!r->analysed)
        return o;
    if (r->status) {
        json_object_set_new(o, "error", json_string(err_code(r->status)));
        return o;
    }
    json_object_set_new(o, "detection", detection_json(&r->detection));
    opened = json_array();
    for (int i = 0; i < r->opened_count; i++) {
        json_t *a = json_pack("{s:s, s:s}", "id", r->opened[i].id, "type",
                              mon_anomaly_type_name(r->opened[i].type));

        if (r->opened[i].label[0])
            json_object_set_new(a, "label", json_string(r->opened[i].label));
        json_array_append_new(opened, a);
    }
    json_object_set_new(o, "anomalies", opened);
    return o;
}

/* ---- publishing -------------------------------------------------------- */

static void publish(struct mon_service *svc, const char *exam_id,
                    const char *type, const char *key, json_t *value)
{
    json_t *msg;

    if (!svc->publish) {
        json_decref(value);
        return;
    }
    msg = json_pack("{s:s, s:o}", "type", type, key, value);
    svc->publish(svc->publish_ctx, exam_id, msg);
    json_decref(msg);
}

/* Send text to l's sink, with l->lock held. */
static void sink_send(struct live *l, json_t *msg)
{
    char *text;

    if (!l->sink)
        return;
    text = json_dumps(msg, JFIELD_DUMP_FLAGS);
    if (text)
        l->sink(l->sink_ctx, text, strlen(text));
    free(text);
}

/* Drop l's sink, with l->lock held. */
static void sink_clear(struct live *l)
{
    if (l->sink_release)
        l->sink_release(l->sink_ctx);
    l->sink = NULL;
    l->sink_ctx = NULL;
    l->sink_release = NULL;
}

/* ---- applying the engine's changes ------------------------------------ */

/* Build the stored record of a just-opened episode a of l. */
static void record_from(const struct live *l, const struct mon_anomaly *a,
                        int64_t now, struct mon_anomaly_record *r)
{
    memset(r, 0, sizeof(*r));
    id_new(r->id);
    memcpy(r->session_id, l->s.id, sizeof(r->session_id));
    memcpy(r->exam_id, l->s.exam_id, sizeof(r->exam_id));
    memcpy(r->user_id, l->s.user_id, sizeof(r->user_id));
    r->episode = l->episode_base + a->episode;
    r->type = a->type;
    r->severity = a->severity;
    memcpy(r->label, a->label, sizeof(r->label));
    r->started_ms = a->started_ms;
    r->ended_ms = a->ended_ms;
    r->confidence = a->confidence;
    r->frame_count = a->frame_count;
    r->opening_frame_seq = a->opening_frame_seq;
    r->evidence = mon_anomaly_evidence_json(a);
    r->review = MON_REVIEW_PENDING;
    r->created_ms = now;
}

/* Store the snapshot of r's opening frame; on failure r keeps no key. */
static void store_snapshot(struct mon_service *svc,
                           struct mon_anomaly_record *r,
                           const struct frame_ctx *frame)
{
    int64_t year;
    int month, day, ret;

    if (!frame || !frame->jpeg || r->opening_frame_seq != frame->seq)
        return;
    utc_civil_from_days(r->created_ms / 86400000, &year, &month, &day);
    snprintf(r->evidence_key, sizeof(r->evidence_key),
             "evidence/%04" PRId64 "/%02d/%02d/%s.jpg", year, month, day,
             r->id);
    ret = blob_put(svc->blobs, r->evidence_key, frame->jpeg, frame->len);
    if (ret) {
        log_error(&svc->log, "cannot store the evidence \"%s\": %s",
                  r->evidence_key, err_str(ret));
        r->evidence_key[0] = '\0';
    }
}

/* Insert r with its outbox event in one transaction. */
static int insert_anomaly(struct mon_service *svc,
                          const struct mon_anomaly_record *r, json_t *payload)
{
    struct store_conn *c;
    int ret;

    ret = store_conn_get(svc->store, &c);
    if (ret)
        return ret;
    ret = store_begin(c);
    if (ret)
        return ret;
    ret = mon_store_anomaly_insert(c, r);
    if (!ret)
        ret = outbox_add(c, "anomaly.detected", r->session_id, payload, NULL);
    if (ret) {
        log_error(&svc->log, "cannot store anomaly \"%s\": %s (%s)", r->id,
                  err_str(ret), store_errmsg(c));
        store_rollback(c);
        return ret;
    }
    return store_commit(c);
}

static void apply_opened(struct mon_service *svc, struct live *l,
                         const struct mon_anomaly *a, int64_t now,
                         const struct frame_ctx *frame)
{
    struct mon_anomaly_record r;
    json_t *json;

    record_from(l, a, now, &r);
    store_snapshot(svc, &r, frame);
    json = mon_anomaly_record_json(&r);
    if (insert_anomaly(svc, &r, json)) {
        if (r.evidence_key[0])
            blob_delete(svc->blobs, r.evidence_key);
        json_decref(json);
        mon_anomaly_record_release(&r);
        return;
    }
    log_info(&svc->log, "session \"%s\": %s anomaly \"%s\" opened",
             l->s.id, mon_anomaly_type_name(r.type), r.id);

    if (frame && frame->result &&
        frame->result->opened_count < MON_OPENED_MAX) {
        struct mon_opened *o =
            &frame->result->opened[frame->result->opened_count++];

        memcpy(o->id, r.id, sizeof(o->id));
        o->type = r.type;
        memcpy(o->label, r.label, sizeof(o->label));
    }
    publish(svc, l->s.exam_id, "anomaly.detected", "anomaly", json);
    mon_anomaly_record_release(&r);
}

static void apply_update(struct mon_service *svc, struct live *l,
                         const struct rules_change *ch, int64_t now)
{
    struct store_conn *c;
    int ret;

    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_anomaly_update(c, l->s.id, l->episode_base,
                                       &ch->anomaly, now);
    if (ret) {
        log_error(&svc->log, "cannot update episode %" PRId64
                  " of session \"%s\": %s", ch->anomaly.episode, l->s.id,
                  err_str(ret));
        return;
    }
    if (ch->kind == RULES_CLOSED)
        publish(svc, l->s.exam_id, "anomaly.ended", "anomaly",
                ended_json(l->s.id, l->episode_base + ch->anomaly.episode,
                           ch->anomaly.type, ch->anomaly.ended_ms,
                           ch->anomaly.confidence, NULL));
}

/* Store and publish what the engine reported, with l->lock held. */
static void apply_changes(struct mon_service *svc, struct live *l,
                          const struct rules_output *out, int64_t now,
                          const struct frame_ctx *frame)
{
    for (int i = 0; i < out->count; i++) {
        const struct rules_change *ch = &out->changes[i];

        if (ch->kind == RULES_OPENED)
            apply_opened(svc, l, &ch->anomaly, now, frame);
        else
            apply_update(svc, l, ch, now);
    }
}

/* Save l's counters when they changed, with l->lock held. */
static void save_counts(struct mon_service *svc, struct live *l, int64_t now)
{
    struct queue_stats qs;
    struct store_conn *c;
    int ret;

    if (!queue_session_stats(svc->queue, l->s.id, &qs))
        l->counts.dropped = qs.dropped;
    if (!l->counts_dirty)
        return;
    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_session_set_counts(c, l->s.id, &l->counts);
    if (ret) {
        log_warn(&svc->log, "cannot save the frame counts of session "
                 "\"%s\": %s", l->s.id, err_str(ret));
        return;
    }
    l->counts_dirty = false;
    l->counts_saved_ms = now;
}

/* Record that l's open episodes still held at now, before a stop. */
static void mark_open_episodes(struct mon_service *svc, struct live *l,
                               int64_t now)
{
    struct store_conn *c;
    int ret;

    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_anomaly_touch_open(c, l->s.id, now);
    if (ret)
        log_warn(&svc->log, "cannot record the open anomalies of session "
                 "\"%s\" at stop: %s", l->s.id, err_str(ret));
}

/* ---- threads ----------------------------------------------------------- */

struct worker_arg {
    struct mon_service *svc;
    int index;
};

static void analyse_frame(struct mon_service *svc, void *state,
                          struct queue_frame *f)
{
    struct mon_frame_result res = {.seq = f->seq, .analysed = true};
    struct live *l = live_get(svc, f->session_id);
    struct rules_output *out;
    struct frame_ctx frame = {f->seq, f->jpeg, f->len, &res};
    int64_t now;

    if (!l) {
        queue_done(svc->queue, f, ERR_NOT_FOUND, NULL, 0);
        return;
    }

    /* The queue hands out one frame per session at a time. */
    res.status = svc->analyser.analyse(state, f->jpeg, f->len, &l->stream,
                                       &res.detection);

    out = xmalloc(sizeof(*out));
    pthread_mutex_lock(&l->lock);
    if (!l->ended) {
        now = now_ms(svc);
        l->counts.analysed++;
        l->counts_dirty = true;
        if (!res.status) {
            if (res.detection.face_count == 1)
                l->counts.one_face++;
            rules_on_frame(l->rules, f->arrived_ms, &res.detection, f->seq,
                           out);
            apply_changes(svc, l, out, now, &frame);
        }
        if (l->sink) {
            json_t *msg = mon_frame_result_json(&res);

            sink_send(l, msg);
            json_decref(msg);
        }
    }
    pthread_mutex_unlock(&l->lock);
    free(out);

    queue_done(svc->queue, f, 0, &res, sizeof(res));
    live_put(svc, l);
}

static void *worker_main(void *arg)
{
    struct worker_arg *w = arg;
    struct mon_service *svc = w->svc;
    void *state = svc->worker_states[w->index];

    free(w);
    for (;;) {
        struct queue_frame *f;
        int ret = queue_take(svc->queue, -1, &f);

        if (ret == ERR_CONFLICT)
            break;
        if (ret)
            continue;
        analyse_frame(svc, state, f);
    }
    return NULL;
}

static void tick_all(struct mon_service *svc)
{
    struct rules_output *out = xmalloc(sizeof(*out));
    struct live **list;
    size_t n = live_snapshot(svc, &list);

    for (size_t i = 0; i < n; i++) {
        struct live *l = list[i];
        int64_t now = now_ms(svc);

        pthread_mutex_lock(&l->lock);
        if (!l->ended) {
            rules_on_tick(l->rules, now, out);
            apply_changes(svc, l, out, now, NULL);
            if (now - l->counts_saved_ms >= svc->opts.flush_ms)
                save_counts(svc, l, now);
        }
        pthread_mutex_unlock(&l->lock);
        live_put(svc, l);
    }
    free(list);
    free(out);
}

static void *ticker_main(void *arg)
{
    struct mon_service *svc = arg;

    pthread_mutex_lock(&svc->run_lock);
    while (!svc->stopping) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)svc->opts.tick_ms % 1000 * 1000000L;
        ts.tv_sec += svc->opts.tick_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&svc->run_cond, &svc->run_lock, &ts);
        if (svc->stopping)
            break;
        pthread_mutex_unlock(&svc->run_lock);
        tick_all(svc);
        pthread_mutex_lock(&svc->run_lock);
    }
    pthread_mutex_unlock(&svc->run_lock);
    return NULL;
}

/*
 * Store browser event ev of l received at received_ms and run it through
 * l's rules engine.  Returns 0 or the store error.
 */
static int apply_event(struct mon_service *svc, struct live *l,
                       const struct mon_event *ev, int64_t received_ms)
{
    struct rules_output *rout;
    struct store_conn *c;
    int ret;

    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_event_insert(c, l->s.id, ev, received_ms);
    if (ret)
        return ret;

    rout = xmalloc(sizeof(*rout));
    pthread_mutex_lock(&l->lock);
    if (!l->ended) {
        rules_on_event(l->rules, received_ms, ev, rout);
        apply_changes(svc, l, rout, received_ms, NULL);
    }
    pthread_mutex_unlock(&l->lock);
    free(rout);
    return 0;
}

/* Apply a queued event; on failure tell the student's stream. */
static void apply_queued_event(struct mon_service *svc,
                               const struct queued_event *e)
{
    struct live *l = e->l;
    json_t *msg;
    int ret;

    ret = apply_event(svc, l, &e->ev, e->received_ms);
    if (!ret)
        return;
    log_error(&svc->log, "cannot store the %s event of session \"%s\": %s",
              mon_event_type_name(e->ev.type), l->s.id, err_str(ret));
    msg = json_pack("{s:s, s:s, s:s, s:s}", "type", "error", "code",
                    err_code(ret), "message",
                    "the event could not be stored; send it again", "event",
                    mon_event_type_name(e->ev.type));
    pthread_mutex_lock(&l->lock);
    sink_send(l, msg);
    pthread_mutex_unlock(&l->lock);
    json_decref(msg);
}

/*
 * Store the queued events one at a time, oldest first, which keeps each
 * session's events in the order they arrived.  Events still queued at
 * stop are stored before the thread ends.
 */
static void *event_main(void *arg)
{
    struct mon_service *svc = arg;

    pthread_mutex_lock(&svc->event_lock);
    for (;;) {
        struct queued_event *e;

        while (!svc->event_head && !svc->event_stopping)
            pthread_cond_wait(&svc->event_cond, &svc->event_lock);
        e = svc->event_head;
        if (!e)
            break;
        svc->event_head = e->next;
        if (!svc->event_head)
            svc->event_tail = NULL;
        svc->event_count--;
        pthread_mutex_unlock(&svc->event_lock);

        apply_queued_event(svc, e);
        live_put(svc, e->l);
        free(e);
        pthread_mutex_lock(&svc->event_lock);
    }
    pthread_mutex_unlock(&svc->event_lock);
    return NULL;
}

/* Drop the events of a service that never started its event thread. */
static void drop_queued_events(struct mon_service *svc)
{
    struct queued_event *e = svc->event_head;

    while (e) {
        struct queued_event *next = e->next;

        live_put(svc, e->l);
        free(e);
        e = next;
    }
    svc->event_head = NULL;
    svc->event_tail = NULL;
    svc->event_count = 0;
}

/* ---- lifecycle --------------------------------------------------------- */

/*
 * Return the latest server time at which the process that wrote open
 * anomaly r knew it still held: its last write (a clean shutdown writes
 * one), its newest evidence, or its start.
 */
static int64_t last_known_ms(const struct mon_anomaly_record *r)
{
    int64_t last = MAX(r->started_ms, r->updated_ms);
    json_t *list = json_loads(r->evidence ? r->evidence : "[]", 0, NULL);
    json_t *item;
    size_t i;

    json_array_foreach(list, i, item) {
        json_t *at = json_object_get(item, "at_ms");

        if (json_is_integer(at))
            last = MAX(last, (int64_t)json_integer_value(at));
    }
    json_decref(list);
    return last;
}

/*
 * Close the anomalies of session s that an earlier process left open, as
 * its rules engine is gone, and queue their anomaly.ended messages for
 * mon_service_start().
 */
static int close_restored(struct mon_service *svc, struct store_conn *c,
                          const struct mon_session *s)
{
    struct mon_anomaly_record *list;
    size_t n;
    int ret;

    ret = mon_store_anomaly_list(c, s->id, SIZE_MAX / 2, &list, &n);
    if (ret)
        return ret;
    for (size_t i = 0; i < n && !ret; i++) {
        const struct mon_anomaly_record *r = &list[i];
        int64_t end;

        if (r->ended_ms)
            continue;
        end = last_known_ms(r);
        ret = mon_store_anomaly_close_restart(c, r->id, end);
        if (ret == ERR_NOT_FOUND) {
            /* Closed since it was read: nothing left to do. */
            ret = 0;
            continue;
        }
        if (ret)
            break;
        log_info(&svc->log, "session \"%s\": %s anomaly \"%s\" closed at "
                 "restart", s->id, mon_anomaly_type_name(r->type), r->id);
        json_array_append_new(svc->restart_ended,
                              json_pack("{s:s, s:o}", "exam_id", s->exam_id,
                                        "anomaly",
                                        ended_json(s->id, r->episode,
                                                   r->type, end,
                                                   r->confidence,
                                                   "restart")));
    }
    mon_anomaly_records_free(list, n);
    return ret;
}

/*
 * Take up the sessions an earlier process left active, with fresh rules
 * engines.  Their open anomalies are closed first, so a condition that
 * still holds opens a new episode.  The silence clock starts at this
 * call: the time the service was down counts toward no episode.
 */
static int restore_sessions(struct mon_service *svc)
{
    struct mon_session_filter f = {NULL, MON_SESSION_ACTIVE, NULL};
    struct mon_session *page = xcalloc(MON_LIST_MAX, sizeof(*page));
    struct store_conn *c;
    char after[ID_SIZE] = "";
    int64_t now = now_ms(svc);
    size_t n;
    int ret;

    ret = store_conn_get(svc->store, &c);
    while (!ret) {
        f.after = after;
        ret = mon_store_session_list(c, &f, MON_LIST_MAX, page, &n);
        if (ret || n == 0)
            break;
        for (size_t i = 0; i < n && !ret; i++) {
            int64_t base;

            ret = close_restored(svc, c, &page[i]);
            if (!ret)
                ret = mon_store_anomaly_max_episode(c, page[i].id, &base);
            if (ret)
                break;
            if (queue_session_open(svc->queue, page[i].id, now))
                log_warn(&svc->log, "cannot queue frames of session \"%s\"",
                         page[i].id);
            live_add(svc, &page[i], base, now);
        }
        memcpy(after, page[n - 1].id, sizeof(after));
    }
    free(page);
    return ret;
}

int mon_service_new(struct store *st, struct blob_store *blobs,
                    const struct mon_analyser *analyser,
                    const struct mon_service_options *o,
                    struct mon_service **out, char *err, size_t err_size)
{
    struct mon_service *svc = xcalloc(1, sizeof(*svc));
    struct log_ctx log = LOG_CTX_INIT("monitoring");
    int ret;

    *out = NULL;
    svc->store = st;
    svc->blobs = blobs;
    svc->analyser = *analyser;
    svc->log = log;
    pthread_mutex_init(&svc->map_lock, NULL);
    pthread_mutex_init(&svc->run_lock, NULL);
    pthread_mutex_init(&svc->event_lock, NULL);
    pthread_cond_init(&svc->event_cond, NULL);
    svc->restart_ended = json_array();
    {
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&svc->run_cond, &attr);
        pthread_condattr_destroy(&attr);
    }

    if (o) {
        svc->opts = *o;
    } else {
        ret = mon_service_options_from_env(&svc->opts, err, err_size);
        if (ret)
            goto out_free;
    }
    if (svc->opts.tick_ms <= 0)
        svc->opts.tick_ms = 1000;
    if (svc->opts.flush_ms <= 0)
        svc->opts.flush_ms = 5000;
    if (svc->opts.event_queue_max <= 0)
        svc->opts.event_queue_max = EVENT_QUEUE_DEFAULT;
    if (svc->opts.workers <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        svc->opts.workers = (int)MIN(MAX(cores, 1), 64);
    }
    svc->queue = queue_new(&svc->opts.queue);

    ret = restore_sessions(svc);
    if (ret) {
        snprintf(err, err_size, "cannot read the active monitoring "
                 "sessions: %s", err_str(ret));
        goto out_free;
    }
    if (svc->live_count)
        log_info(&svc->log, "resumed monitoring of %zu active session%s",
                 svc->live_count, svc->live_count == 1 ? "" : "s");
    *out = svc;
    return 0;

out_free:
    mon_service_free(svc);
    return ret;
}

void mon_service_set_publisher(struct mon_service *svc, mon_publish_fn fn,
                               void *ctx)
{
    svc->publish = fn;
    svc->publish_ctx = ctx;
}

/* Publish the anomaly.ended messages queued by close_restored(). */
static void publish_restart_ended(struct mon_service *svc)
{
    json_t *item;
    size_t i;

    json_array_foreach(svc->restart_ended, i, item) {
        const char *exam_id =
            json_string_value(json_object_get(item, "exam_id"));

        publish(svc, exam_id, "anomaly.ended", "anomaly",
                json_incref(json_object_get(item, "anomaly")));
    }
    json_array_clear(svc->restart_ended);
}

int mon_service_start(struct mon_service *svc, char *err, size_t err_size)
{
    int n = svc->opts.workers;
    int ret = 0, made = 0;

    svc->worker_states = xcalloc((size_t)n, sizeof(void *));
    svc->workers = xcalloc((size_t)n, sizeof(pthread_t));
    for (made = 0; made < n; made++) {
        ret = svc->analyser.worker_new(svc->analyser.ctx, made,
                                       &svc->worker_states[made], err,
                                       err_size);
        if (ret)
            goto out_free_states;
    }

    /* Before any thread runs, so they precede the fresh engines' news. */
    publish_restart_ended(svc);
    for (svc->worker_count = 0; svc->worker_count < n; svc->worker_count++) {
        struct worker_arg *w = xmalloc(sizeof(*w));

        w->svc = svc;
        w->index = svc->worker_count;
        if (pthread_create(&svc->workers[svc->worker_count], NULL,
                           worker_main, w)) {
            free(w);
            BUG("cannot start a vision worker thread");
        }
    }
    if (pthread_create(&svc->ticker, NULL, ticker_main, svc))
        BUG("cannot start the monitoring tick thread");
    svc->event_stopping = false;
    if (pthread_create(&svc->event_thread, NULL, event_main, svc))
        BUG("cannot start the monitoring event thread");
    svc->started = true;
    log_info(&svc->log, "%d vision workers started", n);
    return 0;

out_free_states:
    for (int i = 0; i < made; i++)
        svc->analyser.worker_free(svc->worker_states[i]);
    free(svc->worker_states);
    free(svc->workers);
    svc->worker_states = NULL;
    svc->workers = NULL;
    return ret;
}

void mon_service_stop(struct mon_service *svc)
{
    if (!svc->started)
        return;
    pthread_mutex_lock(&svc->run_lock);
    svc->stopping = true;
    pthread_cond_broadcast(&svc->run_cond);
    pthread_mutex_unlock(&svc->run_lock);
    queue_shutdown(svc->queue);

    pthread_mutex_lock(&svc->event_lock);
    svc->event_stopping = true;
    pthread_cond_signal(&svc->event_cond);
    pthread_mutex_unlock(&svc->event_lock);

    pthread_join(svc->ticker, NULL);
    pthread_join(svc->event_thread, NULL);
    for (int i = 0; i < svc->worker_count; i++)
        pthread_join(svc->workers[i], NULL);
    for (int i = 0; i < svc->worker_count; i++)
        svc->analyser.worker_free(svc->worker_states[i]);
    free(svc->workers);
    free(svc->worker_states);
    svc->workers = NULL;
    svc->worker_states = NULL;
    svc->worker_count = 0;
    svc->started = false;
}

void mon_service_free(struct mon_service *svc)
{
    if (!svc)
        return;
    mon_service_stop(svc);
    drop_queued_events(svc);

    /*
     * Save what the counters learnt since the last tick, and that the
     * open episodes still held now, for the next process to close them.
     */
    for (size_t b = 0; b < LIVE_BUCKETS; b++) {
        struct live *l = svc->buckets[b];

        while (l) {
            struct live *next = l->next;

            if (svc->queue) {
                save_counts(svc, l, now_ms(svc));
                mark_open_episodes(svc, l, now_ms(svc));
            }
            live_put(svc, l);
            l = next;
        }
        svc->buckets[b] = NULL;
    }
    queue_free(svc->queue);
    if (svc->analyser.free_ctx)
        svc->analyser.free_ctx(svc->analyser.ctx);
    json_decref(svc->restart_ended);
    pthread_cond_destroy(&svc->event_cond);
    pthread_mutex_destroy(&svc->event_lock);
    pthread_cond_destroy(&svc->run_cond);
    pthread_mutex_destroy(&svc->run_lock);
    pthread_mutex_destroy(&svc->map_lock);
    free(svc);
}

/* ---- sessions ---------------------------------------------------------- */

bool mon_ref_is_valid(const char *s)
{
    size_t len = s ? strlen(s) : 0;

    if (len == 0 || len >= MON_REF_SIZE)
        return false;
    /* The characters of a hub topic name but "/", so a topic can embed it. */
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._:-") == len;
}

int mon_session_start(struct mon_service *svc, const struct auth_claims *who,
                      const char *exam_id, const char *reservation_id,
                      struct mon_session *out)
{
    struct store_conn *c;
    int64_t now = now_ms(svc);
    int ret;

    if (who->role != AUTH_ROLE_STUDENT)
        return ERR_FORBIDDEN;
    if (!mon_ref_is_valid(exam_id) ||
        (reservation_id && !mon_ref_is_valid(reservation_id)))
        return ERR_INVALID;

    memset(out, 0, sizeof(*out));
    id_new(out->id);
    strlcpy_pw(out->exam_id, exam_id, sizeof(out->exam_id));
    strlcpy_pw(out->user_id, who->sub, sizeof(out->user_id));
    if (reservation_id)
        strlcpy_pw(out->reservation_id, reservation_id,
                   sizeof(out->reservation_id));
    out->status = MON_SESSION_ACTIVE;
    out->started_ms = now;

    ret = queue_session_open(svc->queue, out->id, now);
    if (ret)
        return ret == ERR_EXISTS ? ERR_INTERNAL : ret;
    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_session_insert(c, out);
    if (ret) {
        queue_session_close(svc->queue, out->id);
        return ret;
    }

    live_add(svc, out, 0, now);
    log_info(&svc->log, "session \"%s\" of exam \"%s\" started by \"%s\"",
             out->id, out->exam_id, out->user_id);
    publish(svc, out->exam_id, "session.started", "session",
            mon_session_json(out));
    return 0;
}

/* Read session id from the store and check who may see it. */
static int read_session(struct mon_service *svc,
                        const struct auth_claims *who, const char *id,
                        struct mon_session *out, struct mon_counts *counts)
{
    struct store_conn *c;
    int ret;

    if (!id_is_valid(id))
        return ERR_NOT_FOUND;
    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_session_get(c, id, out, counts);
    if (ret)
        return ret;
    if (!is_staff(who) && strcmp(out->user_id, who->sub))
        return ERR_FORBIDDEN;
    return 0;
}

int mon_session_read(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, struct mon_session *out)
{
    return read_session(svc, who, id, out, NULL);
}

int mon_session_end(struct mon_service *svc, const struct auth_claims *who,
                    const char *id, struct mon_session *out)
{
    struct rules_output *rout;
    struct store_conn *c;
    struct live *l;
    int64_t now;
    int ret;

    ret = read_session(svc, who, id, out, NULL);
    if (ret)
        return ret;
    if (out->status == MON_SESSION_ENDED)
        return ERR_CONFLICT;

    ret = store_conn_get(svc->store, &c);
    if (ret)
        return ret;
    now = now_ms(svc);
    ret = mon_store_session_end(c, id, now);
    if (ret)
        return ret;
    out->status = MON_SESSION_ENDED;
    out->ended_ms = now;

    l = live_get(svc, id);
    if (l) {
        json_t *msg;

        rout = xmalloc(sizeof(*rout));
        live_remove(svc, l);
        queue_session_close(svc->queue, id);
        pthread_mutex_lock(&l->lock);
        rules_end(l->rules, now, rout);
        apply_changes(svc, l, rout, now, NULL);
        l->counts_dirty = true;
        save_counts(svc, l, now);
        l->ended = true;
        msg = json_pack("{s:s, s:o}", "type", "session.ended", "session",
                        mon_session_json(out));
        sink_send(l, msg);
        json_decref(msg);
        sink_clear(l);
        pthread_mutex_unlock(&l->lock);
        live_put(svc, l);
        free(rout);
    }

    log_info(&svc->log, "session \"%s\" ended by \"%s\"", id, who->sub);
    publish(svc, out->exam_id, "session.ended", "session",
            mon_session_json(out));
    return 0;
}

int mon_session_get(struct mon_service *svc, const struct auth_claims *who,
                    const char *id, struct mon_summary *out)
{
    struct mon_anomaly_record *list = NULL;
    struct score_input in = {0};
    struct store_conn *c;
    struct live *l;
    int64_t now = now_ms(svc);
    size_t n = 0;
    int ret;

    memset(out, 0, sizeof(*out));
    ret = read_session(svc, who, id, &out->session, &out->counts);
    if (ret)
        return ret;

    /* An active session's counters in memory are newer than the row. */
    l = live_get(svc, id);
    if (l) {
        struct queue_stats qs;

        pthread_mutex_lock(&l->lock);
        out->counts = l->counts;
        if (!queue_session_stats(svc->queue, id, &qs))
            out->counts.dropped = qs.dropped;
        pthread_mutex_unlock(&l->lock);
        live_put(svc, l);
    }

    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_anomaly_list(c, id, SIZE_MAX / 2, &list, &n);
    if (ret)
        return ret;
    for (size_t i = 0; i < n; i++) {
        struct mon_anomaly a = {0};

        /* A dismissed anomaly was judged harmless: it does not count. */
        if (list[i].review == MON_REVIEW_DISMISSED)
            continue;
        a.type = list[i].type;
        a.started_ms = list[i].started_ms;
        a.ended_ms = list[i].ended_ms;
        score_input_add(&in, &a, out->session.ended_ms ? out->session.ended_ms
                                                      : now);
        out->anomaly_count[a.type]++;
    }
    mon_anomaly_records_free(list, n);
    out->score_config = svc->opts.score;
    score_compute(&svc->opts.score, &in, &out->score);
    return 0;
}

int mon_session_list(struct mon_service *svc, const struct auth_claims *who,
                     const struct mon_session_filter *f, size_t max,
                     struct mon_session *out, size_t *n)
{
    struct store_conn *c;
    int ret;

    *n = 0;
    if (!is_staff(who))
        return ERR_FORBIDDEN;
    ret = store_conn_get(svc->store, &c);
    if (ret)
        return ret;
    return mon_store_session_list(c, f, MIN(max, MON_LIST_MAX), out, n);
}

/* ---- frames and events ------------------------------------------------- */

/*
 * Find the live record of session id for its student.  Returns 0 with a
 * reference in *out, or the error to return.
 */
static int live_for_student(struct mon_service *svc,
                            const struct auth_claims *who, const char *id,
                            struct live **out)
{
    struct mon_session s;
    struct live *l;
    int ret;

    *out = NULL;
    l = id_is_valid(id) ? live_get(svc, id) : NULL;
    if (l) {
        if (strcmp(l->s.user_id, who->sub)) {
            live_put(svc, l);
            return ERR_FORBIDDEN;
        }
        *out = l;
        return 0;
    }

    /* Not live: tell an ended session from a missing or foreign one. */
    ret = read_session(svc, who, id, &s, NULL);
    if (ret)
        return ret;
    if (strcmp(s.user_id, who->sub))
        return ERR_FORBIDDEN;
    return ERR_CONFLICT;
}

static bool is_jpeg(const uint8_t *data, size_t len)
{
    return len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

int mon_frame_submit(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, uint8_t *jpeg, size_t len, int wait_ms,
                     struct mon_frame_result *out, int64_t *retry_after_ms)
{
    struct rules_output *rout;
    struct queue_ticket ticket;
    enum queue_ticket_state state;
    struct live *l;
    int64_t now = now_ms(svc);
    int ret;

    memset(out, 0, sizeof(*out));
    ret = live_for_student(svc, who, id, &l);
    if (ret)
        return ret;
    if (!is_jpeg(jpeg, len)) {
        ret = ERR_UNSUPPORTED;
        goto out_put;
    }

    queue_ticket_init(&ticket, out, sizeof(*out));
    ret = queue_push(svc->queue, id, jpeg, len, now, &ticket, &out->seq,
                     retry_after_ms);
    if (ret) {
        queue_ticket_release(&ticket);
        goto out_put;
    }

    rout = xmalloc(sizeof(*rout));
    pthread_mutex_lock(&l->lock);
    l->counts.received++;
    l->counts_dirty = true;
    rules_on_arrival(l->rules, now, rout);
    apply_changes(svc, l, rout, now, NULL);
    pthread_mutex_unlock(&l->lock);
    free(rout);

    state = queue_wait(svc->queue, &ticket,
                       wait_ms < 0 ? svc->opts.frame_wait_ms
                                   : MIN(wait_ms, svc->opts.frame_wait_ms));
    if (state != QUEUE_TICKET_DONE) {
        /* The worker did not fill the result: keep only the sequence. */
        int64_t seq = ticket.seq;

        memset(out, 0, sizeof(*out));
        out->seq = seq;
    }
    queue_ticket_release(&ticket);

out_put:
    live_put(svc, l);
    return ret;
}

int mon_event_submit(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, const struct mon_event *ev)
{
    struct live *l;
    int64_t now = now_ms(svc);
    int ret;

    ret = live_for_student(svc, who, id, &l);
    if (ret)
        return ret;
    ret = apply_event(svc, l, ev, now);
    live_put(svc, l);
    return ret;
}

int mon_event_enqueue(struct mon_service *svc, const struct auth_claims *who,
                      const char *id, const struct mon_event *ev)
{
    struct queued_event *e;
    struct live *l;

    /* No store read here: the caller's thread must not wait on it. */
    l = id_is_valid(id) ? live_get(svc, id) : NULL;
    if (!l)
        return ERR_CONFLICT;
    if (strcmp(l->s.user_id, who->sub)) {
        live_put(svc, l);
        return ERR_FORBIDDEN;
    }

    e = xmalloc(sizeof(*e));
    e->next = NULL;
    e->l = l;
    e->ev = *ev;
    e->received_ms = now_ms(svc);

    pthread_mutex_lock(&svc->event_lock);
    if (svc->event_count >= (size_t)svc->opts.event_queue_max) {
        pthread_mutex_unlock(&svc->event_lock);
        live_put(svc, l);
        free(e);
        return ERR_BUSY;
    }
    if (svc->event_tail)
        svc->event_tail->next = e;
    else
        svc->event_head = e;
    svc->event_tail = e;
    svc->event_count++;
    pthread_cond_signal(&svc->event_cond);
    pthread_mutex_unlock(&svc->event_lock);
    return 0;
}

int mon_stream_attach(struct mon_service *svc, const struct auth_claims *who,
                      const char *id, mon_sink_fn sink, void *ctx,
                      void (*release)(void *ctx))
{
    struct live *l;
    int ret;

    ret = live_for_student(svc, who, id, &l);
    if (ret)
        return ret;
    pthread_mutex_lock(&l->lock);
    if (l->ended) {
        ret = ERR_CONFLICT;
    } else {
        sink_clear(l);
        l->sink = sink;
        l->sink_ctx = ctx;
        l->sink_release = release;
    }
    pthread_mutex_unlock(&l->lock);
    live_put(svc, l);
    return ret;
}

void mon_stream_detach(struct mon_service *svc, const char *id, void *ctx)
{
    struct live *l = live_get(svc, id);

    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    if (l->sink_ctx == ctx)
        sink_clear(l);
    pthread_mutex_unlock(&l->lock);
    live_put(svc, l);
}

/* ---- anomalies and evidence -------------------------------------------- */

int mon_anomaly_list(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, struct mon_anomaly_record **out,
                     size_t *n)
{
    struct mon_session s;
    struct store_conn *c;
    int ret;

    *out = NULL;
    *n = 0;
    ret = read_session(svc, who, id, &s, NULL);
    if (ret)
        return ret;
    ret = store_conn_get(svc->store, &c);
    if (ret)
        return ret;
    return mon_store_anomaly_list(c, id, MON_LIST_MAX, out, n);
}

/* Read anomaly id and check who may see it. */
static int read_anomaly(struct mon_service *svc,
                        const struct auth_claims *who, const char *id,
                        struct mon_anomaly_record *out)
{
    struct store_conn *c;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!id_is_valid(id))
        return ERR_NOT_FOUND;
    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_anomaly_get(c, id, out);
    if (ret)
        return ret;
    if (!is_staff(who) && strcmp(out->user_id, who->sub)) {
        mon_anomaly_record_release(out);
        return ERR_FORBIDDEN;
    }
    return 0;
}

int mon_anomaly_review(struct mon_service *svc, const struct auth_claims *who,
                       const char *id, enum mon_review review,
                       const char *comment, struct mon_anomaly_record *out)
{
    struct store_conn *c;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!is_staff(who))
        return ERR_FORBIDDEN;
    if (review == MON_REVIEW_PENDING)
        return ERR_INVALID;
    if (!id_is_valid(id))
        return ERR_NOT_FOUND;
    ret = store_conn_get(svc->store, &c);
    if (!ret)
        ret = mon_store_anomaly_review(c, id, review, comment, who->sub,
                                       now_ms(svc));
    if (!ret)
        ret = mon_store_anomaly_get(c, id, out);
    if (!ret)
        log_info(&svc->log, "anomaly \"%s\" %s by \"%s\"", id,
                 mon_review_name(review), who->sub);
    return ret;
}

int mon_evidence_get(struct mon_service *svc, const struct auth_claims *who,
                     const char *id, void **data, size_t *len)
{
    struct mon_anomaly_record r;
    int ret;

    *data = NULL;
    *len = 0;
    ret = read_anomaly(svc, who, id, &r);
    if (ret)
        return ret;
    if (!r.evidence_key[0])
        ret = ERR_NOT_FOUND;
    else
        ret = blob_get(svc->blobs, r.evidence_key, EVIDENCE_READ_MAX, data,
                       len);
    mon_anomaly_record_release(&r);
    return ret;
}
