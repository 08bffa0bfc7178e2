/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The account rules of model.h.  Each check returns the first problem it
 * finds with the field name and a reason a person can act on; none of them
 * allocates.
 */
#include "core/base.h"
#include "services/users/model.h"

#include "core/err.h"

/*
 * Passwords that meet the length and class rules yet top every leaked-
 * password list; compared case-insensitively.
 */
static const char *const common_passwords[] = {
    "password123", "password1234", "password12345", "password1!",
    "passw0rd123", "p@ssw0rd123", "p@ssword123", "qwerty1234",
    "qwerty12345", "qwertyuiop1", "1q2w3e4r5t", "1q2w3e4r5t6y",
    "q1w2e3r4t5", "abc1234567", "abcd123456", "a123456789",
    "123456789a", "iloveyou12", "welcome123", "letmein123",
    "admin12345", "changeme123", "trustno1234", "football123",
    "monkey12345", "sunshine123", "princess123", "dragon12345",
    NULL,
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Decode the UTF-8 sequence at s into *cp and return its length in bytes,
 * or 0 for an invalid sequence (truncated, overlong, surrogate or above
 * U+10FFFF).
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t len;
    uint32_t min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        *cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        *cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        *cp = s[0] & 0x07u;
    } else {
        return 0;
    }

    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

/* C0 controls, DEL and the C1 controls U+0080..U+009F. */
static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/*
 * Count the characters of s (n bytes) into *chars.  Returns 0, or
 * ERR_INVALID with a reason in e for invalid UTF-8 or a control character.
 */
static int check_text(const char *s, size_t n, const char *field,
                      size_t *chars, struct jfield_error *e)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + n;
    uint32_t cp;

    *chars = 0;
    while (p < end) {
        size_t len = utf8_decode(p, &cp);

        if (len == 0 || len > (size_t)(end - p))
            return jfield_fail(e, field, "%s is not valid UTF-8", field);
        if (is_control(cp))
            return jfield_fail(e, field,
                               "%s must not contain control characters",
                               field);
        p += len;
        (*chars)++;
    }
    return 0;
}

/* Find the bounds of s without surrounding ASCII white space. */
static void trim(const char *s, const char **start, size_t *len)
{
    const char *end = s + strlen(s);

    while (*s && is_space((unsigned char)*s))
        s++;
    while (end > s && is_space((unsigned char)end[-1]))
        end--;
    *start = s;
    *len = (size_t)(end - s);
}

static int check_domain(const char *domain, struct jfield_error *e)
{
    size_t label = 0;
    bool has_dot = false;

    for (const char *p = domain; *p; p++) {
        if (*p != '.') {
            label++;
            continue;
        }
        if (label == 0)
            return jfield_fail(e, "email",
                               "email has an empty label in its domain");
        has_dot = true;
        label = 0;
    }
    if (label == 0)
        return jfield_fail(e, "email",
                           "email must have a domain that does not end "
                           "with a dot");
    if (!has_dot)
        return jfield_fail(e, "email",
                           "email must have a domain with a dot, such as "
                           "example.org");
    return 0;
}

int user_email_normalize(const char *email, char *out,
                         struct jfield_error *e)
{
    const char *start;
    const char *at = NULL;
    size_t len;

    trim(email, &start, &len);
    if (len == 0)
        return jfield_fail(e, "email", "email must not be empty");
    if (len > USER_EMAIL_MAX)
        return jfield_fail(e, "email", "email must have at most %d bytes",
                           USER_EMAIL_MAX);

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)start[i];

        if (c <= 0x20 || c == 0x7F)
            return jfield_fail(e, "email",
                               "email must not contain spaces or control "
                               "characters");
        if (c == '@') {
            if (at)
                return jfield_fail(e, "email",
                                   "email must contain exactly one @");
            at = start + i;
        }
        out[i] = ascii_lower(start[i]);
    }
    out[len] = '\0';

    if (!at)
        return jfield_fail(e, "email", "email must contain an @");
    if (at == start)
        return jfield_fail(e, "email", "email has nothing before the @");
    if (at - start > USER_EMAIL_LOCAL_MAX)
        return jfield_fail(e, "email",
                           "email must have at most %d bytes before the @",
                           USER_EMAIL_LOCAL_MAX);
    return check_domain(out + (at - start) + 1, e);
}

/* Case-insensitive ASCII equality of a and the first n bytes of b. */
static bool equal_nocase(const char *a, const char *b, size_t n)
{
    if (strlen(a) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

enum char_class {
    CLASS_LOWER = 1 << 0,
    CLASS_UPPER = 1 << 1,
    CLASS_DIGIT = 1 << 2,
    CLASS_OTHER = 1 << 3,
};

static unsigned class_of(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return CLASS_LOWER;
    if (c >= 'A' && c <= 'Z')
        return CLASS_UPPER;
    if (c >= '0' && c <= '9')
        return CLASS_DIGIT;
    return CLASS_OTHER;
}

/* Whether every character of s (n bytes) equals the first one. */
static bool is_one_character(const char *s, size_t n)
{
    size_t first = utf8_decode((const unsigned char *)s, &(uint32_t){0});

    for (size_t i = first; i < n; i += first) {
        if (n - i < first || memcmp(s, s + i, first) != 0)
            return false;
    }
    return true;
}

int user_password_check(const char *password, const char *email,
                        struct jfield_error *e)
{
    size_t bytes = strlen(password);
    size_t chars;
    unsigned classes = 0;
    int ret;

    if (bytes > USER_PASSWORD_MAX_BYTES)
        return jfield_fail(e, "password", "password must have at most %d "
                           "bytes", USER_PASSWORD_MAX_BYTES);
    ret = check_text(password, bytes, "password", &chars, e);
    if (ret)
        return ret;
    if (chars < USER_PASSWORD_MIN_CHARS)
        return jfield_fail(e, "password", "password must have at least %d "
                           "characters", USER_PASSWORD_MIN_CHARS);

    if (is_one_character(password, bytes))
        return jfield_fail(e, "password",
                           "password must not repeat a single character");

    if (email) {
        const char *at = strchr(email, '@');

        if (equal_nocase(password, email, strlen(email)) ||
            (at && equal_nocase(password, email, (size_t)(at - email))))
            return jfield_fail(e, "password",
                               "password must not be the email address");
    }

    for (size_t i = 0; common_passwords[i]; i++) {
        if (equal_nocase(password, common_passwords[i],
                         strlen(common_passwords[i])))
            return jfield_fail(e, "password",
                               "password is too common; choose another");
    }

    for (size_t i = 0; i < bytes; i++)
        classes |= class_of((unsigned char)password[i]);
    if (chars < USER_PASSWORD_PASSPHRASE_CHARS &&
        (classes & (classes - 1)) == 0)
        return jfield_fail(e, "password",
                           "password must mix letters, digits or symbols, "
                           "or have at least %d characters",
                           USER_PASSWORD_PASSPHRASE_CHARS);
    return 0;
}

int user_full_name_normalize(const char *full_name, char *out,
                             struct jfield_error *e)
{
    const char *start;
    size_t len;
    size_t chars;
    int ret;

    trim(full_name, &start, &len);
    if (len == 0)
        return jfield_fail(e, "full_name", "full_name must not be empty");
    ret = check_text(start, len, "full_name", &chars, e);
    if (ret)
        return ret;
    if (chars > USER_NAME_MAX_CHARS)
        return jfield_fail(e, "full_name",
                           "full_name must have at most %d characters",
                           USER_NAME_MAX_CHARS);

    /* chars <= 200 valid UTF-8 characters fit in USER_NAME_SIZE. */
    memcpy(out, start, len);
    out[len] = '\0';
    return 0;
}
