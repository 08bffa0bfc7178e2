/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The project's one error enum.  Functions return 0 on success or a negative
 * ERR_* value; err_str() gives the text for logs and err_code() a stable
 * snake_case code for APIs.  The HTTP layer maps each code to a status.
 */
#ifndef PW_CORE_ERR_H
#define PW_CORE_ERR_H

enum err {
    ERR_OK = 0,
    ERR_NOMEM = -1,        /* allocation failed */
    ERR_INVALID = -2,      /* invalid argument or field value */
    ERR_NOT_FOUND = -3,    /* no such record, file or route */
    ERR_EXISTS = -4,       /* unique key already taken */
    ERR_CONFLICT = -5,     /* request not valid in the record's state */
    ERR_TOO_BIG = -6,      /* a size over its configured limit */
    ERR_UNSUPPORTED = -7,  /* media type, format or operator not handled */
    ERR_CORRUPT = -8,      /* malformed bytes (image, model, frame) */
    ERR_IO = -9,           /* file or socket I/O failed; see errno */
    ERR_DB = -10,          /* database error */
    ERR_BUSY = -11,        /* overloaded or locked; retry later */
    ERR_RATE_LIMITED = -12, /* caller over its request rate */
    ERR_UNAUTHORIZED = -13, /* missing, invalid or expired credentials */
    ERR_FORBIDDEN = -14,   /* authenticated but not allowed */
    ERR_TIMEOUT = -15,     /* an operation ran out of time */
    ERR_INTERNAL = -16,    /* a failure of our own or of a library */
};

/* Return a static human-readable text for err (a negative ERR_* or 0). */
const char *err_str(int err);

/* Return a static snake_case code for err, e.g. "not_found". */
const char *err_code(int err);

#endif
