/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h's writer.  Each line is formatted into a local buffer and written
 * with one fwrite() under stdio's own stream lock, so concurrent threads
 * never interleave inside a line.
 */
#include "core/base.h"
#include "core/log.h"

#include "core/err.h"
#include "core/utc.h"

#include <jansson.h>
#include <pthread.h>

enum log_level log__level = LOG_INFO;
bool log__tracing;

static enum log_format format = LOG_FORMAT_TEXT;

/* Components named in PW_LOG_TRACE, each turned on or (with "-") off. */
#define MAX_TRACED 16
static struct {
    char name[32];
    bool on;
} traced[MAX_TRACED];
static int n_traced;
static bool trace_all;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(enum log_level level, enum log_format fmt)
{
    log__level = level;
    format = fmt;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (!strcmp(s, level_names[i])) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

/* Record that name is traced (on) or not; a later mention wins. */
static void trace_set(const char *name, bool on)
{
    int i;

    for (i = 0; i < n_traced; i++) {
        if (!strcmp(traced[i].name, name))
            break;
    }
    if (i == n_traced) {
        if (n_traced == MAX_TRACED)
            return;
        strlcpy_pw(traced[n_traced++].name, name, sizeof(traced[0].name));
    }
    traced[i].on = on;
}

void log_trace_setup(const char *spec)
{
    const char *p = spec;

    n_traced = 0;
    trace_all = false;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char name[32];
        bool remove = *p == '-';

        if (remove) {
            p++;
            len--;
        }
        if (len > 0 && len < sizeof(name)) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (!strcmp(name, "all"))
                trace_all = !remove;
            else
                trace_set(name, !remove);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    log__tracing = trace_all;
    for (int i = 0; i < n_traced; i++)
        log__tracing |= traced[i].on;
}

bool log__traced(const struct log_ctx *ctx)
{
    const char *component = ctx && ctx->component ? ctx->component : "";

    for (int i = 0; i < n_traced; i++) {
        if (!strcmp(traced[i].name, component))
            return traced[i].on;
    }
    return trace_all;
}

static void write_line(const char *line, size_t len)
{
    flockfile(stderr);
    fwrite(line, 1, len, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Emit a JSON line from an object that the call takes over. */
static void write_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

    if (text) {
        write_line(text, strlen(text));
        free(text);
    }
    json_decref(obj);
}

static json_t *json_head(const struct log_ctx *ctx, enum log_level level,
                         const char *msg)
{
    char ts[UTC_ISO_SIZE];
    json_t *obj = json_object();

    json_object_set_new(obj, "ts", json_string(utc_format(utc_now_ms(), ts)));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    if (ctx && ctx->component)
        json_object_set_new(obj, "component", json_string(ctx->component));
    if (ctx && ctx->request_id)
        json_object_set_new(obj, "request_id", json_string(ctx->request_id));
    json_object_set_new(obj, "msg", json_string(msg));
    return obj;
}

/* Write the text prefix "TS LEVEL component [request_id] " into buf. */
static int text_head(char *buf, size_t size, const struct log_ctx *ctx,
                     enum log_level level)
{
    char ts[UTC_ISO_SIZE];

    return snprintf(buf, size, "%s %-5s %s%s%s%s ",
                    utc_format(utc_now_ms(), ts), level_names[level],
                    ctx && ctx->component ? ctx->component : "-",
                    ctx && ctx->request_id ? " [" : "",
                    ctx && ctx->request_id ? ctx->request_id : "",
                    ctx && ctx->request_id ? "]" : "");
}

void log__write(const struct log_ctx *ctx, enum log_level level,
                const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (format == LOG_FORMAT_JSON) {
        json_t *obj = json_head(ctx, level, msg);

        if (level <= LOG_WARN) {
            json_object_set_new(obj, "file", json_string(file));
            json_object_set_new(obj, "line", json_integer(line));
        }
        write_json(obj);
    } else {
        char out[2400];
        int n = text_head(out, sizeof(out), ctx, level);

        if (level <= LOG_WARN)
            n += snprintf(out + n, sizeof(out) - (size_t)n, "%s (%s:%d)",
                          msg, file, line);
        else
            n += snprintf(out + n, sizeof(out) - (size_t)n, "%s", msg);
        write_line(out, MIN((size_t)n, sizeof(out) - 1));
    }
}

void log_fields(const struct log_ctx *ctx, enum log_level level,
                const char *msg, const char *const *fields)
{
    if (level > log__level)
        return;

    if (format == LOG_FORMAT_JSON) {
        json_t *obj = json_head(ctx, level, msg);

        for (size_t i = 0; fields[i] && fields[i + 1]; i += 2)
            json_object_set_new(obj, fields[i], json_string(fields[i + 1]));
        write_json(obj);
    } else {
        char out[2400];
        size_t n = (size_t)text_head(out, sizeof(out), ctx, level);

        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", msg);
        for (size_t i = 0; fields[i] && fields[i + 1] && n < sizeof(out);
             i += 2)
            n += (size_t)snprintf(out + n, sizeof(out) - n, " %s=%s",
                                  fields[i], fields[i + 1]);
        write_line(out, MIN(n, sizeof(out) - 1));
    }
}

bool log_ratelimit_allow(struct log_ratelimit *rl, int burst,
                         int interval_ms, int *suppressed)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int64_t now = utc_monotonic_ms();
    bool allow;

    pthread_mutex_lock(&lock);
    if (rl->last_ms == 0 || now - rl->last_ms >= interval_ms) {
        int64_t refill = rl->last_ms == 0 ? burst
                                          : (now - rl->last_ms) / interval_ms;

        rl->tokens = (int)MIN((int64_t)burst, rl->tokens + refill);
        rl->last_ms = now;
    }
    allow = rl->tokens > 0;
    if (allow) {
        rl->tokens--;
        if (suppressed)
            *suppressed = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&lock);
    return allow;
}
