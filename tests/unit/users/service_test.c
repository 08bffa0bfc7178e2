/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users use cases over an in-memory fake store: registration, login
 * and its limits, who may read whom, listing with a cursor, and role
 * changes that must keep an admin.  Hashing runs at libsodium's minimum
 * cost so the file runs in well under a second.
 */
#include "core/base.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "services/users/service.h"

#define FAKE_MAX 32
#define WINDOW_MS 60000

/* The fake store: an array kept in insertion order, which is id order. */
struct fake {
    struct user users[FAKE_MAX];
    size_t count;
    int in_tx;     /* open transactions */
    int commits;
    int rollbacks;
};

static struct fake fake;
static int64_t clock_ms;

static int64_t fake_now(void)
{
    return clock_ms;
}

static struct user *find_by(const char *id, const char *email)
{
    for (size_t i = 0; i < fake.count; i++) {
        if ((id && !strcmp(fake.users[i].id, id)) ||
            (email && !strcmp(fake.users[i].email, email)))
            return &fake.users[i];
    }
    return NULL;
}

static int fake_insert(void *ctx, const struct user *u)
{
    (void)ctx;
    if (find_by(NULL, u->email))
        return ERR_EXISTS;
    assert_true(fake.count < FAKE_MAX);
    fake.users[fake.count++] = *u;
    return 0;
}

static int fake_get_by_id(void *ctx, const char *id, struct user *out)
{
    struct user *u = find_by(id, NULL);

    (void)ctx;
    if (!u)
        return ERR_NOT_FOUND;
    *out = *u;
    return 0;
}

static int fake_get_by_email(void *ctx, const char *email, struct user *out)
{
    struct user *u = find_by(NULL, email);

    (void)ctx;
    if (!u)
        return ERR_NOT_FOUND;
    *out = *u;
    return 0;
}

static int fake_list(void *ctx, const char *after, size_t max,
                     struct user *out, size_t *n)
{
    (void)ctx;
    *n = 0;
    for (size_t i = 0; i < fake.count && *n < max; i++) {
        if (!after || strcmp(fake.users[i].id, after) > 0)
            out[(*n)++] = fake.users[i];
    }
    return 0;
}

static int fake_count_role(void *ctx, enum auth_role role, int64_t *n)
{
    (void)ctx;
    *n = 0;
    for (size_t i = 0; i < fake.count; i++)
        *n += fake.users[i].role == role;
    return 0;
}

static int fake_set_role(void *ctx, const char *id, enum auth_role role)
{
    struct user *u = find_by(id, NULL);

    (void)ctx;
    assert_int_equal(fake.in_tx, 1);
    if (!u)
        return ERR_NOT_FOUND;
    u->role = role;
    return 0;
}

static int fake_begin(void *ctx)
{
    (void)ctx;
    fake.in_tx++;
    return 0;
}

static int fake_commit(void *ctx)
{
    (void)ctx;
    fake.in_tx--;
    fake.commits++;
    return 0;
}

static int fake_rollback(void *ctx)
{
    (void)ctx;
    fake.in_tx--;
    fake.rollbacks++;
    return 0;
}

static const struct users_repo fake_repo = {
    .insert = fake_insert,
    .get_by_id = fake_get_by_id,
    .get_by_email = fake_get_by_email,
    .list = fake_list,
    .count_role = fake_count_role,
    .set_role = fake_set_role,
    .begin = fake_begin,
    .commit = fake_commit,
    .rollback = fake_rollback,
};

struct fixture {
    struct auth *auth;
    struct users_service *svc;
};

static int setup(void **state)
{
    static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
    struct users_service_options opts = {
        .opslimit = crypto_pwhash_OPSLIMIT_MIN,
        .memlimit = crypto_pwhash_MEMLIMIT_MIN,
        .login_max_attempts = 3,
        .login_max_per_ip = 10,
        .login_window_ms = WINDOW_MS,
        .limiter_capacity = 64,
        .now_ms = fake_now,
    };
    struct fixture *f = xcalloc(1, sizeof(*f));

    memset(&fake, 0, sizeof(fake));
    clock_ms = 1700000000000;
    f->auth = auth_new(secret, sizeof(secret), 3600, 30);
    assert_non_null(f->auth);
    f->svc = users_service_new_with(&fake_repo, NULL, f->auth, &opts);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    users_service_free(f->svc);
    auth_free(f->auth);
    free(f);
    return 0;
}

/* Create an account and return its id in id (ID_SIZE bytes). */
static void add_user(struct users_service *svc, const char *email,
                     enum auth_role role, char *id)
{
    struct users_new in = {email, "tulip-Harbor-42", "Test User", role};
    struct user u;
    struct jfield_error e = {0};

    assert_int_equal(users_create(svc, &in, &u, &e), 0);
    strlcpy_pw(id, u.id, ID_SIZE);
}

static struct auth_claims claims_of(const char *id, enum auth_role role)
{
    struct auth_claims c = {.role = role};

    strlcpy_pw(c.sub, id, sizeof(c.sub));
    return c;
}

static void test_create__stores_normalised_student(void **state)
{
    struct fixture *f = *state;
    struct users_new in = {"  Zoe.Martin@Example.ORG ", "tulip-Harbor-42",
                           " Zo\xC3\xA9 Martin ", AUTH_ROLE_STUDENT};
    struct user u;
    struct jfield_error e = {0};

    assert_int_equal(users_create(f->svc, &in, &u, &e), 0);
    assert_string_equal(u.email, "zoe.martin@example.org");
    assert_string_equal(u.full_name, "Zo\xC3\xA9 Martin");
    assert_int_equal(u.role, AUTH_ROLE_STUDENT);
    assert_true(id_is_valid(u.id));
    assert_int_equal(u.created_at_ms, clock_ms);
    assert_int_equal(fake.count, 1);

    /* The stored hash is Argon2id and verifies the password. */
    assert_memory_equal(fake.users[0].password_hash, "$argon2id$", 10);
    assert_int_equal(crypto_pwhash_str_verify(fake.users[0].password_hash,
                                              "tulip-Harbor-42", 15), 0);
}

static void test_create__rejects_taken_email(void **state)
{
    struct fixture *f = *state;
    struct users_new in = {"zoe@example.org", "tulip-Harbor-42", "Zoe",
                           AUTH_ROLE_STUDENT};
    struct user u;
    struct jfield_error e = {0};

    assert_int_equal(users_create(f->svc, &in, &u, &e), 0);
    in.email = "ZOE@example.org";
    assert_int_equal(users_create(f->svc, &in, &u, &e), ERR_EXISTS);
    assert_int_equal(fake.count, 1);
}

static void expect_invalid(struct users_service *svc,
                           const struct users_new *in, const char *field)
{
    struct user u;
    struct jfield_error e = {0};

    assert_int_equal(users_create(svc, in, &u, &e), ERR_INVALID);
    assert_string_equal(e.field, field);
}

static void test_create__names_invalid_field(void **state)
{
    struct fixture *f = *state;
    struct users_new in = {"zoe@example.org", "tulip-Harbor-42", "Zoe",
                           AUTH_ROLE_STUDENT};

    in.email = "zoe";
    expect_invalid(f->svc, &in, "email");
    in.email = "zoe@example.org";
    in.password = "short1A";
    expect_invalid(f->svc, &in, "password");
    in.password = "zoe@example.org";
    expect_invalid(f->svc, &in, "password");
    in.password = "tulip-Harbor-42";
    in.full_name = "";
    expect_invalid(f->svc, &in, "full_name");
    in.full_name = "Zoe";
    in.role = AUTH_ROLE_STUDENT | AUTH_ROLE_ADMIN;
    expect_invalid(f->svc, &in, "role");
    assert_int_equal(fake.count, 0);
}

static void test_login__issues_token(void **state)
{
    struct fixture *f = *state;
    struct users_login out;
    struct auth_claims claims;
    int64_t retry = -1;
    char id[ID_SIZE];

    add_user(f->svc, "zoe@example.org", AUTH_ROLE_PROCTOR, id);
    assert_int_equal(users_login(f->svc, " Zoe@Example.org", "tulip-Harbor-42",
                                 "10.0.0.1", &out, &retry), 0);
    assert_string_equal(out.user.id, id);
    assert_int_equal(out.expires_in, 3600);
    assert_int_equal(auth_verify(f->auth, out.access_token, &claims), 0);
    assert_string_equal(claims.sub, id);
    assert_int_equal(claims.role, AUTH_ROLE_PROCTOR);
    free(out.access_token);
}

static void test_login__wrong_password_and_unknown_email_alike(void **state)
{
    struct fixture *f = *state;
    struct users_login out;
    int64_t retry = -1;
    char id[ID_SIZE];

    add_user(f->svc, "zoe@example.org", AUTH_ROLE_STUDENT, id);
    assert_int_equal(users_login(f->svc, "zoe@example.org", "tulip-Harbor-43",
                                 "10.0.0.1", &out, &retry), ERR_UNAUTHORIZED);
    assert_null(out.access_token);
    assert_int_equal(users_login(f->svc, "nobody@example.org",
                                 "tulip-Harbor-42", "10.0.0.1", &out,
                                 &retry), ERR_UNAUTHORIZED);
    assert_int_equal(users_login(f->svc, "not an email", "tulip-Harbor-42",
                                 "10.0.0.1", &out, &retry), ERR_UNAUTHORIZED);
}

static void test_login__limits_failures_per_account(void **state)
{
    struct fixture *f = *state;
    struct users_login out;
    int64_t retry = 0;
    char id[ID_SIZE];

    add_user(f->svc, "zoe@example.org", AUTH_ROLE_STUDENT, id);
    for (int i = 0; i < 3; i++)
        assert_int_equal(users_login(f->svc, "zoe@example.org", "wrong-Pass-1",
                                     "10.0.0.1", &out, &retry),
                         ERR_UNAUTHORIZED);

    /* Now even the right password is not checked. */
    clock_ms += 20000;
    assert_int_equal(users_login(f->svc, "zoe@example.org", "tulip-Harbor-42",
                                 "10.0.0.2", &out, &retry), ERR_RATE_LIMITED);
    assert_int_equal(retry, 40);

    /* Another account from the same address is not affected. */
    assert_int_equal(users_login(f->svc, "other@example.org", "whatever-1A",
                                 "10.0.0.1", &out, &retry), ERR_UNAUTHORIZED);

    /* After the window the right password works again. */
    clock_ms += 40000;
    assert_int_equal(users_login(f->svc, "zoe@example.org", "tulip-Harbor-42",
                                 "10.0.0.2", &out, &retry), 0);
    free(out.access_token);
}

static void test_login__success_clears_failures(void **state)
{
    struct fixture *f = *state;
    struct users_login out;
    int64_t retry = 0;
    char id[ID_SIZE];

    add_user(f->svc, "zoe@example.org", AUTH_ROLE_STUDENT, id);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2; i++)
            assert_int_equal(users_login(f->svc, "zoe@example.org",
                                         "wrong-Pass-1", "10.0.0.1", &out,
                                         &retry), ERR_UNAUTHORIZED);
        assert_int_equal(users_login(f->svc, "zoe@example.org",
                                     "tulip-Harbor-42", "10.0.0.1", &out,
                                     &retry), 0);
        free(out.access_token);
    }
}

static void test_login__limits_attempts_per_address(void **state)
{
    struct fixture *f = *state;
    struct users_login out;
    int64_t retry = 0;
    char id[ID_SIZE];
    char email[64];

    add_user(f->svc, "zoe@example.org", AUTH_ROLE_STUDENT, id);

    /* Ten attempts on ten accounts: each under its own limit. */
    for (int i = 0; i < 10; i++) {
        snprintf(email, sizeof(email), "user%d@example.org", i);
        assert_int_equal(users_login(f->svc, email, "whatever-1A",
                                     "192.0.2.7", &out, &retry),
                         ERR_UNAUTHORIZED);
    }
    assert_int_equal(users_login(f->svc, "zoe@example.org", "tulip-Harbor-42",
                                 "192.0.2.7", &out, &retry),
                     ERR_RATE_LIMITED);
    assert_int_equal(retry, 60);

    /* Another address still logs in. */
    assert_int_equal(users_login(f->svc, "zoe@example.org", "tulip-Harbor-42",
                                 "192.0.2.8", &out, &retry), 0);
    free(out.access_token);
}

static void test_get__self_or_admin(void **state)
{
    struct fixture *f = *state;
    char student[ID_SIZE];
    char other[ID_SIZE];
    char admin[ID_SIZE];
    struct auth_claims c;
    struct user u;

    add_user(f->svc, "s1@example.org", AUTH_ROLE_STUDENT, student);
    add_user(f->svc, "s2@example.org", AUTH_ROLE_STUDENT, other);
    add_user(f->svc, "admin@example.org", AUTH_ROLE_ADMIN, admin);

    c = claims_of(student, AUTH_ROLE_STUDENT);
    assert_int_equal(users_get(f->svc, &c, student, &u), 0);
    assert_string_equal(u.email, "s1@example.org");
    assert_int_equal(users_get(f->svc, &c, other, &u), ERR_FORBIDDEN);
    assert_int_equal(users_get(f->svc, &c, "01HZZZZZZZZZZZZZZZZZZZZZZZ", &u),
                     ERR_FORBIDDEN);

    c = claims_of(other, AUTH_ROLE_PROCTOR);
    assert_int_equal(users_get(f->svc, &c, student, &u), ERR_FORBIDDEN);

    c = claims_of(admin, AUTH_ROLE_ADMIN);
    assert_int_equal(users_get(f->svc, &c, other, &u), 0);
    assert_string_equal(u.email, "s2@example.org");
    assert_int_equal(users_get(f->svc, &c, "01HZZZZZZZZZZZZZZZZZZZZZZZ", &u),
                     ERR_NOT_FOUND);
    assert_int_equal(users_get(f->svc, &c, "not-an-id", &u), ERR_NOT_FOUND);
}

static void test_list__pages_with_cursor(void **state)
{
    struct fixture *f = *state;
    char ids[5][ID_SIZE];
    char next[ID_SIZE];
    struct auth_claims c;
    struct user *page;
    size_t n;
    struct jfield_error e = {0};

    for (int i = 0; i < 5; i++) {
        char email[32];

        snprintf(email, sizeof(email), "u%d@example.org", i);
        add_user(f->svc, email, i == 0 ? AUTH_ROLE_ADMIN : AUTH_ROLE_STUDENT,
                 ids[i]);
    }
    c = claims_of(ids[0], AUTH_ROLE_ADMIN);

    assert_int_equal(users_list(f->svc, &c, NULL, 2, &page, &n, next, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(page[0].id, ids[0]);
    assert_string_equal(page[1].id, ids[1]);
    assert_string_equal(next, ids[1]);
    free(page);

    assert_int_equal(users_list(f->svc, &c, next, 2, &page, &n, next, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(page[0].id, ids[2]);
    assert_string_equal(next, ids[3]);
    free(page);

    /* The last page is short and ends with an empty cursor. */
    assert_int_equal(users_list(f->svc, &c, next, 2, &page, &n, next, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, ids[4]);
    assert_string_equal(next, "");
    free(page);

    /* A page that ends exactly at the last user has no next cursor. */
    assert_int_equal(users_list(f->svc, &c, NULL, 5, &page, &n, next, &e), 0);
    assert_int_equal(n, 5);
    assert_string_equal(next, "");
    free(page);

    assert_int_equal(users_list(f->svc, &c, ids[4], 5, &page, &n, next, &e),
                     0);
    assert_int_equal(n, 0);
    assert_null(page);
}

static void test_list__admin_only_and_checked(void **state)
{
    struct fixture *f = *state;
    char id[ID_SIZE];
    char next[ID_SIZE];
    struct auth_claims c;
    struct user *page;
    size_t n;
    struct jfield_error e = {0};

    add_user(f->svc, "p@example.org", AUTH_ROLE_PROCTOR, id);
    c = claims_of(id, AUTH_ROLE_PROCTOR);
    assert_int_equal(users_list(f->svc, &c, NULL, 20, &page, &n, next, &e),
                     ERR_FORBIDDEN);

    /* A token claiming admin for a stored proctor is not enough. */
    c.role = AUTH_ROLE_ADMIN;
    assert_int_equal(users_list(f->svc, &c, NULL, 20, &page, &n, next, &e),
                     ERR_FORBIDDEN);

    add_user(f->svc, "a@example.org", AUTH_ROLE_ADMIN, id);
    c = claims_of(id, AUTH_ROLE_ADMIN);
    assert_int_equal(users_list(f->svc, &c, NULL, 0, &page, &n, next, &e),
                     ERR_INVALID);
    assert_string_equal(e.field, "limit");
    assert_int_equal(users_list(f->svc, &c, NULL, USERS_LIST_MAX + 1, &page,
                                &n, next, &e), ERR_INVALID);
    assert_string_equal(e.field, "limit");
    assert_int_equal(users_list(f->svc, &c, "bogus", 20, &page, &n, next,
                                &e), ERR_INVALID);
    assert_string_equal(e.field, "cursor");
}

static void test_set_role__admin_changes_role(void **state)
{
    struct fixture *f = *state;
    char admin[ID_SIZE];
    char student[ID_SIZE];
    struct auth_claims c;
    struct user u;

    add_user(f->svc, "admin@example.org", AUTH_ROLE_ADMIN, admin);
    add_user(f->svc, "s@example.org", AUTH_ROLE_STUDENT, student);

    c = claims_of(student, AUTH_ROLE_STUDENT);
    assert_int_equal(users_set_role(f->svc, &c, student, AUTH_ROLE_ADMIN, &u),
                     ERR_FORBIDDEN);

    c = claims_of(admin, AUTH_ROLE_ADMIN);
    assert_int_equal(users_set_role(f->svc, &c, student, AUTH_ROLE_PROCTOR,
                                    &u), 0);
    assert_int_equal(u.role, AUTH_ROLE_PROCTOR);
    assert_int_equal(fake.users[1].role, AUTH_ROLE_PROCTOR);
    assert_int_equal(fake.commits, 1);
    assert_int_equal(fake.in_tx, 0);

    assert_int_equal(users_set_role(f->svc, &c, "01HZZZZZZZZZZZZZZZZZZZZZZZ",
                                    AUTH_ROLE_PROCTOR, &u), ERR_NOT_FOUND);
    assert_int_equal(users_set_role(f->svc, &c, student, 0, &u),
                     ERR_INVALID);
    assert_int_equal(fake.in_tx, 0);
}

static void test_set_role__keeps_last_admin(void **state)
{
    struct fixture *f = *state;
    char admin[ID_SIZE];
    char second[ID_SIZE];
    struct auth_claims c;
    struct user u;

    add_user(f->svc, "admin@example.org", AUTH_ROLE_ADMIN, admin);
    c = claims_of(admin, AUTH_ROLE_ADMIN);

    assert_int_equal(users_set_role(f->svc, &c, admin, AUTH_ROLE_STUDENT, &u),
                     ERR_CONFLICT);
    assert_int_equal(fake.users[0].role, AUTH_ROLE_ADMIN);
    assert_int_equal(fake.rollbacks, 1);
    assert_int_equal(fake.in_tx, 0);

    /* Keeping the role of the last admin is no change and allowed. */
    assert_int_equal(users_set_role(f->svc, &c, admin, AUTH_ROLE_ADMIN, &u),
                     0);

    /* With a second admin, the first may step down. */
    add_user(f->svc, "second@example.org", AUTH_ROLE_STUDENT, second);
    assert_int_equal(users_set_role(f->svc, &c, second, AUTH_ROLE_ADMIN, &u),
                     0);
    assert_int_equal(users_set_role(f->svc, &c, admin, AUTH_ROLE_PROCTOR, &u),
                     0);
    assert_int_equal(fake.users[0].role, AUTH_ROLE_PROCTOR);

    /* The first one's token still claims admin but no longer counts. */
    assert_int_equal(users_set_role(f->svc, &c, second, AUTH_ROLE_STUDENT,
                                    &u), ERR_FORBIDDEN);

    /* The second admin is now the last one. */
    c = claims_of(second, AUTH_ROLE_ADMIN);
    assert_int_equal(users_set_role(f->svc, &c, second, AUTH_ROLE_STUDENT,
                                    &u), ERR_CONFLICT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_create__stores_normalised_student, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create__rejects_taken_email,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_create__names_invalid_field,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_login__issues_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_login__wrong_password_and_unknown_email_alike, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_login__limits_failures_per_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login__success_clears_failures,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_login__limits_attempts_per_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get__self_or_admin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list__pages_with_cursor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list__admin_only_and_checked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_role__admin_changes_role,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_role__keeps_last_admin,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
