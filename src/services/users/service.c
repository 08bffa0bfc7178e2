/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The use cases of service.h.  Rules about a single field live in model.c.
 * This file has the rules across records (unique email, at least one
 * admin), who may see or change what, the login limits, and the cost
 * control of password hashing.
 */
#include "core/base.h"
#include "services/users/service.h"

#include "core/config.h"
#include "core/err.h"
#include "core/utc.h"
#include "services/users/ratelimit.h"
#include "services/users/store.h"

#include <semaphore.h>
#include <sodium.h>
#include <time.h>

struct users_service {
    const struct users_repo *repo;  /* borrowed */
    void *repo_ctx;                 /* borrowed */
    struct auth *auth;              /* borrowed; NULL: no logins */
    struct users_service_options opts; /* defaults filled in */
    sem_t hash_slots;               /* hashes that may run now */
    struct ratelimit *per_account;  /* failed logins per email */
    struct ratelimit *per_ip;       /* all logins per client address */

    /*
     * A hash of a random password, verified when the email is unknown so
     * that the response takes as long as for a wrong password.
     */
    char dummy_hash[USER_HASH_SIZE];
};

static void fill_defaults(struct users_service_options *o)
{
    if (!o->opslimit)
        o->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!o->memlimit)
        o->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (!o->max_hashes)
        o->max_hashes = 4;
    if (!o->hash_wait_ms)
        o->hash_wait_ms = 5000;
    if (!o->login_max_attempts)
        o->login_max_attempts = 5;
    if (!o->login_max_per_ip)
        o->login_max_per_ip = 20;
    if (!o->login_window_ms)
        o->login_window_ms = 900000;
    if (!o->limiter_capacity)
        o->limiter_capacity = 65536;
    if (!o->now_ms)
        o->now_ms = utc_now_ms;
}

/*
 * Wait up to hash_wait_ms for a hash slot.  Returns 0 or ERR_BUSY.  The
 * deadline is on CLOCK_REALTIME because sem_timedwait() measures that one.
 */
static int hash_slot_take(struct users_service *svc)
{
    struct timespec deadline;
    int64_t ns;

    clock_gettime(CLOCK_REALTIME, &deadline);
    ns = deadline.tv_nsec + (int64_t)svc->opts.hash_wait_ms * 1000000;
    deadline.tv_sec += (time_t)(ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);

    while (sem_timedwait(&svc->hash_slots, &deadline) != 0) {
        if (errno != EINTR)
            return ERR_BUSY;
    }
    return 0;
}

static void hash_slot_give(struct users_service *svc)
{
    sem_post(&svc->hash_slots);
}

/* Hash password into out; 0, ERR_BUSY or ERR_NOMEM. */
static int hash_password(struct users_service *svc, const char *password,
                         char out[USER_HASH_SIZE])
{
    int ret = hash_slot_take(svc);

    if (ret)
        return ret;
    if (crypto_pwhash_str(out, password, strlen(password),
                          svc->opts.opslimit, svc->opts.memlimit) != 0)
        ret = ERR_NOMEM; /* libsodium fails here only on allocation */
    hash_slot_give(svc);
    return ret;
}

/*
 * Verify password against hash.  Returns 0 when it matches,
 * ERR_UNAUTHORIZED when not, or ERR_BUSY.
 */
static int verify_password(struct users_service *svc, const char *hash,
                           const char *password)
{
    int ret = hash_slot_take(svc);

    if (ret)
        return ret;
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        ret = ERR_UNAUTHORIZED;
    hash_slot_give(svc);
    return ret;
}

struct users_service *
users_service_new_with(const struct users_repo *repo, void *repo_ctx,
                       struct auth *a,
                       const struct users_service_options *opts)
{
    struct users_service *svc = xcalloc(1, sizeof(*svc));
    unsigned char random_password[32];

    if (sodium_init() < 0)
        BUG("libsodium failed to initialise");
    svc->repo = repo;
    svc->repo_ctx = repo_ctx;
    svc->auth = a;
    if (opts)
        svc->opts = *opts;
    fill_defaults(&svc->opts);
    if (sem_init(&svc->hash_slots, 0, (unsigned)svc->opts.max_hashes) != 0)
        BUG("sem_init failed: %s", strerror(errno));

    /*
     * NEEDSWORK: the login counters live in this process only.  Replicas
     * of the scaled deployment each count apart, so the limits there are
     * per replica, and a restart clears them.  Sharing them needs a store
     * table or a shared cache.
     */
    svc->per_account = ratelimit_new(svc->opts.limiter_capacity,
                                     svc->opts.login_max_attempts,
                                     svc->opts.login_window_ms);
    svc->per_ip = ratelimit_new(svc->opts.limiter_capacity,
                                svc->opts.login_max_per_ip,
                                svc->opts.login_window_ms);

    randombytes_buf(random_password, sizeof(random_password));
    if (crypto_pwhash_str(svc->dummy_hash, (const char *)random_password,
                          sizeof(random_password), svc->opts.opslimit,
                          svc->opts.memlimit) != 0)
        BUG("out of memory hashing the dummy password");
    return svc;
}

struct users_service *users_service_new(struct store *st, struct auth *a)
{
    struct users_service_options opts = {
        .max_hashes = (int)config_int("PW_PASSWORD_HASH_CONCURRENCY"),
        .login_max_attempts = (int)config_int("PW_LOGIN_MAX_ATTEMPTS"),
        .login_max_per_ip = (int)config_int("PW_LOGIN_MAX_ATTEMPTS_PER_IP"),
        .login_window_ms = config_int("PW_LOGIN_WINDOW") * 1000,
    };

    return users_service_new_with(users_store_repo(), st, a, &opts);
}

void users_service_free(struct users_service *svc)
{
    if (!svc)
        return;
    ratelimit_free(svc->per_ip);
    ratelimit_free(svc->per_account);
    sem_destroy(&svc->hash_slots);
    free(svc);
}

static bool is_single_role(enum auth_role role)
{
    return role == AUTH_ROLE_STUDENT || role == AUTH_ROLE_PROCTOR ||
           role == AUTH_ROLE_ADMIN;
}

int users_create(struct users_service *svc, const struct users_new *in,
                 struct user *out, struct jfield_error *e)
{
    struct user u = {0};
    struct user existing;
    int ret;

    ret = user_email_normalize(in->email, u.email, e);
    if (ret)
        return ret;
    ret = user_full_name_normalize(in->full_name, u.full_name, e);
    if (ret)
        return ret;
    ret = user_password_check(in->password, u.email, e);
    if (ret)
        return ret;
    if (!is_single_role(in->role))
        return jfield_fail(e, "role", "role must be student, proctor or "
                           "admin");

    /* Reject a taken email before spending a hash on it. */
    ret = svc->repo->get_by_email(svc->repo_ctx, u.email, &existing);
    if (ret == 0)
        return ERR_EXISTS;
    if (ret != ERR_NOT_FOUND)
        return ret;

    id_new(u.id);
    u.role = in->role;
    u.created_at_ms = svc->opts.now_ms();
    ret = hash_password(svc, in->password, u.password_hash);
    if (ret)
        return ret;

    /* A concurrent registration of the same email fails here. */
    ret = svc->repo->insert(svc->repo_ctx, &u);
    if (ret)
        return ret;
    *out = u;
    return 0;
}

int users_login(struct users_service *svc, const char *email,
                const char *password, const char *client_ip,
                struct users_login *out, int64_t *retry_after_s)
{
    struct jfield_error e;
    char key[USER_EMAIL_MAX + 1];
    int64_t now = svc->opts.now_ms();
    const char *hash;
    int ret;

    assert(svc->auth);
    *retry_after_s = 0;
    memset(out, 0, sizeof(*out));

    ret = ratelimit_take(svc->per_ip, client_ip, now, retry_after_s);
    if (ret)
        return ret;

    /* A malformed email cannot match an account; it is still limited. */
    if (user_email_normalize(email, key, &e) != 0)
        strlcpy_pw(key, email, sizeof(key));
    ret = ratelimit_check(svc->per_account, key, now, retry_after_s);
    if (ret)
        return ret;

    ret = svc->repo->get_by_email(svc->repo_ctx, key, &out->user);
    if (ret != 0 && ret != ERR_NOT_FOUND)
        return ret;
    hash = ret == 0 ? out->user.password_hash : svc->dummy_hash;

    if (strlen(password) > USER_PASSWORD_MAX_BYTES) {
        ret = ERR_UNAUTHORIZED;
    } else {
        int verified = verify_password(svc, hash, password);

        if (verified == ERR_BUSY) {
            *retry_after_s = 1;
            return ERR_BUSY;
        }
        if (ret == 0)
            ret = verified;
        else
            ret = ERR_UNAUTHORIZED;
    }

    if (ret) {
        ratelimit_hit(svc->per_account, key, now);
        memset(out, 0, sizeof(*out));
        return ret;
    }

    ratelimit_forget(svc->per_account, key);
    out->access_token = auth_issue(svc->auth, out->user.id, out->user.role,
                                   &out->expires_in);
    if (!out->access_token)
        return ERR_NOMEM;
    return 0;
}

/*
 * Check that caller is an admin now.  A token keeps the role it was issued
 * with until it expires, so the stored role is read again: a demoted
 * admin loses these rights at once.  Returns 0, ERR_FORBIDDEN or a store
 * error.
 */
static int check_admin(struct users_service *svc,
                       const struct auth_claims *caller)
{
    struct user me;
    int ret;

    if (caller->role != AUTH_ROLE_ADMIN)
        return ERR_FORBIDDEN;
    ret = svc->repo->get_by_id(svc->repo_ctx, caller->sub, &me);
    if (ret == ERR_NOT_FOUND || (ret == 0 && me.role != AUTH_ROLE_ADMIN))
        return ERR_FORBIDDEN;
    return ret;
}

int users_get(struct users_service *svc, const struct auth_claims *caller,
              const char *id, struct user *out)
{
    int ret;

    if (strcmp(caller->sub, id) != 0) {
        ret = check_admin(svc, caller);
        if (ret)
            return ret;
    }
    if (!id_is_valid(id))
        return ERR_NOT_FOUND;
    return svc->repo->get_by_id(svc->repo_ctx, id, out);
}

int users_list(struct users_service *svc, const struct auth_claims *caller,
               const char *cursor, size_t limit, struct user **out,
               size_t *n, char next_cursor[ID_SIZE],
               struct jfield_error *e)
{
    struct user *page;
    int ret;

    *out = NULL;
    *n = 0;
    ret = check_admin(svc, caller);
    if (ret)
        return ret;
    if (limit < 1 || limit > USERS_LIST_MAX)
        return jfield_fail(e, "limit", "limit must be between 1 and %d",
                           USERS_LIST_MAX);
    if (cursor && !id_is_valid(cursor))
        return jfield_fail(e, "cursor", "cursor must be a user id from "
                           "next_cursor");

    /* One extra row shows whether another page follows. */
    page = xcalloc(limit + 1, sizeof(*page));
    ret = svc->repo->list(svc->repo_ctx, cursor, limit + 1, page, n);
    if (ret) {
        free(page);
        *n = 0;
        return ret;
    }

    /* cursor may point into next_cursor, so it is read for the last time. */
    next_cursor[0] = '\0';
    if (*n > limit) {
        *n = limit;
        strlcpy_pw(next_cursor, page[limit - 1].id, ID_SIZE);
    }
    if (*n == 0) {
        free(page);
        page = NULL;
    }
    *out = page;
    return 0;
}

int users_set_role(struct users_service *svc, const struct auth_claims *caller,
                   const char *id, enum auth_role role, struct user *out)
{
    const struct users_repo *repo = svc->repo;
    int64_t admins;
    int ret;

    ret = check_admin(svc, caller);
    if (ret)
        return ret;
    if (!is_single_role(role))
        return ERR_INVALID;
    if (!id_is_valid(id))
        return ERR_NOT_FOUND;

    ret = repo->begin(svc->repo_ctx);
    if (ret)
        return ret;
    ret = repo->get_by_id(svc->repo_ctx, id, out);
    if (ret)
        goto out_rollback;

    if (out->role == AUTH_ROLE_ADMIN && role != AUTH_ROLE_ADMIN) {
        ret = repo->count_role(svc->repo_ctx, AUTH_ROLE_ADMIN, &admins);
        if (ret)
            goto out_rollback;
        if (admins <= 1) {
            ret = ERR_CONFLICT;
            goto out_rollback;
        }
    }

    if (out->role != role) {
        ret = repo->set_role(svc->repo_ctx, id, role);
        if (ret)
            goto out_rollback;
        out->role = role;
    }
    return repo->commit(svc->repo_ctx);

out_rollback:
    repo->rollback(svc->repo_ctx);
    return ret;
}
