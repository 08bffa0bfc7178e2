/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names of the monitoring enums as the API and the database spell them, and
 * the JSON form of an anomaly's evidence.  The name tables are indexed by
 * the enum values, so each table must list every value in order.
 */
#include "core/base.h"
#include "services/monitoring/model.h"

#include "core/err.h"

#include <jansson.h>

static const char *const anomaly_type_names[] = {
    [MON_ANOMALY_FACE_ABSENT] = "face_absent",
    [MON_ANOMALY_MULTIPLE_FACES] = "multiple_faces",
    [MON_ANOMALY_FORBIDDEN_OBJECT] = "forbidden_object",
    [MON_ANOMALY_TAB_CHANGE] = "tab_change",
    [MON_ANOMALY_WEBCAM_DISABLED] = "webcam_disabled",
    [MON_ANOMALY_POOR_LIGHTING] = "poor_lighting",
    [MON_ANOMALY_FULLSCREEN_EXIT] = "fullscreen_exit",
    [MON_ANOMALY_CLIPBOARD] = "clipboard",
};

static const char *const severity_names[] = {
    [MON_SEVERITY_LOW] = "low",
    [MON_SEVERITY_MEDIUM] = "medium",
    [MON_SEVERITY_HIGH] = "high",
    [MON_SEVERITY_CRITICAL] = "critical",
};

static const char *const event_type_names[] = {
    [MON_EVENT_TAB_HIDDEN] = "tab_hidden",
    [MON_EVENT_TAB_VISIBLE] = "tab_visible",
    [MON_EVENT_WINDOW_BLUR] = "window_blur",
    [MON_EVENT_WINDOW_FOCUS] = "window_focus",
    [MON_EVENT_FULLSCREEN_EXIT] = "fullscreen_exit",
    [MON_EVENT_FULLSCREEN_ENTER] = "fullscreen_enter",
    [MON_EVENT_WEBCAM_STOPPED] = "webcam_stopped",
    [MON_EVENT_COPY] = "copy",
    [MON_EVENT_PASTE] = "paste",
};

static const char *const evidence_kind_names[] = {
    [MON_EVIDENCE_FRAME] = "frame",
    [MON_EVIDENCE_EVENT] = "event",
    [MON_EVIDENCE_SILENCE] = "silence",
};

static_assert(ARRAY_SIZE(anomaly_type_names) == MON_ANOMALY_TYPE_COUNT,
              "one name per anomaly type");
static_assert(ARRAY_SIZE(event_type_names) == MON_EVENT_TYPE_COUNT,
              "one name per event type");

static int parse_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(names[i], name))
            return (int)i;
    }
    return ERR_INVALID;
}

const char *mon_anomaly_type_name(enum mon_anomaly_type t)
{
    assert((size_t)t < ARRAY_SIZE(anomaly_type_names));
    return anomaly_type_names[t];
}

int mon_anomaly_type_parse(const char *name, enum mon_anomaly_type *out)
{
    int i = parse_name(anomaly_type_names, ARRAY_SIZE(anomaly_type_names),
                       name);

    if (i < 0)
        return i;
    *out = (enum mon_anomaly_type)i;
    return 0;
}

const char *mon_severity_name(enum mon_severity s)
{
    assert((size_t)s < ARRAY_SIZE(severity_names));
    return severity_names[s];
}

const char *mon_event_type_name(enum mon_event_type t)
{
    assert((size_t)t < ARRAY_SIZE(event_type_names));
    return event_type_names[t];
}

int mon_event_type_parse(const char *name, enum mon_event_type *out)
{
    int i = parse_name(event_type_names, ARRAY_SIZE(event_type_names), name);

    if (i < 0)
        return i;
    *out = (enum mon_event_type)i;
    return 0;
}

const char *mon_session_status_name(enum mon_session_status s)
{
    return s == MON_SESSION_ACTIVE ? "active" : "ended";
}

static json_t *evidence_to_json(const struct mon_evidence *e)
{
    json_t *o = json_object();

    json_object_set_new(o, "kind", json_string(evidence_kind_names[e->kind]));
    json_object_set_new(o, "at_ms", json_integer(e->at_ms));
    switch (e->kind) {
    case MON_EVIDENCE_FRAME:
        json_object_set_new(o, "frame_seq", json_integer(e->frame_seq));
        json_object_set_new(o, "face_count", json_integer(e->face_count));
        json_object_set_new(o, "score", json_real(e->score));
        json_object_set_new(o, "brightness", json_real(e->brightness));
        break;
    case MON_EVIDENCE_EVENT:
        json_object_set_new(o, "event",
                            json_string(mon_event_type_name(e->event)));
        json_object_set_new(o, "client_ms", json_integer(e->client_ms));
        break;
    case MON_EVIDENCE_SILENCE:
        break;
    }
    return o;
}

char *mon_anomaly_evidence_json(const struct mon_anomaly *a)
{
    json_t *arr = json_array();
    char *text;

    if (!arr)
        BUG("out of memory building evidence JSON");
    for (int i = 0; i < a->evidence_count; i++)
        json_array_append_new(arr, evidence_to_json(&a->evidence[i]));

    /* json_dumps() allocates with malloc(), so callers free() it. */
    text = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(arr);
    if (!text)
        BUG("out of memory serialising evidence JSON");
    return text;
}
