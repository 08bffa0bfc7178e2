/* SPDX-License-Identifier: Apache-2.0 */
/* buf.h: growth doubles the allocation, bounded by the cap. */
#include "core/base.h"
#include "core/buf.h"

#include "core/err.h"

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b, b->cap);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(struct buf *b, size_t need)
{
    size_t alloc;
    char *p;

    if (need > b->cap)
        return ERR_TOO_BIG;
    if (need + 1 <= b->alloc)
        return 0;

    alloc = b->alloc ? b->alloc : 64;
    while (alloc < need + 1)
        alloc *= 2;
    if (alloc > b->cap + 1)
        alloc = b->cap + 1;

    p = realloc(b->data, alloc);
    if (!p)
        return ERR_NOMEM;
    b->data = p;
    b->alloc = alloc;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    int ret;

    if (n > b->cap - b->len)
        return ERR_TOO_BIG;
    ret = grow(b, b->len + n);
    if (ret)
        return ret;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, ret;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ERR_INVALID;

    if ((size_t)n > b->cap - b->len)
        return ERR_TOO_BIG;
    ret = grow(b, b->len + (size_t)n);
    if (ret)
        return ret;

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *data = b->data ? b->data : xstrdup("");

    if (len)
        *len = b->len;
    buf_init(b, b->cap);
    return data;
}
