/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The router: patterns of literal and {param} segments matched against the
 * raw path split on '/', each segment percent-decoded after splitting, so
 * an encoded slash (%2F) stays inside its segment.  Matching is strict: a
 * trailing slash or an empty segment is part of the path and matches no
 * pattern that lacks it.  Where several patterns match, the one with a
 * literal segment at the first position where they differ wins, so
 * "/users/me" beats "/users/{user_id}", also when the literal pattern lacks
 * the request's method (405, not a fall back to the parameter).
 */
#include "core/base.h"
#include "http/http_int.h"

#include "core/err.h"

static const char *const method_names[] = {
    [HTTP_M_GET] = "GET",     [HTTP_M_HEAD] = "HEAD",
    [HTTP_M_POST] = "POST",   [HTTP_M_PUT] = "PUT",
    [HTTP_M_PATCH] = "PATCH", [HTTP_M_DELETE] = "DELETE",
    [HTTP_M_OPTIONS] = "OPTIONS",
};

enum http__method http__method_id(const char *method)
{
    for (size_t i = 0; i < ARRAY_SIZE(method_names); i++) {
        if (!strcmp(method, method_names[i]))
            return (enum http__method)i;
    }
    return HTTP_M_OTHER;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http__decode(const char *s, size_t len, bool plus_space)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= len)
                goto out_invalid;
            hi = hex_value(s[i + 1]);
            lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                goto out_invalid;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            goto out_invalid;
        out[n++] = c;
    }
    out[n] = '\0';
    return out;

out_invalid:
    free(out);
    return NULL;
}

/*
 * Split path into at most HTTP_MAX_SEGMENTS raw segments (pointers into
 * path with lengths).  The leading '/' is required.  Returns the count or
 * ERR_INVALID.
 */
static int split(const char *path, const char **seg, size_t *seg_len)
{
    size_t n = 0;
    const char *p;

    if (path[0] != '/')
        return ERR_INVALID;
    if (path[1] == '\0')
        return 0;

    p = path + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        if (n == HTTP_MAX_SEGMENTS)
            return ERR_INVALID;
        seg[n] = p;
        seg_len[n] = len;
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    return (int)n;
}

static void route_release(struct http__route *rt)
{
    for (size_t i = 0; i < rt->n_segments; i++)
        free(rt->segments[i]);
}

void http__router_release(struct http__router *r)
{
    for (size_t i = 0; i < r->n_routes; i++)
        route_release(&r->routes[i]);
    free(r->routes);
    r->routes = NULL;
    r->n_routes = 0;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Compile def->pattern into rt; ERR_INVALID when malformed. */
static int compile(const struct http_route *def, struct http__route *rt)
{
    const char *seg[HTTP_MAX_SEGMENTS];
    size_t seg_len[HTTP_MAX_SEGMENTS];
    size_t n_params = 0;
    int n;

    memset(rt, 0, sizeof(*rt));
    if (!def->method || !def->pattern || !def->handler)
        return ERR_INVALID;
    n = split(def->pattern, seg, seg_len);
    if (n < 0)
        return ERR_INVALID;

    for (int i = 0; i < n; i++) {
        const char *s = seg[i];
        size_t len = seg_len[i];

        if (len == 0)
            goto out_invalid;
        if (s[0] == '{') {
            if (len < 3 || s[len - 1] != '}' ||
                n_params == HTTP_MAX_PARAMS)
                goto out_invalid;
            for (size_t k = 1; k + 1 < len; k++) {
                if (!is_name_char(s[k]))
                    goto out_invalid;
            }
            rt->segments[i] = xstrndup(s + 1, len - 2);
            rt->is_param[i] = true;
            n_params++;
        } else {
            if (memchr(s, '{', len) || memchr(s, '}', len) ||
                memchr(s, '%', len))
                goto out_invalid;
            rt->segments[i] = xstrndup(s, len);
        }
        rt->n_segments = (size_t)i + 1;
    }
    rt->def = def;
    return 0;

out_invalid:
    route_release(rt);
    return ERR_INVALID;
}

int http__router_add(struct http__router *r, struct http__metrics *m,
                     const struct http_route *routes, size_t n, void *ctx)
{
    size_t added = 0;

    r->routes = xrealloc(r->routes, (r->n_routes + n) * sizeof(*r->routes));
    for (; added < n; added++) {
        struct http__route *rt = &r->routes[r->n_routes + added];
        const struct http_route *def = &routes[added];

        if (compile(def, rt))
            goto out_undo;
        for (size_t k = 0; k < r->n_routes + added; k++) {
            const struct http_route *other = r->routes[k].def;

            if (!strcmp(other->pattern, def->pattern) &&
                !strcmp(other->method, def->method)) {
                route_release(rt);
                goto out_undo;
            }
        }
        rt->ctx = ctx;
        rt->metrics = http__metrics_path(m, def->pattern);
    }
    r->n_routes += n;
    return 0;

out_undo:
    for (size_t k = 0; k < added; k++)
        route_release(&r->routes[r->n_routes + k]);
    return ERR_INVALID;
}

void http__match_release(struct http__match *m)
{
    for (size_t i = 0; i < m->n_params; i++)
        free(m->params[i]);
    memset(m, 0, sizeof(*m));
}

/*
 * Compare two routes matching the same path: negative when a is more
 * specific (a literal segment where b has a parameter, first from the left).
 */
static int specificity_cmp(const struct http__route *a,
                           const struct http__route *b)
{
    for (size_t i = 0; i < a->n_segments; i++) {
        if (a->is_param[i] != b->is_param[i])
            return a->is_param[i] ? 1 : -1;
    }
    return 0;
}

static bool segments_match(const struct http__route *rt, char **decoded,
                           size_t n)
{
    if (rt->n_segments != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (rt->is_param[i]) {
            if (decoded[i][0] == '\0')
                return false;
        } else if (strcmp(rt->segments[i], decoded[i])) {
            return false;
        }
    }
    return true;
}

static bool method_allows(const char *route_method, const char *method)
{
    if (!strcmp(route_method, method))
        return true;
    /* HEAD is served by the GET route; MHD drops the body. */
    return !strcmp(method, "HEAD") && !strcmp(route_method, "GET");
}

static void allow_add(char *allow, size_t size, const char *method)
{
    size_t len = strlen(allow);
    const char *p = allow;

    /* Skip a method listed already (two patterns sharing a method). */
    while ((p = strstr(p, method))) {
        size_t mlen = strlen(method);

        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || !p[mlen]))
            return;
        p += mlen;
    }
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

int http__router_match(const struct http__router *r, const char *method,
                       const char *path, struct http__match *m)
{
    const char *seg[HTTP_MAX_SEGMENTS];
    size_t seg_len[HTTP_MAX_SEGMENTS];
    char *decoded[HTTP_MAX_SEGMENTS];
    const struct http__route *best = NULL;
    const struct http__route *any = NULL;
    int n = split(path, seg, seg_len);
    int ret = 0;

    memset(m, 0, sizeof(*m));
    if (n < 0)
        return ERR_INVALID;
    for (int i = 0; i < n; i++) {
        decoded[i] = http__decode(seg[i], seg_len[i], false);
        if (!decoded[i]) {
            n = i;
            ret = ERR_INVALID;
            goto out_free;
        }
    }

    for (size_t k = 0; k < r->n_routes; k++) {
        const struct http__route *rt = &r->routes[k];

        if (!segments_match(rt, decoded, (size_t)n))
            continue;
        if (!any || specificity_cmp(rt, any) < 0)
            any = rt;
        if (method_allows(rt->def->method, method) &&
            (!best || specificity_cmp(rt, best) < 0))
            best = rt;
    }

    /*
     * A literal pattern names its own resource: GET /users/register is 405
     * (only POST is defined there), not GET /users/{user_id} with the id
     * "register".
     */
    if (best && specificity_cmp(any, best) < 0)
        best = NULL;

    /* The Allow list names the methods of the most specific pattern. */
    if (any) {
        for (size_t k = 0; k < r->n_routes; k++) {
            const struct http__route *rt = &r->routes[k];

            if (!strcmp(rt->def->pattern, any->def->pattern))
                allow_add(m->allow, sizeof(m->allow), rt->def->method);
        }
        m->metrics = any->metrics;
    }

    if (best) {
        m->route = best;
        m->metrics = best->metrics;
        for (int i = 0; i < n; i++) {
            if (best->is_param[i]) {
                m->params[m->n_params++] = decoded[i];
                decoded[i] = NULL;
            }
        }
    }

out_free:
    for (int i = 0; i < n; i++)
        free(decoded[i]);
    return ret;
}

int http__query_parse(const char *q, char ***out, size_t *n)
{
    char **pairs = NULL;
    size_t count = 0;
    const char *p = q;

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t)(eq - p) : len;
        char *name, *value;

        if (len > 0) {
            if (count == HTTP_MAX_QUERY)
                goto out_invalid;
            name = http__decode(p, name_len, true);
            value = eq ? http__decode(eq + 1, len - name_len - 1, true)
                       : xstrdup("");
            if (!name || !value) {
                free(name);
                free(value);
                goto out_invalid;
            }
            pairs = xrealloc(pairs, (count + 1) * 2 * sizeof(*pairs));
            pairs[2 * count] = name;
            pairs[2 * count + 1] = value;
            count++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    *out = pairs;
    *n = count;
    return 0;

out_invalid:
    for (size_t i = 0; i < 2 * count; i++)
        free(pairs[i]);
    free(pairs);
    return ERR_INVALID;
}
