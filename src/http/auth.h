/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access tokens: JWT signed with HS256 (libjwt).  The algorithm is fixed
 * here, never taken from the token, so "alg": "none" and every other
 * algorithm are rejected.  A token carries sub (the user id), role, iat and
 * exp; exp is required and numeric and is checked with a leeway.
 */
#ifndef PW_HTTP_AUTH_H
#define PW_HTTP_AUTH_H

#include "core/base.h"
#include "core/id.h"

enum auth_role {
    AUTH_ROLE_STUDENT = 1 << 0,
    AUTH_ROLE_PROCTOR = 1 << 1,
    AUTH_ROLE_ADMIN = 1 << 2,
};

/* Any authenticated user, for a route's allowed roles. */
#define AUTH_ROLE_ANY (AUTH_ROLE_STUDENT | AUTH_ROLE_PROCTOR | AUTH_ROLE_ADMIN)

/* What a verified token says. */
struct auth_claims {
    char sub[ID_SIZE]; /* user id */
    enum auth_role role;
    int64_t iat;       /* issued at, seconds since the epoch */
    int64_t exp;       /* expires at, seconds since the epoch */
};

struct auth;

/*
 * Create the token service.  secret is copied (at least 32 bytes); ttl and
 * leeway are in seconds.  Returns a new object freed with auth_free(), or
 * NULL when the secret is too short.  Thread-safe after creation.
 */
struct auth *auth_new(const uint8_t *secret, size_t secret_len,
                      int64_t ttl_s, int64_t leeway_s);
void auth_free(struct auth *a);

/*
 * Load the signing secret: PW_JWT_SECRET when set, else
 * <data_dir>/jwt.secret, created with 32 random bytes (mode 0600) on first
 * use.  Returns 0 and a new auth in *out, or ERR_IO / ERR_INVALID with a
 * message in err.
 */
int auth_from_config(const char *data_dir, struct auth **out, char *err,
                     size_t err_size);

/*
 * Sign a token for user sub with role, valid for the configured ttl from
 * now.  Returns a new string the caller frees with free(), or NULL on
 * out-of-memory.  *expires_in receives the ttl in seconds.
 */
char *auth_issue(const struct auth *a, const char *sub, enum auth_role role,
                 int64_t *expires_in);

/*
 * Verify token: signature, algorithm HS256, exp present, numeric and not
 * passed (leeway allowed), sub a valid id, role known.  Returns 0 and the
 * claims, or ERR_UNAUTHORIZED.
 */
int auth_verify(const struct auth *a, const char *token,
                struct auth_claims *claims);

/* "student", "proctor", "admin"; NULL for an unknown role. */
const char *auth_role_name(enum auth_role role);

/* Parse a role name; 0 or ERR_INVALID. */
int auth_role_parse(const char *name, enum auth_role *out);

#endif
