/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitoring tables through src/store, in SQL that SQLite and MariaDB
 * both accept.  Enums are stored by name so the tables read well by hand;
 * a row whose name does not parse is reported as ERR_CORRUPT, never passed
 * on half-read.
 */
#include "core/base.h"
#include "services/monitoring/store.h"

#include "core/err.h"
#include "store/store.h"

#define SESSION_COLUMNS                                                      \
    "id, exam_id, user_id, reservation_id, status, started_at, ended_at, "   \
    "frames_received, frames_analysed, frames_one_face, frames_dropped"

#define ANOMALY_COLUMNS                                                      \
    "id, session_id, exam_id, user_id, episode, type, label, severity, "     \
    "started_at, ended_at, confidence, frame_count, opening_frame_seq, "     \
    "evidence, evidence_key, review, review_comment, reviewed_by, "          \
    "reviewed_at, created_at, updated_at, closed_by"

static const char *const review_names[] = {
    [MON_REVIEW_PENDING] = "pending",
    [MON_REVIEW_CONFIRMED] = "confirmed",
    [MON_REVIEW_DISMISSED] = "dismissed",
};

static const char *const severity_names[] = {
    [MON_SEVERITY_LOW] = "low",
    [MON_SEVERITY_MEDIUM] = "medium",
    [MON_SEVERITY_HIGH] = "high",
    [MON_SEVERITY_CRITICAL] = "critical",
};

const char *mon_review_name(enum mon_review r)
{
    assert((size_t)r < ARRAY_SIZE(review_names));
    return review_names[r];
}

static int parse_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (s && !strcmp(names[i], s))
            return (int)i;
    }
    return ERR_CORRUPT;
}

void mon_anomaly_record_release(struct mon_anomaly_record *r)
{
    free(r->evidence);
    free(r->review_comment);
    memset(r, 0, sizeof(*r));
}

void mon_anomaly_records_free(struct mon_anomaly_record *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        mon_anomaly_record_release(&list[i]);
    free(list);
}

static void copy_text(struct store_stmt *st, int col, char *dst,
                      size_t dst_size)
{
    const char *s = store_column_text(st, col, NULL);

    strlcpy_pw(dst, s ? s : "", dst_size);
}

/* Step st once and map "no row changed" to ERR_NOT_FOUND. */
static int step_change(struct store_conn *c, struct store_stmt *st)
{
    int ret = store_step(st);

    if (ret < 0)
        return ret;
    return store_changes(c) > 0 ? 0 : ERR_NOT_FOUND;
}

/* ---- sessions --------------------------------------------------------- */

/* Decode the current row, selected as SESSION_COLUMNS. */
static int read_session(struct store_stmt *st, struct mon_session *s,
                        struct mon_counts *counts)
{
    const char *status;

    memset(s, 0, sizeof(*s));
    copy_text(st, 0, s->id, sizeof(s->id));
    copy_text(st, 1, s->exam_id, sizeof(s->exam_id));
    copy_text(st, 2, s->user_id, sizeof(s->user_id));
    copy_text(st, 3, s->reservation_id, sizeof(s->reservation_id));
    status = store_column_text(st, 4, NULL);
    s->started_ms = store_column_int64(st, 5);
    s->ended_ms = store_column_int64(st, 6);
    if (counts) {
        counts->received = store_column_int64(st, 7);
        counts->analysed = store_column_int64(st, 8);
        counts->one_face = store_column_int64(st, 9);
        counts->dropped = store_column_int64(st, 10);
    }

    if (status && !strcmp(status, "active"))
        s->status = MON_SESSION_ACTIVE;
    else if (status && !strcmp(status, "ended"))
        s->status = MON_SESSION_ENDED;
    else
        return ERR_CORRUPT;
    return 0;
}

int mon_store_session_insert(struct store_conn *c,
                             const struct mon_session *s)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "INSERT INTO monitoring_sessions (id, exam_id,"
                           " user_id, reservation_id, status, started_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, s->id)) ||
        (ret = store_bind_text(st, 2, s->exam_id)) ||
        (ret = store_bind_text(st, 3, s->user_id)) ||
        (ret = store_bind_text(st, 4, s->reservation_id[0]
                                          ? s->reservation_id
                                          : NULL)) ||
        (ret = store_bind_text(st, 5, mon_session_status_name(s->status))) ||
        (ret = store_bind_int64(st, 6, s->started_ms)))
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_DONE)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_session_get(struct store_conn *c, const char *id,
                          struct mon_session *out, struct mon_counts *counts)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "SELECT " SESSION_COLUMNS
                           " FROM monitoring_sessions WHERE id = ?", &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, id);
    if (ret)
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_ROW)
        ret = read_session(st, out, counts);
    else if (ret == STORE_DONE)
        ret = ERR_NOT_FOUND;

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_session_end(struct store_conn *c, const char *id,
                          int64_t ended_ms)
{
    struct store_stmt *st = NULL;
    struct mon_session s;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_sessions SET status = 'ended',"
                           " ended_at = ? WHERE id = ? AND status = 'active'",
                        &st);
    if (ret)
        return ret;
    if (!(ret = store_bind_int64(st, 1, ended_ms)) &&
        !(ret = store_bind_text(st, 2, id)))
        ret = step_change(c, st);
    store_finalize(st);

    /* Tell a missing session from one that had ended already. */
    if (ret == ERR_NOT_FOUND && !mon_store_session_get(c, id, &s, NULL))
        ret = ERR_CONFLICT;
    return ret;
}

int mon_store_session_set_counts(struct store_conn *c, const char *id,
                                 const struct mon_counts *counts)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_sessions SET"
                           " frames_received = ?, frames_analysed = ?,"
                           " frames_one_face = ?, frames_dropped = ?"
                           " WHERE id = ?", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_int64(st, 1, counts->received)) ||
        (ret = store_bind_int64(st, 2, counts->analysed)) ||
        (ret = store_bind_int64(st, 3, counts->one_face)) ||
        (ret = store_bind_int64(st, 4, counts->dropped)) ||
        (ret = store_bind_text(st, 5, id)))
        goto out_finalize;
    ret = step_change(c, st);

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_session_list(struct store_conn *c,
                           const struct mon_session_filter *f, size_t max,
                           struct mon_session *out, size_t *n)
{
    struct store_stmt *st = NULL;
    int ret;

    /* NULL filters match everything, so one cached statement serves all. */
    *n = 0;
    ret = store_prepare(c, "SELECT " SESSION_COLUMNS
                           " FROM monitoring_sessions"
                           " WHERE (? IS NULL OR exam_id = ?)"
                           " AND (? IS NULL OR status = ?) AND id > ?"
                           " ORDER BY id LIMIT ?", &st);
    if (ret)
        return ret;
    {
        const char *status = f->status < 0
                                 ? NULL
                                 : mon_session_status_name(
                                       (enum mon_session_status)f->status);

        if ((ret = store_bind_text(st, 1, f->exam_id)) ||
            (ret = store_bind_text(st, 2, f->exam_id)) ||
            (ret = store_bind_text(st, 3, status)) ||
            (ret = store_bind_text(st, 4, status)) ||
            (ret = store_bind_text(st, 5, f->after ? f->after : "")) ||
            (ret = store_bind_int64(st, 6, (int64_t)max)))
            goto out_finalize;
    }

    while ((ret = store_step(st)) == STORE_ROW && *n < max) {
        ret = read_session(st, &out[*n], NULL);
        if (ret)
            goto out_finalize;
        (*n)++;
    }
    if (ret == STORE_DONE || ret == STORE_ROW)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_event_insert(struct store_conn *c, const char *session_id,
                           const struct mon_event *ev, int64_t received_ms)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "INSERT INTO monitoring_events (session_id, type,"
                           " client_at, received_at) VALUES (?, ?, ?, ?)",
                        &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, session_id)) ||
        (ret = store_bind_text(st, 2, mon_event_type_name(ev->type))) ||
        (ret = ev->client_ms ? store_bind_int64(st, 3, ev->client_ms)
                             : store_bind_null(st, 3)) ||
        (ret = store_bind_int64(st, 4, received_ms)))
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_DONE)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

/* ---- anomalies -------------------------------------------------------- */

/* Decode the current row, selected as ANOMALY_COLUMNS. */
static int read_anomaly(struct store_stmt *st, struct mon_anomaly_record *r)
{
    const char *type, *severity, *review, *text;
    int i;

    memset(r, 0, sizeof(*r));
    copy_text(st, 0, r->id, sizeof(r->id));
    copy_text(st, 1, r->session_id, sizeof(r->session_id));
    copy_text(st, 2, r->exam_id, sizeof(r->exam_id));
    copy_text(st, 3, r->user_id, sizeof(r->user_id));
    r->episode = store_column_int64(st, 4);
    type = store_column_text(st, 5, NULL);
    if (!type || mon_anomaly_type_parse(type, &r->type))
        return ERR_CORRUPT;
    copy_text(st, 6, r->label, sizeof(r->label));
    severity = store_column_text(st, 7, NULL);
    i = parse_index(severity_names, ARRAY_SIZE(severity_names), severity);
    if (i < 0)
        return i;
    r->severity = (enum mon_severity)i;
    r->started_ms = store_column_int64(st, 8);
    r->ended_ms = store_column_int64(st, 9);
    r->confidence = store_column_double(st, 10);
    r->frame_count = (int)store_column_int64(st, 11);
    r->opening_frame_seq =
        store_column_is_null(st, 12) ? -1 : store_column_int64(st, 12);
    text = store_column_text(st, 13, NULL);
    r->evidence = xstrdup(text ? text : "[]");
    copy_text(st, 14, r->evidence_key, sizeof(r->evidence_key));
    review = store_column_text(st, 15, NULL);
    i = parse_index(review_names, ARRAY_SIZE(review_names), review);
    if (i < 0)
        return i;
    r->review = (enum mon_review)i;
    text = store_column_text(st, 16, NULL);
    r->review_comment = text ? xstrdup(text) : NULL;
    copy_text(st, 17, r->reviewed_by, sizeof(r->reviewed_by));
    r->reviewed_ms = store_column_int64(st, 18);
    r->created_ms = store_column_int64(st, 19);
    r->updated_ms = store_column_int64(st, 20);
    copy_text(st, 21, r->closed_by, sizeof(r->closed_by));
    return 0;
}

int mon_store_anomaly_insert(struct store_conn *c,
                             const struct mon_anomaly_record *r)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "INSERT INTO monitoring_anomalies (id, session_id,"
                           " exam_id, user_id, episode, type, label,"
                           " severity, started_at, ended_at, confidence,"
                           " frame_count, opening_frame_seq, evidence,"
                           " evidence_key, created_at, updated_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?, ?, ?)", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, r->id)) ||
        (ret = store_bind_text(st, 2, r->session_id)) ||
        (ret = store_bind_text(st, 3, r->exam_id)) ||
        (ret = store_bind_text(st, 4, r->user_id)) ||
        (ret = store_bind_int64(st, 5, r->episode)) ||
        (ret = store_bind_text(st, 6, mon_anomaly_type_name(r->type))) ||
        (ret = store_bind_text(st, 7, r->label)) ||
        (ret = store_bind_text(st, 8, mon_severity_name(r->severity))) ||
        (ret = store_bind_int64(st, 9, r->started_ms)) ||
        (ret = r->ended_ms ? store_bind_int64(st, 10, r->ended_ms)
                           : store_bind_null(st, 10)) ||
        (ret = store_bind_double(st, 11, r->confidence)) ||
        (ret = store_bind_int64(st, 12, r->frame_count)) ||
        (ret = r->opening_frame_seq >= 0
                   ? store_bind_int64(st, 13, r->opening_frame_seq)
                   : store_bind_null(st, 13)) ||
        (ret = store_bind_text(st, 14, r->evidence ? r->evidence : "[]")) ||
        (ret = store_bind_text(st, 15, r->evidence_key[0] ? r->evidence_key
                                                          : NULL)) ||
        (ret = store_bind_int64(st, 16, r->created_ms)) ||
        (ret = store_bind_int64(st, 17, r->created_ms)))
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_DONE)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_anomaly_update(struct store_conn *c, const char *session_id,
                             int64_t episode_base,
                             const struct mon_anomaly *a, int64_t now_ms)
{
    struct store_stmt *st = NULL;
    char *evidence = mon_anomaly_evidence_json(a);
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_anomalies SET ended_at = ?,"
                           " confidence = ?, frame_count = ?, evidence = ?,"
                           " updated_at = ?"
                           " WHERE session_id = ? AND episode = ?", &st);
    if (ret)
        goto out_free;
    if ((ret = a->ended_ms ? store_bind_int64(st, 1, a->ended_ms)
                           : store_bind_null(st, 1)) ||
        (ret = store_bind_double(st, 2, a->confidence)) ||
        (ret = store_bind_int64(st, 3, a->frame_count)) ||
        (ret = store_bind_text(st, 4, evidence)) ||
        (ret = store_bind_int64(st, 5, now_ms)) ||
        (ret = store_bind_text(st, 6, session_id)) ||
        (ret = store_bind_int64(st, 7, episode_base + a->episode)))
        goto out_finalize;
    ret = step_change(c, st);

out_finalize:
    store_finalize(st);
out_free:
    free(evidence);
    return ret;
}

int mon_store_anomaly_touch_open(struct store_conn *c,
                                 const char *session_id, int64_t now_ms)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_anomalies SET updated_at = ?"
                           " WHERE session_id = ? AND ended_at IS NULL",
                        &st);
    if (ret)
        return ret;
    if (!(ret = store_bind_int64(st, 1, now_ms)) &&
        !(ret = store_bind_text(st, 2, session_id)))
        ret = store_step(st);
    store_finalize(st);
    return ret < 0 ? ret : 0;
}

int mon_store_anomaly_close_restart(struct store_conn *c, const char *id,
                                    int64_t ended_ms)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_anomalies SET ended_at = ?,"
                           " closed_by = 'restart'"
                           " WHERE id = ? AND ended_at IS NULL", &st);
    if (ret)
        return ret;
    if (!(ret = store_bind_int64(st, 1, ended_ms)) &&
        !(ret = store_bind_text(st, 2, id)))
        ret = step_change(c, st);
    store_finalize(st);
    return ret;
}

int mon_store_anomaly_get(struct store_conn *c, const char *id,
                          struct mon_anomaly_record *out)
{
    struct store_stmt *st = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    ret = store_prepare(c, "SELECT " ANOMALY_COLUMNS
                           " FROM monitoring_anomalies WHERE id = ?", &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, id);
    if (ret)
        goto out_finalize;
    ret = store_step(st);
    if (ret == STORE_ROW)
        ret = read_anomaly(st, out);
    else if (ret == STORE_DONE)
        ret = ERR_NOT_FOUND;
    if (ret)
        mon_anomaly_record_release(out);

out_finalize:
    store_finalize(st);
    return ret;
}

int mon_store_anomaly_list(struct store_conn *c, const char *session_id,
                           size_t max, struct mon_anomaly_record **out,
                           size_t *n)
{
    struct mon_anomaly_record *list = NULL;
    struct store_stmt *st = NULL;
    size_t cap = 0;
    int ret;

    *out = NULL;
    *n = 0;
    ret = store_prepare(c, "SELECT " ANOMALY_COLUMNS
                           " FROM monitoring_anomalies WHERE session_id = ?"
                           " ORDER BY episode LIMIT ?", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, session_id)) ||
        (ret = store_bind_int64(st, 2, (int64_t)max)))
        goto out_finalize;

    while ((ret = store_step(st)) == STORE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            list = xrealloc(list, cap * sizeof(*list));
        }
        ret = read_anomaly(st, &list[*n]);
        (*n)++;
        if (ret)
            goto out_finalize;
    }
    if (ret == STORE_DONE)
        ret = 0;

out_finalize:
    store_finalize(st);
    if (ret) {
        mon_anomaly_records_free(list, *n);
        *n = 0;
        return ret;
    }
    *out = list;
    return 0;
}

int mon_store_anomaly_max_episode(struct store_conn *c,
                                  const char *session_id, int64_t *out)
{
    struct store_stmt *st = NULL;
    int ret;

    *out = 0;
    ret = store_prepare(c, "SELECT max(episode) FROM monitoring_anomalies"
                           " WHERE session_id = ?", &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, session_id);
    if (!ret)
        ret = store_step(st);
    if (ret == STORE_ROW)
        *out = store_column_int64(st, 0);
    store_finalize(st);
    return ret < 0 ? ret : 0;
}

int mon_store_anomaly_review(struct store_conn *c, const char *id,
                             enum mon_review review, const char *comment,
                             const char *by, int64_t at_ms)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_anomalies SET review = ?,"
                           " review_comment = ?, reviewed_by = ?,"
                           " reviewed_at = ? WHERE id = ?", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, mon_review_name(review))) ||
        (ret = store_bind_text(st, 2, comment)) ||
        (ret = store_bind_text(st, 3, by)) ||
        (ret = store_bind_int64(st, 4, at_ms)) ||
        (ret = store_bind_text(st, 5, id)))
        goto out_finalize;
    ret = step_change(c, st);

out_finalize:
    store_finalize(st);
    return ret;
}
