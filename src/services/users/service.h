/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users service's use cases: register, log in, read and list
 * accounts, change a role, and add an account from the command line.  The
 * logic runs over a store interface (struct users_repo), so it depends
 * on neither HTTP nor SQL and is tested with a fake store.  Who may do what is
 * decided here, from the caller's verified claims; admin rights are also
 * checked against the stored role, which a role change updates at once
 * while a token keeps its role until it expires.
 *
 * Password hashes are Argon2id (libsodium crypto_pwhash_str).  Each hash
 * takes the configured memory (64 MiB at the interactive limits), so the
 * number computed at once is capped by a semaphore; a request that waits
 * too long for a slot fails with ERR_BUSY instead of exhausting memory.
 * Every function is thread-safe.
 */
#ifndef PW_SERVICES_USERS_SERVICE_H
#define PW_SERVICES_USERS_SERVICE_H

#include "core/base.h"
#include "core/jfield.h"
#include "http/auth.h"
#include "services/users/model.h"

struct store;
struct users_service;

/* Largest page of GET /users. */
#define USERS_LIST_MAX 100

/*
 * The storage operations the service uses.  Every function returns 0 or a
 * negative ERR_*; ctx is the repo's own state.  Records are copied into
 * caller-owned structs.
 */
struct users_repo {
    /* Insert u; ERR_EXISTS when its email is taken. */
    int (*insert)(void *ctx, const struct user *u);

    /* Read the user with id or email into *out; ERR_NOT_FOUND if none. */
    int (*get_by_id)(void *ctx, const char *id, struct user *out);
    int (*get_by_email)(void *ctx, const char *email, struct user *out);

    /*
     * Read up to max users with an id above after (NULL: from the start)
     * in id order into out, and their number into *n.
     */
    int (*list)(void *ctx, const char *after, size_t max, struct user *out,
                size_t *n);

    /* Count the users with role into *n. */
    int (*count_role)(void *ctx, enum auth_role role, int64_t *n);

    /* Set the role of user id; ERR_NOT_FOUND if none. */
    int (*set_role)(void *ctx, const char *id, enum auth_role role);

    /*
     * Run the calls between begin and commit (or rollback) atomically on
     * the calling thread, so that a check and the change it allows see the
     * same data.
     */
    int (*begin)(void *ctx);
    int (*commit)(void *ctx);
    int (*rollback)(void *ctx);
};

/* Tuning; zero fields take the defaults shown. */
struct users_service_options {
    unsigned long long opslimit; /* Argon2id passes; 0: INTERACTIVE */
    size_t memlimit;             /* Argon2id bytes; 0: INTERACTIVE */
    int max_hashes;              /* hashes computed at once; 0: 4 */
    int hash_wait_ms;            /* wait for a hash slot; 0: 5000 */
    int login_max_attempts;      /* failed logins per account; 0: 5 */
    int login_max_per_ip;        /* attempts per client address; 0: 20 */
    int64_t login_window_ms;     /* rate-limit window; 0: 900000 */
    size_t limiter_capacity;     /* keys each limiter keeps; 0: 65536 */
    int64_t (*now_ms)(void);     /* clock; NULL: utc_now_ms */
};

/*
 * Create the service over repo (borrowed, called with repo_ctx) and the
 * token service a (borrowed).  a may be NULL when the caller never logs
 * anyone in, as the command line does.  opts may be NULL for the
 * defaults.  Returns a new service freed with users_service_free(); aborts
 * on out-of-memory.
 */
struct users_service *
users_service_new_with(const struct users_repo *repo, void *repo_ctx,
                       struct auth *a,
                       const struct users_service_options *opts);

/*
 * Create the service over the SQL store st (borrowed, migrated), with the
 * login limits and hash concurrency from the configuration
 * (PW_LOGIN_MAX_ATTEMPTS, PW_LOGIN_MAX_ATTEMPTS_PER_IP, PW_LOGIN_WINDOW,
 * PW_PASSWORD_HASH_CONCURRENCY).  a as for users_service_new_with().
 */
struct users_service *users_service_new(struct store *st, struct auth *a);

/* Free svc; NULL does nothing. */
void users_service_free(struct users_service *svc);

/* A new account's fields, as received; borrowed for the call. */
struct users_new {
    const char *email;
    const char *password;
    const char *full_name;
    enum auth_role role;
};

/*
 * Create an account.  The fields are normalised and checked by the rules
 * of model.h.  Returns 0 with the stored record in *out (hash included),
 * ERR_INVALID with e naming the field, ERR_EXISTS when the email is taken,
 * ERR_BUSY when no hash slot freed up in time, or a store error.
 */
int users_create(struct users_service *svc, const struct users_new *in,
                 struct user *out, struct jfield_error *e);

/* The result of a successful login. */
struct users_login {
    struct user user;
    char *access_token;  /* owned; free with free() */
    int64_t expires_in;  /* seconds */
};

/*
 * Log in with email and password from client_ip (used as a rate-limit
 * key; "" when unknown).  Attempts per client address and failed attempts
 * per account are limited over the window; once a limit is reached the
 * password is not checked.  An unknown email costs the same hashing time
 * as a wrong password.
 *
 * Returns 0 and *out (free out->access_token), ERR_UNAUTHORIZED for an
 * unknown email or a wrong password alike, ERR_RATE_LIMITED with
 * *retry_after_s set, ERR_BUSY with *retry_after_s set when no hash slot
 * freed up in time, or a store error.
 */
int users_login(struct users_service *svc, const char *email,
                const char *password, const char *client_ip,
                struct users_login *out, int64_t *retry_after_s);

/*
 * Read user id for caller: themselves, or anyone for an admin.  Returns
 * 0 and *out, ERR_FORBIDDEN, or ERR_NOT_FOUND (also for an id that is not
 * well-formed).
 */
int users_get(struct users_service *svc, const struct auth_claims *caller,
              const char *id, struct user *out);

/*
 * List users for an admin, in id order, after cursor (an id, or NULL for
 * the first page), at most limit (1..USERS_LIST_MAX) of them.  *out
 * receives a new array the caller frees with free() (NULL when empty), *n
 * its length, and next_cursor the id to pass for the next page, or "" after
 * the last (left unchanged on error).  cursor may be next_cursor itself.
 * Returns 0, ERR_FORBIDDEN, ERR_INVALID with e naming "cursor"
 * or "limit", or a store error.
 */
int users_list(struct users_service *svc, const struct auth_claims *caller,
               const char *cursor, size_t limit, struct user **out,
               size_t *n, char next_cursor[ID_SIZE],
               struct jfield_error *e);

/*
 * Give user id the role, as the admin caller.  Returns 0 and the updated
 * record in *out, ERR_FORBIDDEN, ERR_NOT_FOUND, or ERR_CONFLICT when the
 * change would leave no admin.
 */
int users_set_role(struct users_service *svc, const struct auth_claims *caller,
                   const char *id, enum auth_role role, struct user *out);

#endif
