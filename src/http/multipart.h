/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading multipart bodies (RFC 2046 section 5.1, RFC 7578 for
 * multipart/form-data) in place: a part is returned as a slice of the body,
 * nothing is copied or allocated, and no byte outside the body is read.
 * Lines end in CRLF as both RFCs require.  A body with bare LF line ends
 * does not parse, and no browser, curl or common HTTP library sends one.
 */
#ifndef PW_HTTP_MULTIPART_H
#define PW_HTTP_MULTIPART_H

#include "core/base.h"

/* Maximum boundary length that RFC 2046 allows. */
#define MULTIPART_MAX_BOUNDARY 70

/* Parts examined before multipart_find() gives up with ERR_TOO_BIG. */
#define MULTIPART_MAX_PARTS 64

/*
 * Copies the boundary parameter of content_type (a Content-Type header
 * value such as `multipart/form-data; boundary="x y"`, borrowed) into out,
 * unquoted and NUL-terminated.  out has room for MULTIPART_MAX_BOUNDARY + 1.
 * Parameter names are case-insensitive and the value may be a token or a
 * quoted string.  Returns 0, or ERR_INVALID when the media type is not
 * multipart, the parameter is missing or given twice, or the boundary is
 * empty, longer than 70 characters, ends in a space or has a character
 * outside RFC 2046's bchars.
 */
int multipart_boundary(const char *content_type,
                       char out[MULTIPART_MAX_BOUNDARY + 1]);

/*
 * Finds the first part of body (len bytes, borrowed) whose Content-Type
 * media type is type (e.g. "image/jpeg", compared case-insensitively,
 * parameters ignored).  A part without a Content-Type header is text/plain
 * (RFC 7578 section 4.4).  The boundary comes from content_type, as
 * multipart_boundary() reads it.  The preamble before the first delimiter
 * is skipped; parts after the match are not read, so a missing closing
 * delimiter after it goes unnoticed.
 *
 * Returns 0 with *part pointing inside body and *part_len bytes (0 for an
 * empty part).  Returns ERR_INVALID for a body that does not parse: an
 * invalid boundary, no delimiter, a part with unterminated headers or no
 * delimiter after its data.  Returns ERR_UNSUPPORTED when the closing
 * delimiter comes before any part of that type, or ERR_TOO_BIG after
 * MULTIPART_MAX_PARTS parts without one.
 */
int multipart_find(const char *content_type, const uint8_t *body, size_t len,
                   const char *type, const uint8_t **part, size_t *part_len);

#endif
