/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading untrusted JSON with jansson: parse a request body and take typed
 * fields out of an object, each check naming the offending field so that
 * the API can report which one is wrong.  Parse failures are the client's
 * syntax (HTTP 400); field failures are content (HTTP 422).
 */
#ifndef PW_CORE_JFIELD_H
#define PW_CORE_JFIELD_H

#include "core/base.h"

#include <jansson.h>

/*
 * json_dumps() flags for every JSON body and WebSocket message: compact,
 * with seven significant digits for reals.  Scores and boxes are float32,
 * which has about seven significant digits, so more would print noise.
 */
#define JFIELD_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(7))

/* The first problem found in a body, for the error's details. */
struct jfield_error {
    char field[64];    /* JSON field name, "" for the body as a whole */
    char reason[192];  /* what is wrong, in plain words */
};

enum jfield_flags {
    JFIELD_REQUIRED = 1 << 0, /* absent (or null) is an error */
};

/*
 * Parse len bytes of text as one JSON object (depth and size are bounded by
 * the caller's body limit; jansson rejects NUL bytes and invalid UTF-8).
 * Returns 0 and a new reference in *out, or ERR_INVALID with the position
 * in e when the text is not JSON or not an object.
 */
int jfield_parse(const char *text, size_t len, json_t **out,
                 struct jfield_error *e);

/*
 * Read string field name of obj.  Absent: *out is left unchanged and 0 is
 * returned unless JFIELD_REQUIRED.  The length is counted in UTF-8
 * characters and must lie in [min_len, max_len].  *out is borrowed from
 * obj.  Returns 0 or ERR_INVALID with e filled.
 */
int jfield_str(json_t *obj, const char *name, unsigned flags, size_t min_len,
               size_t max_len, const char **out, struct jfield_error *e);

/* Read an integer field in [min, max]; absent as for jfield_str. */
int jfield_int(json_t *obj, const char *name, unsigned flags, int64_t min,
               int64_t max, int64_t *out, struct jfield_error *e);

/* Read a number (integer or real) field in [min, max]. */
int jfield_double(json_t *obj, const char *name, unsigned flags, double min,
                  double max, double *out, struct jfield_error *e);

/* Read a boolean field. */
int jfield_bool(json_t *obj, const char *name, unsigned flags, bool *out,
                struct jfield_error *e);

/*
 * Read a string field that must be one of choices (NULL-terminated).
 * Returns its index in *out.
 */
int jfield_enum(json_t *obj, const char *name, unsigned flags,
                const char *const *choices, int *out,
                struct jfield_error *e);

/*
 * Reject any key of obj not listed in allowed (NULL-terminated), so that a
 * misspelt field is reported instead of silently ignored.
 */
int jfield_only(json_t *obj, const char *const *allowed,
                struct jfield_error *e);

/* Fill e; returns ERR_INVALID for use in a return statement. */
int jfield_fail(struct jfield_error *e, const char *field, const char *fmt,
                ...) PRINTF_LIKE(3, 4);

/* Length of s in UTF-8 characters (s is valid UTF-8, as jansson keeps). */
size_t jfield_utf8_len(const char *s);

#endif
