/* SPDX-License-Identifier: Apache-2.0 */
/* Texts and API codes of the ERR_* values. */
#include "core/base.h"
#include "core/err.h"

static const struct {
    const char *code;
    const char *text;
} errors[] = {
    [0] = {"ok", "success"},
    [-ERR_NOMEM] = {"out_of_memory", "out of memory"},
    [-ERR_INVALID] = {"invalid", "invalid argument"},
    [-ERR_NOT_FOUND] = {"not_found", "not found"},
    [-ERR_EXISTS] = {"already_exists", "already exists"},
    [-ERR_CONFLICT] = {"conflict", "conflicts with the current state"},
    [-ERR_TOO_BIG] = {"too_large", "too large"},
    [-ERR_UNSUPPORTED] = {"unsupported", "unsupported format or type"},
    [-ERR_CORRUPT] = {"corrupt", "malformed data"},
    [-ERR_IO] = {"io_error", "input/output error"},
    [-ERR_DB] = {"database_error", "database error"},
    [-ERR_BUSY] = {"busy", "busy, try again later"},
    [-ERR_RATE_LIMITED] = {"rate_limited", "too many requests"},
    [-ERR_UNAUTHORIZED] = {"unauthorized", "authentication required"},
    [-ERR_FORBIDDEN] = {"forbidden", "not allowed"},
    [-ERR_TIMEOUT] = {"timeout", "timed out"},
    [-ERR_INTERNAL] = {"internal", "internal error"},
};

static int index_of(int err)
{
    if (err > 0 || -err >= (int)ARRAY_SIZE(errors))
        return -ERR_INTERNAL;
    return -err;
}

const char *err_str(int err)
{
    return errors[index_of(err)].text;
}

const char *err_code(int err)
{
    return errors[index_of(err)].code;
}
