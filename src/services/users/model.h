/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users service's record and its rules: how an email address is
 * normalised and checked, which passwords are accepted, and what a full
 * name may contain.  The rules are pure functions so that the API, the
 * command line and the tests apply exactly the same ones.
 */
#ifndef PW_SERVICES_USERS_MODEL_H
#define PW_SERVICES_USERS_MODEL_H

#include "core/base.h"
#include "core/id.h"
#include "core/jfield.h"
#include "http/auth.h"

#include <sodium.h>

/* Email addresses: RFC 5321 caps a path at 256 bytes, an address at 254. */
#define USER_EMAIL_MAX       254
#define USER_EMAIL_LOCAL_MAX 64

/* Passwords: counted in UTF-8 characters below, in bytes above. */
#define USER_PASSWORD_MIN_CHARS 10
#define USER_PASSWORD_MAX_BYTES 256

/*
 * Below this many characters a password must mix two character classes;
 * from it on any passphrase is accepted, because length adds more
 * strength than composition does.
 */
#define USER_PASSWORD_PASSPHRASE_CHARS 16

/* Full names: characters, and bytes for the worst case of 4-byte UTF-8. */
#define USER_NAME_MAX_CHARS 200
#define USER_NAME_SIZE      (USER_NAME_MAX_CHARS * 4 + 1)

/* An Argon2id hash string from crypto_pwhash_str(), with its NUL. */
#define USER_HASH_SIZE crypto_pwhash_STRBYTES

/* One account, as the store keeps it. */
struct user {
    char id[ID_SIZE];                  /* sortable id, primary key */
    char email[USER_EMAIL_MAX + 1];    /* normalised, unique */
    char full_name[USER_NAME_SIZE];    /* trimmed UTF-8 */
    enum auth_role role;               /* exactly one role bit */
    int64_t created_at_ms;             /* UTC ms since the epoch */
    char password_hash[USER_HASH_SIZE]; /* Argon2id string; never sent out */
};

/*
 * Normalise email into out (USER_EMAIL_MAX + 1 bytes): surrounding ASCII
 * white space removed and ASCII letters lower-cased.  The result must be
 * at most 254 bytes with exactly one "@", a local part of 1 to 64 bytes, and
 * a domain of dot-separated non-empty labels with at least one dot, and no
 * space or control character anywhere.  Non-ASCII bytes are kept as they
 * are.  Returns 0, or ERR_INVALID with e naming field "email".
 */
int user_email_normalize(const char *email, char *out,
                         struct jfield_error *e);

/*
 * Check password against the policy: valid UTF-8 of at least 10
 * characters and at most 256 bytes, no control characters, not one
 * character repeated, not the account's email or its local part (compared
 * case-insensitively), not in a short list of the most common passwords,
 * and, below 16 characters, not made of a single character class (only
 * lower-case letters, only upper-case letters, only digits or only other
 * characters).  email is the normalised address, or NULL.  Returns 0, or
 * ERR_INVALID with e naming field "password".
 */
int user_password_check(const char *password, const char *email,
                        struct jfield_error *e);

/*
 * Trim surrounding ASCII white space from full_name into out
 * (USER_NAME_SIZE bytes) and check the result: valid UTF-8 of 1 to 200
 * characters without control characters.  Returns 0, or ERR_INVALID with e
 * naming field "full_name".
 */
int user_full_name_normalize(const char *full_name, char *out,
                             struct jfield_error *e);

#endif
