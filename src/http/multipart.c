/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multipart bodies read in place.  A delimiter is "--" boundary at the
 * start of the body or right after a CRLF, followed by "--" (the closing
 * delimiter) or by optional spaces and tabs and a CRLF; any other match of
 * the boundary is part data.  Every scan is bounded by the body's end.
 */
#include "core/base.h"
#include "http/multipart.h"

#include "core/err.h"

#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2046 bchars: digits, letters, "'()+_,-./:=?" and space. */
static bool is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("'()+_,-./:=? ", c));
}

/*
 * Read the parameter value at *p (a token, or a quoted string with
 * backslash escapes) into out of out_size bytes.  Returns its length,
 * which may exceed out_size - 1 (then out has only a prefix), or -1 for an
 * unterminated quoted string.  Leaves *p after the value.
 */
static long read_value(const char **p, char *out, size_t out_size)
{
    const char *s = *p;
    size_t n = 0;

    if (*s != '"') {
        n = strcspn(s, "; \t");
        memcpy(out, s, MIN(n, out_size - 1));
        out[MIN(n, out_size - 1)] = '\0';
        *p = s + n;
        return (long)n;
    }

    for (s++; *s != '"'; s++) {
        if (*s == '\\' && s[1])
            s++;
        if (!*s)
            return -1;
        if (n < out_size - 1)
            out[n] = *s;
        n++;
    }
    out[MIN(n, out_size - 1)] = '\0';
    *p = s + 1;
    return (long)n;
}

int multipart_boundary(const char *content_type,
                       char out[MULTIPART_MAX_BOUNDARY + 1])
{
    const char *p = content_type;
    bool found = false;
    size_t type_len;

    p += strspn(p, " \t");
    type_len = strcspn(p, "; \t");
    if (type_len <= 10 || strncasecmp(p, "multipart/", 10))
        return ERR_INVALID;
    p += type_len;

    for (;;) {
        char value[MULTIPART_MAX_BOUNDARY + 1];
        const char *name;
        size_t name_len;
        long value_len;

        p += strspn(p, " \t");
        if (!*p)
            break;
        if (*p++ != ';')
            return ERR_INVALID;
        p += strspn(p, " \t");
        if (!*p)
            break;
        name = p;
        name_len = strcspn(p, "=; \t");
        if (p[name_len] != '=')
            return ERR_INVALID;
        p += name_len + 1;
        value_len = read_value(&p, value, sizeof(value));
        if (value_len < 0)
            return ERR_INVALID;
        if (name_len != 8 || strncasecmp(name, "boundary", 8))
            continue;

        if (found || value_len == 0 || value_len > MULTIPART_MAX_BOUNDARY)
            return ERR_INVALID;
        for (long i = 0; i < value_len; i++) {
            if (!is_bchar(value[i]))
                return ERR_INVALID;
        }
        if (value[value_len - 1] == ' ')
            return ERR_INVALID;
        memcpy(out, value, (size_t)value_len + 1);
        found = true;
    }
    return found ? 0 : ERR_INVALID;
}

/* The boundary as searched for: CRLF "--" boundary. */
struct delimiter {
    char text[MULTIPART_MAX_BOUNDARY + 4];
    size_t len;            /* bytes of text, CRLF included */
};

/*
 * When the "--" boundary at p (already matched) ends a valid delimiter
 * line, return the first byte after that line and set *close for the
 * closing delimiter; otherwise return NULL.
 */
static const uint8_t *line_after(const struct delimiter *d, const uint8_t *p,
                                 const uint8_t *end, bool *close)
{
    const uint8_t *q = p + d->len - 2;

    if (end - q >= 2 && q[0] == '-' && q[1] == '-') {
        *close = true;
        return q + 2;
    }
    while (q < end && is_space((char)*q))
        q++;
    if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
        *close = false;
        return q + 2;
    }
    return NULL;
}

/*
 * Find the first delimiter preceded by CRLF in [from, end).  Returns where
 * its CRLF starts (the end of the data before it) with *next at the line
 * after it, or NULL.
 */
static const uint8_t *find_delimiter(const struct delimiter *d,
                                     const uint8_t *from, const uint8_t *end,
                                     const uint8_t **next, bool *close)
{
    const uint8_t *hit;

    while (from < end &&
           (hit = memmem(from, (size_t)(end - from), d->text, d->len))) {
        *next = line_after(d, hit + 2, end, close);
        if (*next)
            return hit;
        from = hit + 1;
    }
    return NULL;
}

/*
 * Check the header lines in [p, end), each ending in CRLF, and set *match
 * when the media type of the first Content-Type is type.  A line starting
 * with a space or tab continues the previous one and is skipped.  Returns
 * 0 or ERR_INVALID for a line that is not "name: value".
 */
static int read_headers(const uint8_t *p, const uint8_t *end,
                        const char *type, bool *match)
{
    bool seen = false;

    *match = !strcasecmp(type, "text/plain");
    while (p < end) {
        const uint8_t *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const uint8_t *colon, *name_end, *v, *v_end;

        if (!eol)
            return ERR_INVALID;
        if (is_space((char)*p)) {
            p = eol + 2;
            continue;
        }
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            return ERR_INVALID;
        name_end = colon;
        while (name_end > p && is_space((char)name_end[-1]))
            name_end--;
        if (!seen && name_end - p == 12 &&
            !strncasecmp((const char *)p, "content-type", 12)) {
            seen = true;
            v = colon + 1;
            while (v < eol && is_space((char)*v))
                v++;
            v_end = v;
            while (v_end < eol && *v_end != ';' && !is_space((char)*v_end))
                v_end++;
            *match = strlen(type) == (size_t)(v_end - v) &&
                     !strncasecmp((const char *)v, type,
                                  (size_t)(v_end - v));
        }
        p = eol + 2;
    }
    return 0;
}

int multipart_find(const char *content_type, const uint8_t *body, size_t len,
                   const char *type, const uint8_t **part, size_t *part_len)
{
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    const uint8_t *end = body + len, *next = NULL;
    struct delimiter d;
    bool close = false;
    int ret;

    ret = multipart_boundary(content_type, boundary);
    if (ret)
        return ret;
    d.len = (size_t)snprintf(d.text, sizeof(d.text), "\r\n--%s", boundary);
    if (!body)
        return ERR_INVALID;

    /* The first delimiter may open the body, with no CRLF before it. */
    if (len >= d.len - 2 && !memcmp(body, d.text + 2, d.len - 2))
        next = line_after(&d, body, end, &close);
    if (!next && !find_delimiter(&d, body, end, &next, &close))
        return ERR_INVALID;

    for (int n = 0; !close; n++) {
        const uint8_t *headers = next, *data, *data_end;
        bool match;

        if (n == MULTIPART_MAX_PARTS)
            return ERR_TOO_BIG;

        /* Headers end at an empty line, which may be the first line. */
        if (end - headers >= 2 && headers[0] == '\r' && headers[1] == '\n') {
            data = headers + 2;
        } else {
            data = memmem(headers, (size_t)(end - headers), "\r\n\r\n", 4);
            if (!data)
                return ERR_INVALID;
            data += 4;
        }
        ret = read_headers(headers, data - 2, type, &match);
        if (ret)
            return ret;

        data_end = find_delimiter(&d, data, end, &next, &close);
        if (!data_end)
            return ERR_INVALID;
        if (match) {
            *part = data;
            *part_len = (size_t)(data_end - data);
            return 0;
        }
    }
    return ERR_UNSUPPORTED;
}
