/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access tokens: issue and verify, and every forged or malformed token
 * rejected.  Forged tokens are built here by hand (base64url header and
 * payload, HMAC from libsodium) so that libjwt's own encoder cannot hide a
 * verification gap.
 */
#include "core/base.h"
#include "http/auth.h"

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/utc.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t key[] = "test-secret-of-at-least-32-bytes-long";
#define KEY_LEN (sizeof(key) - 1)

static char sub[ID_SIZE];

static void b64url(const void *data, size_t len, char *out, size_t size)
{
    sodium_bin2base64(out, size, data, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/*
 * Build header.payload.signature; alg selects the HMAC ("HS256",
 * "HS512") or none (empty signature).
 */
static char *forge(const char *header, const char *payload, const char *alg,
                   const uint8_t *k, size_t k_len)
{
    char h[1024], p[2048], sig[256] = "";
    char *signing = NULL, *token;

    b64url(header, strlen(header), h, sizeof(h));
    b64url(payload, strlen(payload), p, sizeof(p));
    signing = xasprintf("%s.%s", h, p);

    if (!strcmp(alg, "HS256")) {
        crypto_auth_hmacsha256_state st;
        uint8_t mac[crypto_auth_hmacsha256_BYTES];

        crypto_auth_hmacsha256_init(&st, k, k_len);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)signing,
                                      strlen(signing));
        crypto_auth_hmacsha256_final(&st, mac);
        b64url(mac, sizeof(mac), sig, sizeof(sig));
    } else if (!strcmp(alg, "HS512")) {
        crypto_auth_hmacsha512_state st;
        uint8_t mac[crypto_auth_hmacsha512_BYTES];

        crypto_auth_hmacsha512_init(&st, k, k_len);
        crypto_auth_hmacsha512_update(&st, (const uint8_t *)signing,
                                      strlen(signing));
        crypto_auth_hmacsha512_final(&st, mac);
        b64url(mac, sizeof(mac), sig, sizeof(sig));
    }
    token = xasprintf("%s.%s", signing, sig);
    free(signing);
    return token;
}

static char *payload_with(const char *sub_json, const char *role_json,
                          const char *iat_json, const char *exp_json)
{
    struct buf b = BUF_INIT(4096);
    bool first = true;
    const char *names[] = {"sub", "role", "iat", "exp"};
    const char *values[] = {sub_json, role_json, iat_json, exp_json};

    buf_append(&b, "{", 1);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!values[i])
            continue;
        buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", names[i], values[i]);
        first = false;
    }
    buf_append(&b, "}", 1);
    return buf_detach(&b, NULL);
}

static char *now_plus(int64_t s)
{
    return xasprintf("%" PRId64, utc_now_ms() / 1000 + s);
}

static int setup(void **state)
{
    struct auth *a = auth_new(key, KEY_LEN, 600, 30);

    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    assert_int_equal(sodium_init() >= 0, 1);
    id_new(sub);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    auth_free(*state);
    return 0;
}

/* Sign payload with the right key and HS256, then verify it. */
static int verify_payload(struct auth *a, const char *payload,
                          struct auth_claims *c)
{
    char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256",
                    key, KEY_LEN);
    int ret = auth_verify(a, t, c);

    free(t);
    return ret;
}

static char *good_payload(void)
{
    char *s = xasprintf("\"%s\"", sub);
    char *iat = now_plus(0), *exp = now_plus(600);
    char *p = payload_with(s, "\"proctor\"", iat, exp);

    free(s);
    free(iat);
    free(exp);
    return p;
}

static void test_auth__issued_token_verifies(void **state)
{
    struct auth_claims c;
    int64_t expires_in = 0;
    char *t = auth_issue(*state, sub, AUTH_ROLE_ADMIN, &expires_in);

    assert_non_null(t);
    assert_int_equal(expires_in, 600);
    assert_int_equal(auth_verify(*state, t, &c), 0);
    assert_string_equal(c.sub, sub);
    assert_int_equal(c.role, AUTH_ROLE_ADMIN);
    assert_int_equal(c.exp - c.iat, 600);
    free(t);
}

static void test_auth__hand_made_token_verifies(void **state)
{
    struct auth_claims c;
    char *p = good_payload();

    assert_int_equal(verify_payload(*state, p, &c), 0);
    assert_int_equal(c.role, AUTH_ROLE_PROCTOR);
    free(p);
}

static void test_auth__alg_none_rejected(void **state)
{
    struct auth_claims c;
    char *p = good_payload();
    const char *headers[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}",
                             "{\"alg\":\"None\"}", "{\"typ\":\"JWT\"}"};

    for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
        char *t = forge(headers[i], p, "none", key, KEY_LEN);

        assert_int_equal(auth_verify(*state, t, &c), ERR_UNAUTHORIZED);
        free(t);
    }
    free(p);
}

static void test_auth__other_alg_rejected(void **state)
{
    struct auth_claims c;
    char *p = good_payload();
    char *t = forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p, "HS512", key,
                    KEY_LEN);

    assert_int_equal(auth_verify(*state, t, &c), ERR_UNAUTHORIZED);
    free(t);

    /* An HS256 signature under a header that names another algorithm. */
    t = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, "HS256", key,
              KEY_LEN);
    assert_int_equal(auth_verify(*state, t, &c), ERR_UNAUTHORIZED);
    free(t);
    free(p);
}

static void test_auth__bad_signature_rejected(void **state)
{
    static const uint8_t other[] = "another-secret-of-32-bytes-or-more!!";
    struct auth_claims c;
    char *p = good_payload();
    char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, "HS256", other,
                    sizeof(other) - 1);
    char *good, *dot;

    assert_int_equal(auth_verify(*state, t, &c), ERR_UNAUTHORIZED);
    free(t);

    /* A valid token whose payload is swapped for an admin one. */
    good = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, "HS256", key,
                 KEY_LEN);
    dot = strrchr(good, '.');
    {
        char *admin = xasprintf("{\"sub\":\"%s\",\"role\":\"admin\","
                                "\"iat\":1,\"exp\":99999999999}", sub);
        char *forged = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", admin,
                             "none", key, KEY_LEN);
        char *spliced = xasprintf("%s%s", forged, dot + 1);

        assert_int_equal(auth_verify(*state, spliced, &c), ERR_UNAUTHORIZED);
        free(admin);
        free(forged);
        free(spliced);
    }
    free(good);
    free(p);
}

static void test_auth__exp_checked(void **state)
{
    struct auth_claims c;
    char *s = xasprintf("\"%s\"", sub);
    char *iat = now_plus(-1000);
    char *past = now_plus(-100), *within = now_plus(-10);
    struct {
        const char *exp;
        int expected;
    } cases[] = {
        {NULL, ERR_UNAUTHORIZED},         /* missing */
        {"\"99999999999\"", ERR_UNAUTHORIZED}, /* a string */
        {"1.5e12", ERR_UNAUTHORIZED},     /* not an integer */
        {"null", ERR_UNAUTHORIZED},
        {past, ERR_UNAUTHORIZED},         /* expired beyond the leeway */
        {within, 0},                      /* expired within the leeway */
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *p = payload_with(s, "\"student\"", iat, cases[i].exp);

        assert_int_equal(verify_payload(*state, p, &c), cases[i].expected);
        free(p);
    }
    free(s);
    free(iat);
    free(past);
    free(within);
}

static void test_auth__sub_and_role_checked(void **state)
{
    struct auth_claims c;
    char *good_sub = xasprintf("\"%s\"", sub);
    char *iat = now_plus(0), *exp = now_plus(600);
    struct {
        const char *sub;
        const char *role;
        const char *iat;
    } cases[] = {
        {NULL, "\"student\"", iat},
        {"\"not-an-id\"", "\"student\"", iat},
        {"42", "\"student\"", iat},
        {good_sub, NULL, iat},
        {good_sub, "\"root\"", iat},
        {good_sub, "4", iat},
        {good_sub, "\"admin\"", NULL},
        {good_sub, "\"admin\"", "\"now\""},
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *p = payload_with(cases[i].sub, cases[i].role, cases[i].iat,
                               exp);

        assert_int_equal(verify_payload(*state, p, &c), ERR_UNAUTHORIZED);
        free(p);
    }
    free(good_sub);
    free(iat);
    free(exp);
}

static void test_auth__malformed_tokens_rejected(void **state)
{
    struct auth_claims c;
    const char *tokens[] = {"", "abc", "a.b", "a.b.c", "...", "a.b.c.d",
                            "eyJhbGciOiJIUzI1NiJ9..", "\xff\xfe.x.y"};

    for (size_t i = 0; i < ARRAY_SIZE(tokens); i++)
        assert_int_equal(auth_verify(*state, tokens[i], &c),
                         ERR_UNAUTHORIZED);
    assert_int_equal(auth_verify(*state, NULL, &c), ERR_UNAUTHORIZED);
}

static void test_auth__short_secret_rejected(void **state)
{
    (void)state;
    assert_null(auth_new(key, 31, 60, 0));
}

static void test_auth__roles_named(void **state)
{
    enum auth_role r;

    (void)state;
    assert_string_equal(auth_role_name(AUTH_ROLE_STUDENT), "student");
    assert_string_equal(auth_role_name(AUTH_ROLE_PROCTOR), "proctor");
    assert_string_equal(auth_role_name(AUTH_ROLE_ADMIN), "admin");
    assert_null(auth_role_name((enum auth_role)8));
    assert_int_equal(auth_role_parse("proctor", &r), 0);
    assert_int_equal(r, AUTH_ROLE_PROCTOR);
    assert_int_equal(auth_role_parse("Admin", &r), ERR_INVALID);
}

static void test_auth__secret_file_created_once(void **state)
{
    char dir[] = "/tmp/pw-auth-XXXXXX";
    char err[256], *path;
    struct auth *a1 = NULL, *a2 = NULL;
    struct auth_claims c;
    struct stat st;
    char *t;

    (void)state;
    assert_non_null(mkdtemp(dir));
    config_reset();
    assert_int_equal(auth_from_config(dir, &a1, err, sizeof(err)), 0);
    path = xasprintf("%s/jwt.secret", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);

    /* A second start reads the same secret: tokens stay valid. */
    assert_int_equal(auth_from_config(dir, &a2, err, sizeof(err)), 0);
    t = auth_issue(a1, sub, AUTH_ROLE_STUDENT, NULL);
    assert_int_equal(auth_verify(a2, t, &c), 0);

    free(t);
    auth_free(a1);
    auth_free(a2);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_auth__env_secret_used(void **state)
{
    char err[256];
    struct auth *a = NULL, *b = NULL;
    struct auth_claims c;
    char *t;

    (void)state;
    config_reset();
    assert_int_equal(config_set("PW_JWT_SECRET", "short", err, sizeof(err)),
                     0);
    assert_int_equal(auth_from_config("/nonexistent", &a, err, sizeof(err)),
                     ERR_INVALID);
    assert_null(a);

    assert_int_equal(config_set("PW_JWT_SECRET", (const char *)key, err,
                                sizeof(err)),
                     0);
    assert_int_equal(auth_from_config("/nonexistent", &a, err, sizeof(err)),
                     0);
    b = auth_new(key, KEY_LEN, 60, 0);
    t = auth_issue(b, sub, AUTH_ROLE_STUDENT, NULL);
    assert_int_equal(auth_verify(a, t, &c), 0);
    free(t);
    auth_free(a);
    auth_free(b);
    config_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__issued_token_verifies),
        cmocka_unit_test(test_auth__hand_made_token_verifies),
        cmocka_unit_test(test_auth__alg_none_rejected),
        cmocka_unit_test(test_auth__other_alg_rejected),
        cmocka_unit_test(test_auth__bad_signature_rejected),
        cmocka_unit_test(test_auth__exp_checked),
        cmocka_unit_test(test_auth__sub_and_role_checked),
        cmocka_unit_test(test_auth__malformed_tokens_rejected),
        cmocka_unit_test(test_auth__short_secret_rejected),
        cmocka_unit_test(test_auth__roles_named),
        cmocka_unit_test(test_auth__secret_file_created_once),
        cmocka_unit_test(test_auth__env_secret_used),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
