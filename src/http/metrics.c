/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request counters and latency histograms per route label, rendered in the
 * Prometheus text format 0.0.4.  Counters are relaxed atomics in fixed
 * arrays, so recording takes no lock; labels are added only while routes
 * are registered, before the server starts.
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"
#include "core/utc.h"

#include <unistd.h>

static const int status_slots[HTTP_STATUS_SLOTS - 1] = {
    101, 200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406,
    408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 429, 431, 500, 501, 503,
    504,
};

static const char *const method_labels[HTTP_M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
};

/* Upper bounds of the latency buckets, in seconds (the client defaults). */
static const double bucket_bounds[HTTP_LATENCY_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static atomic_int ws_open;

void http_metrics_ws_opened(void)
{
    atomic_fetch_add_explicit(&ws_open, 1, memory_order_relaxed);
}

void http_metrics_ws_closed(void)
{
    atomic_fetch_sub_explicit(&ws_open, 1, memory_order_relaxed);
}

static int status_slot(int status)
{
    for (size_t i = 0; i < ARRAY_SIZE(status_slots); i++) {
        if (status_slots[i] == status)
            return (int)i;
    }
    return HTTP_STATUS_SLOTS - 1;
}

void http__metrics_release(struct http__metrics *m)
{
    for (size_t i = 0; i < m->n_paths; i++) {
        free(m->paths[i]->label);
        free(m->paths[i]);
    }
    free(m->paths);
    memset(m, 0, sizeof(*m));
}

struct http__path_metrics *http__metrics_path(struct http__metrics *m,
                                              const char *label)
{
    struct http__path_metrics *p;

    for (size_t i = 0; i < m->n_paths; i++) {
        if (!strcmp(m->paths[i]->label, label))
            return m->paths[i];
    }
    p = xcalloc(1, sizeof(*p));
    p->label = xstrdup(label);
    m->paths = xrealloc(m->paths, (m->n_paths + 1) * sizeof(*m->paths));
    m->paths[m->n_paths++] = p;
    return p;
}

void http__metrics_record(struct http__path_metrics *p,
                          enum http__method method, int status,
                          int64_t duration_ns)
{
    double seconds = (double)duration_ns / 1e9;
    size_t b = 0;

    atomic_fetch_add_explicit(&p->requests[method][status_slot(status)], 1,
                              memory_order_relaxed);
    while (b < ARRAY_SIZE(bucket_bounds) && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add_explicit(&p->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->sum_us,
                              (uint_fast64_t)(duration_ns / 1000),
                              memory_order_relaxed);
}

/*
 * The process start time in seconds since the epoch, from the kernel's
 * boot time (/proc/stat btime) and the process's start in clock ticks
 * after boot (/proc/self/stat field 22).  0 when /proc is unreadable.
 */
static double process_start_time(void)
{
    double cached = 0;
    char line[1024];
    long long btime = -1;
    unsigned long long ticks = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f;
    char *p;

    f = fopen("/proc/stat", "r");
    if (!f)
        return cached;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "btime ", 6)) {
            btime = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);

    f = fopen("/proc/self/stat", "r");
    if (!f)
        return cached;
    p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
    fclose(f);
    if (!p || btime < 0 || hz <= 0)
        return cached;

    /* Field 3 (state) follows the ")" of the command name; 22 is 19 on. */
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return cached;
    ticks = strtoull(p + 1, NULL, 10);
    cached = (double)btime + (double)ticks / (double)hz;
    return cached;
}

void http__metrics_init(struct http__metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->start_time = process_start_time();
    m->unmatched = http__metrics_path(m, "unmatched");
}

/* Escape a label value for the text format (\\, \" and \n). */
static int put_label(struct buf *b, const char *s)
{
    int ret = 0;

    for (; *s && !ret; s++) {
        if (*s == '\\' || *s == '"')
            ret = buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            ret = buf_append(b, "\\n", 2);
        else
            ret = buf_append(b, s, 1);
    }
    return ret;
}

static int render_requests(const struct http__metrics *m, struct buf *b)
{
    int ret = buf_printf(b, "# HELP http_requests_total HTTP requests "
                            "answered, by route pattern, method and "
                            "status.\n"
                            "# TYPE http_requests_total counter\n");

    for (size_t i = 0; i < m->n_paths && !ret; i++) {
        const struct http__path_metrics *p = m->paths[i];

        for (int meth = 0; meth < HTTP_M_COUNT; meth++) {
            for (int s = 0; s < HTTP_STATUS_SLOTS && !ret; s++) {
                uint_fast64_t n = atomic_load_explicit(
                    &p->requests[meth][s], memory_order_relaxed);
                char status[8];

                if (!n)
                    continue;
                if (s == HTTP_STATUS_SLOTS - 1)
                    strlcpy_pw(status, "other", sizeof(status));
                else
                    snprintf(status, sizeof(status), "%d", status_slots[s]);
                ret = buf_printf(b, "http_requests_total{route=\"");
                ret = ret ? ret : put_label(b, p->label);
                ret = ret ? ret
                          : buf_printf(b,
                                       "\",method=\"%s\",status=\"%s\"} "
                                       "%" PRIuFAST64 "\n",
                                       method_labels[meth], status, n);
            }
        }
    }
    return ret;
}

static int render_latency(const struct http__metrics *m, struct buf *b)
{
    int ret = buf_printf(b, "# HELP http_request_duration_seconds Time from "
                            "the request line to the response, by route "
                            "pattern.\n"
                            "# TYPE http_request_duration_seconds "
                            "histogram\n");

    for (size_t i = 0; i < m->n_paths && !ret; i++) {
        const struct http__path_metrics *p = m->paths[i];
        uint_fast64_t cumulative = 0;
        uint_fast64_t count =
            atomic_load_explicit(&p->count, memory_order_relaxed);

        if (!count)
            continue;
        for (size_t k = 0; k < HTTP_LATENCY_BUCKETS && !ret; k++) {
            cumulative += atomic_load_explicit(&p->buckets[k],
                                               memory_order_relaxed);
            ret = buf_printf(b, "http_request_duration_seconds_bucket"
                                "{route=\"");
            ret = ret ? ret : put_label(b, p->label);
            if (ret)
                break;
            if (k < ARRAY_SIZE(bucket_bounds))
                ret = buf_printf(b, "\",le=\"%g\"} %" PRIuFAST64 "\n",
                                 bucket_bounds[k], cumulative);
            else
                ret = buf_printf(b, "\",le=\"+Inf\"} %" PRIuFAST64 "\n",
                                 cumulative);
        }
        /*
         * Buckets and count are read one by one while requests go on, so
         * _count is written as the +Inf bucket to keep them consistent.
         */
        ret = ret ? ret
                  : buf_printf(b, "http_request_duration_seconds_sum"
                                  "{route=\"");
        ret = ret ? ret : put_label(b, p->label);
        ret = ret ? ret
                  : buf_printf(b, "\"} %.6f\n",
                               (double)atomic_load_explicit(
                                   &p->sum_us, memory_order_relaxed) /
                                   1e6);
        ret = ret ? ret
                  : buf_printf(b, "http_request_duration_seconds_count"
                                  "{route=\"");
        ret = ret ? ret : put_label(b, p->label);
        ret = ret ? ret : buf_printf(b, "\"} %" PRIuFAST64 "\n", cumulative);
    }
    return ret;
}

int http__metrics_render(const struct http__metrics *m, struct buf *b)
{
    int ret = render_requests(m, b);

    ret = ret ? ret : render_latency(m, b);
    ret = ret ? ret
              : buf_printf(b,
                           "# HELP websocket_connections_open WebSocket "
                           "connections open now.\n"
                           "# TYPE websocket_connections_open gauge\n"
                           "websocket_connections_open %d\n",
                           atomic_load_explicit(&ws_open,
                                                memory_order_relaxed));
    ret = ret ? ret
              : buf_printf(b,
                           "# HELP process_start_time_seconds Start time "
                           "of the process since the epoch, in seconds.\n"
                           "# TYPE process_start_time_seconds gauge\n"
                           "process_start_time_seconds %.2f\n",
                           m->start_time);
    return ret;
}
