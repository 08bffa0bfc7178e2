/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Levelled logging to stderr, as text for people or as JSON lines when
 * PW_LOG_FORMAT=json.  Every call takes a context that adds its ids (the
 * component, and the request id while a request is served).  The level is
 * checked before the arguments are evaluated.  Thread-safe: one line is
 * written with one call, so lines from several threads never interleave.
 */
#ifndef PW_CORE_LOG_H
#define PW_CORE_LOG_H

#include "core/base.h"

enum log_level {
    LOG_ERROR,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
};

enum log_format {
    LOG_FORMAT_TEXT,
    LOG_FORMAT_JSON,
};

/*
 * What a log line is about.  Callers embed one per server, connection,
 * request or job; the strings are borrowed for the duration of each call.
 */
struct log_ctx {
    const char *component; /* "http", "users", "jobs" ... */
    const char *request_id; /* NULL outside a request */
};

#define LOG_CTX_INIT(component) {(component), NULL}

/* Set the threshold and format; call once at start-up, before threads. */
void log_setup(enum log_level level, enum log_format format);

/*
 * Turn on DEBUG lines for some components whatever the level: a
 * comma-separated list such as "http,ws" (PW_LOG_TRACE).  A leading "-"
 * removes a component again ("all,-ws").  Call before threads start.
 */
void log_trace_setup(const char *spec);

/* Parse "error", "warn", "info" or "debug"; 0 or ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);

extern enum log_level log__level;
extern bool log__tracing;

bool log__traced(const struct log_ctx *ctx);

void log__write(const struct log_ctx *ctx, enum log_level level,
                const char *file, int line, const char *fmt, ...)
    PRINTF_LIKE(5, 6);

/*
 * Write one key=value structured line (JSON when the format is JSON), for
 * access logs and job events.  fields is a NULL-terminated list of key and
 * value string pairs; values are borrowed.
 */
void log_fields(const struct log_ctx *ctx, enum log_level level,
                const char *msg, const char *const *fields);

#define log__at(ctx, lvl, ...)                                               \
    do {                                                                     \
        if ((lvl) <= log__level ||                                           \
            ((lvl) == LOG_DEBUG && log__tracing && log__traced(ctx)))        \
            log__write((ctx), (lvl), __FILE__, __LINE__, __VA_ARGS__);       \
    } while (0)

#define log_error(ctx, ...) log__at(ctx, LOG_ERROR, __VA_ARGS__)
#define log_warn(ctx, ...)  log__at(ctx, LOG_WARN, __VA_ARGS__)
#define log_info(ctx, ...)  log__at(ctx, LOG_INFO, __VA_ARGS__)
#define log_debug(ctx, ...) log__at(ctx, LOG_DEBUG, __VA_ARGS__)

/*
 * A token bucket for warnings that may repeat per request: allows burst
 * lines at once, then one per interval_ms.  Embed one per call site and
 * zero-initialise it.  Thread-safe.
 */
struct log_ratelimit {
    int64_t last_ms; /* when the last token was counted */
    int tokens;      /* lines still allowed before waiting */
    int suppressed;  /* lines dropped since the last one written */
};

/*
 * Whether a line may be written now.  When it returns true after dropping
 * lines, *suppressed (if not NULL) receives how many, for the caller to
 * mention.
 */
bool log_ratelimit_allow(struct log_ratelimit *rl, int burst,
                         int interval_ms, int *suppressed);

#endif
