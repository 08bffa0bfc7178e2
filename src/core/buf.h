/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer with a hard cap set at init, for bodies, frames
 * and text built from input.  The contents are always NUL-terminated (the
 * NUL is not counted in len), so text can be read as a C string.
 */
#ifndef PW_CORE_BUF_H
#define PW_CORE_BUF_H

#include "core/base.h"

struct buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the terminating NUL */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* maximum len; appends beyond it fail */
};

#define BUF_INIT(cap) {NULL, 0, 0, (cap)}

void buf_init(struct buf *b, size_t cap);

/* Free the contents; the buffer is then as after buf_init (same cap). */
void buf_release(struct buf *b);

/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);

/*
 * Append n bytes.  Returns 0, or ERR_TOO_BIG when len would pass cap (the
 * buffer is then unchanged), or ERR_NOMEM.
 */
int buf_append(struct buf *b, const void *data, size_t n);

/* Append formatted text; errors as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

/*
 * Hand the contents to the caller, who frees them with free(); the buffer
 * is left empty.  Returns "" as a new allocation when empty.
 */
char *buf_detach(struct buf *b, size_t *len);

#endif
