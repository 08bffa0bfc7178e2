/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The first include of every .c file: standard headers, attributes, the
 * allocation wrappers that abort on out-of-memory, and banned.h.  Only small
 * fixed-size allocations go through x*(); a size taken from a request, an
 * image or a job payload is capped by the caller and its failure returned.
 */
#ifndef PW_CORE_BASE_H
#define PW_CORE_BASE_H

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))
#define UNUSED        __attribute__((unused))
#define NORETURN      __attribute__((noreturn))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define WARN_UNUSED   __attribute__((warn_unused_result))

/* Report a program bug (never bad input) with its location and abort. */
#define BUG(...) base__bug(__FILE__, __LINE__, __VA_ARGS__)
NORETURN void base__bug(const char *file, int line, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/*
 * Allocation wrappers: return memory the caller frees with free(), or abort
 * the process with a message when the allocator fails.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Format into a new string the caller frees; aborts on out-of-memory. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/*
 * Copy src into dst of dst_size bytes, always NUL-terminated.  Returns the
 * length of src, so a result >= dst_size means the copy was truncated.
 */
size_t strlcpy_pw(char *dst, const char *src, size_t dst_size);

#include "core/banned.h"

#endif
