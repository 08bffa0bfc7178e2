/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The account rules: email normalisation and checks, the password policy
 * and full names, each case named for the rule it pins.
 */
#include "core/base.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "services/users/model.h"

static void expect_email(const char *in, const char *want)
{
    char out[USER_EMAIL_MAX + 1];
    struct jfield_error e = {0};

    assert_int_equal(user_email_normalize(in, out, &e), 0);
    assert_string_equal(out, want);
}

static void expect_bad_email(const char *in)
{
    char out[USER_EMAIL_MAX + 1];
    struct jfield_error e = {0};

    assert_int_equal(user_email_normalize(in, out, &e), ERR_INVALID);
    assert_string_equal(e.field, "email");
    assert_true(e.reason[0] != '\0');
}

static void test_email__trims_and_lowercases(void **state)
{
    (void)state;
    expect_email("  Alice.Martin@Example.ORG\t\n", "alice.martin@example.org");
    expect_email("a+tag@sub.example.fr", "a+tag@sub.example.fr");
}

static void test_email__keeps_non_ascii(void **state)
{
    (void)state;
    expect_email("\xC3\x89lise@exemple.fr", "\xC3\x89lise@exemple.fr");
}

static void test_email__rejects_malformed(void **state)
{
    (void)state;
    expect_bad_email("");
    expect_bad_email("   ");
    expect_bad_email("no-at-sign.example.org");
    expect_bad_email("two@@example.org");
    expect_bad_email("a@b@example.org");
    expect_bad_email("@example.org");
    expect_bad_email("alice@");
    expect_bad_email("alice@localhost");
    expect_bad_email("alice@example.");
    expect_bad_email("alice@.example.org");
    expect_bad_email("alice@example..org");
    expect_bad_email("ali ce@example.org");
    expect_bad_email("alice@exam\x01ple.org");
    expect_bad_email("alice@exam\x7Fple.org");
}

static void test_email__length_limits(void **state)
{
    char email[300];
    char local[70];

    (void)state;

    /* 64 bytes before the @ is the maximum. */
    memset(local, 'a', 64);
    local[64] = '\0';
    snprintf(email, sizeof(email), "%s@example.org", local);
    expect_email(email, email);
    snprintf(email, sizeof(email), "a%s@example.org", local);
    expect_bad_email(email);

    /* 254 bytes in all is the maximum. */
    memset(email, 'd', 254);
    memcpy(email, "a@", 2);
    memcpy(email + 250, ".org", 5);
    assert_int_equal(strlen(email), 254);
    expect_email(email, email);
    memcpy(email + 250, "d.org", 6);
    expect_bad_email(email);
}

static void expect_password(const char *password, const char *email)
{
    struct jfield_error e = {0};

    assert_int_equal(user_password_check(password, email, &e), 0);
}

static void expect_bad_password(const char *password, const char *email)
{
    struct jfield_error e = {0};

    assert_int_equal(user_password_check(password, email, &e), ERR_INVALID);
    assert_string_equal(e.field, "password");
    assert_true(e.reason[0] != '\0');
}

static void test_password__accepts_reasonable(void **state)
{
    (void)state;
    expect_password("tulip-Harbor-42", "alice@example.org");
    expect_password("correct horse battery staple", NULL);
    expect_password("correcthorsebatterystaple", NULL);
    expect_password("k8s!Vault_2024", NULL);
}

static void test_password__counts_utf8_characters(void **state)
{
    (void)state;

    /* Ten characters in 20 bytes: "é" is 2 bytes. */
    expect_password("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9" "1", NULL);

    /* Nine characters in 18 bytes are too few. */
    expect_bad_password("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                        "\xC3\xA9\xC3\xA9\xC3\xA9" "1", NULL);
}

static void test_password__rejects_short(void **state)
{
    (void)state;
    expect_bad_password("", NULL);
    expect_bad_password("Ab1!xyz9q", NULL);
}

static void test_password__rejects_over_256_bytes(void **state)
{
    char password[300];

    (void)state;
    memset(password, 'a', sizeof(password));
    memcpy(password, "Z9", 2);
    password[256] = '\0';
    expect_password(password, NULL);
    password[256] = 'a';
    password[257] = '\0';
    expect_bad_password(password, NULL);
}

static void test_password__rejects_single_class(void **state)
{
    (void)state;
    expect_bad_password("1234509876", NULL);
    expect_bad_password("abcdefghij", NULL);
    expect_bad_password("ABCDEFGHIJ", NULL);
    expect_bad_password("!@#$%^&*()", NULL);

    /* From 16 characters on, one class is enough. */
    expect_password("zebramangocloudy", NULL);
}

static void test_password__rejects_repeated_character(void **state)
{
    (void)state;
    expect_bad_password("aaaaaaaaaaaaaaaaaaaa", NULL);
    expect_bad_password("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                        "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                        "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                        "\xC3\xA9", NULL);
}

static void test_password__rejects_email(void **state)
{
    (void)state;
    expect_bad_password("jean.dupont2@example.org",
                        "jean.dupont2@example.org");
    expect_bad_password("JEAN.DUPONT2@EXAMPLE.ORG",
                        "jean.dupont2@example.org");
    expect_bad_password("jean.dupont2", "jean.dupont2@example.org");
}

static void test_password__rejects_common(void **state)
{
    (void)state;
    expect_bad_password("Password123", NULL);
    expect_bad_password("qwerty1234", NULL);
}

static void test_password__rejects_controls_and_bad_utf8(void **state)
{
    (void)state;
    expect_bad_password("tulip-Harbor-42\n", NULL);
    expect_bad_password("tulip\tHarbor-42", NULL);
    expect_bad_password("tulip-Harbor-42\xC3", NULL);
    expect_bad_password("tulip-\xC0\xAFHarbor", NULL);     /* overlong */
    expect_bad_password("tulip-\xED\xA0\x80Harbor", NULL); /* surrogate */
}

static void test_full_name__trims(void **state)
{
    char out[USER_NAME_SIZE];
    struct jfield_error e = {0};

    (void)state;
    assert_int_equal(user_full_name_normalize("  Zo\xC3\xA9 Martin ", out,
                                              &e), 0);
    assert_string_equal(out, "Zo\xC3\xA9 Martin");
}

static void test_full_name__limits(void **state)
{
    char name[USER_NAME_SIZE + 8];
    char out[USER_NAME_SIZE];
    struct jfield_error e = {0};

    (void)state;
    assert_int_equal(user_full_name_normalize("   ", out, &e), ERR_INVALID);
    assert_string_equal(e.field, "full_name");
    assert_int_equal(user_full_name_normalize("Ann\x07", out, &e),
                     ERR_INVALID);
    assert_int_equal(user_full_name_normalize("Ann\xC2\x85", out, &e),
                     ERR_INVALID);

    /* 200 four-byte characters fit; 201 do not. */
    for (size_t i = 0; i < 200; i++)
        memcpy(name + i * 4, "\xF0\x9F\x99\x82", 4);
    name[800] = '\0';
    assert_int_equal(user_full_name_normalize(name, out, &e), 0);
    assert_int_equal(strlen(out), 800);
    memcpy(name + 800, "x", 2);
    assert_int_equal(user_full_name_normalize(name, out, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email__trims_and_lowercases),
        cmocka_unit_test(test_email__keeps_non_ascii),
        cmocka_unit_test(test_email__rejects_malformed),
        cmocka_unit_test(test_email__length_limits),
        cmocka_unit_test(test_password__accepts_reasonable),
        cmocka_unit_test(test_password__counts_utf8_characters),
        cmocka_unit_test(test_password__rejects_short),
        cmocka_unit_test(test_password__rejects_over_256_bytes),
        cmocka_unit_test(test_password__rejects_single_class),
        cmocka_unit_test(test_password__rejects_repeated_character),
        cmocka_unit_test(test_password__rejects_email),
        cmocka_unit_test(test_password__rejects_common),
        cmocka_unit_test(test_password__rejects_controls_and_bad_utf8),
        cmocka_unit_test(test_full_name__trims),
        cmocka_unit_test(test_full_name__limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
