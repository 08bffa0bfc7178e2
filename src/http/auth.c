/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access tokens with libjwt 1.10.  libjwt checks the signature with the
 * algorithm named in the token's header, so after decoding we insist that
 * the algorithm is HS256 and read the claims ourselves with jansson, whose
 * types are exact (libjwt reads a string "exp" as absent, not as invalid).
 */
#include "core/base.h"
#include "http/auth.h"

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/utc.h"

#include <fcntl.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_SECRET 32
#define MAX_SECRET 1024
#define MAX_TOKEN  4096

struct auth {
    unsigned char *key; /* owned */
    size_t key_len;
    int64_t ttl_s;
    int64_t leeway_s;
};

static const char *const role_names[] = {"student", "proctor", "admin"};

const char *auth_role_name(enum auth_role role)
{
    switch (role) {
    case AUTH_ROLE_STUDENT:
        return role_names[0];
    case AUTH_ROLE_PROCTOR:
        return role_names[1];
    case AUTH_ROLE_ADMIN:
        return role_names[2];
    }
    return NULL;
}

int auth_role_parse(const char *name, enum auth_role *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(role_names); i++) {
        if (!strcmp(name, role_names[i])) {
            *out = (enum auth_role)(1 << i);
            return 0;
        }
    }
    return ERR_INVALID;
}

struct auth *auth_new(const uint8_t *secret, size_t secret_len,
                      int64_t ttl_s, int64_t leeway_s)
{
    struct auth *a;

    if (secret_len < MIN_SECRET)
        return NULL;
    a = xcalloc(1, sizeof(*a));
    a->key = xmalloc(secret_len);
    memcpy(a->key, secret, secret_len);
    a->key_len = secret_len;
    a->ttl_s = ttl_s;
    a->leeway_s = leeway_s;
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    sodium_memzero(a->key, a->key_len);
    free(a->key);
    free(a);
}

char *auth_issue(const struct auth *a, const char *sub, enum auth_role role,
                 int64_t *expires_in)
{
    int64_t now = utc_now_ms() / 1000;
    const char *role_name = auth_role_name(role);
    jwt_t *jwt = NULL;
    char *token = NULL;

    if (!role_name || jwt_new(&jwt))
        return NULL;
    if (jwt_add_grant(jwt, "sub", sub) ||
        jwt_add_grant(jwt, "role", role_name) ||
        jwt_add_grant_int(jwt, "iat", (long)now) ||
        jwt_add_grant_int(jwt, "exp", (long)(now + a->ttl_s)) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, a->key, (int)a->key_len))
        goto out_free_jwt;
    token = jwt_encode_str(jwt);
    if (token && expires_in)
        *expires_in = a->ttl_s;

out_free_jwt:
    jwt_free(jwt);
    return token;
}

/* Check the claims object; fills claims and returns 0 or ERR_UNAUTHORIZED. */
static int check_claims(const struct auth *a, json_t *grants,
                        struct auth_claims *claims)
{
    json_t *sub = json_object_get(grants, "sub");
    json_t *role = json_object_get(grants, "role");
    json_t *iat = json_object_get(grants, "iat");
    json_t *exp = json_object_get(grants, "exp");
    int64_t now = utc_now_ms() / 1000;

    if (!json_is_integer(exp) || !json_is_integer(iat) ||
        !json_is_string(sub) || !json_is_string(role))
        return ERR_UNAUTHORIZED;
    if (!id_is_valid(json_string_value(sub)) ||
        auth_role_parse(json_string_value(role), &claims->role))
        return ERR_UNAUTHORIZED;
    claims->exp = json_integer_value(exp);
    claims->iat = json_integer_value(iat);
    if (claims->exp > INT64_MAX - a->leeway_s ||
        now > claims->exp + a->leeway_s)
        return ERR_UNAUTHORIZED;
    strlcpy_pw(claims->sub, json_string_value(sub), sizeof(claims->sub));
    return 0;
}

int auth_verify(const struct auth *a, const char *token,
                struct auth_claims *claims)
{
    jwt_t *jwt = NULL;
    char *text = NULL;
    json_t *grants = NULL;
    int ret = ERR_UNAUTHORIZED;

    if (!token || !*token || strlen(token) > MAX_TOKEN)
        return ERR_UNAUTHORIZED;
    if (jwt_decode(&jwt, token, a->key, (int)a->key_len))
        return ERR_UNAUTHORIZED;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto out_free_jwt;

    text = jwt_get_grants_json(jwt, NULL);
    if (!text)
        goto out_free_jwt;
    grants = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(grants))
        ret = check_claims(a, grants, claims);

    json_decref(grants);
    free(text);
out_free_jwt:
    jwt_free(jwt);
    return ret;
}

/* Secret file */

/*
 * Read the secret file at path into buf; returns its length (trailing
 * blanks removed), 0 when the file does not exist, or a negative ERR_*.
 */
static int read_secret(const char *path, char *buf, size_t size, char *err,
                       size_t err_size)
{
    struct log_ctx log = LOG_CTX_INIT("auth");
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_size, "cannot open \"%s\": %s", path,
                 strerror(errno));
        return ERR_IO;
    }
    if (!fstat(fd, &st) && (st.st_mode & 077))
        log_warn(&log, "secret file \"%s\" is readable by other users; "
                       "run chmod 600 on it", path);
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, err_size, "cannot read \"%s\": %s", path,
                 strerror(errno));
        return ERR_IO;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n < MIN_SECRET || (size_t)n >= size - 1) {
        snprintf(err, err_size, "invalid secret in \"%s\": expected %d to "
                 "%zu bytes", path, MIN_SECRET, size - 2);
        return ERR_INVALID;
    }
    return (int)n;
}

/*
 * Create path with 32 random bytes as 64 hex digits, mode 0600.  The file
 * is written under a temporary name and linked into place, so a reader
 * never sees it half written and, when two processes race, the first link
 * wins and both then read the same secret.
 */
static int create_secret(const char *path, char *err, size_t err_size)
{
    unsigned char raw[32];
    char hex[2 * sizeof(raw) + 2];
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int ret = 0;
    int fd;

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    strlcpy_pw(hex + 2 * sizeof(raw), "\n", 2);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_size, "cannot create \"%s\": %s", tmp,
                 strerror(errno));
        ret = ERR_IO;
        goto out_free_tmp;
    }
    if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd)) {
        snprintf(err, err_size, "cannot write \"%s\": %s", tmp,
                 strerror(errno));
        ret = ERR_IO;
        close(fd);
        goto out_unlink_tmp;
    }
    close(fd);
    if (link(tmp, path) && errno != EEXIST) {
        snprintf(err, err_size, "cannot create \"%s\": %s", path,
                 strerror(errno));
        ret = ERR_IO;
    }

out_unlink_tmp:
    unlink(tmp);
out_free_tmp:
    sodium_memzero(hex, sizeof(hex));
    free(tmp);
    return ret;
}

int auth_from_config(const char *data_dir, struct auth **out, char *err,
                     size_t err_size)
{
    const char *env = config_str("PW_JWT_SECRET");
    int64_t ttl = config_int("PW_JWT_TTL");
    int64_t leeway = config_int("PW_JWT_LEEWAY");
    char secret[MAX_SECRET + 2];
    char *path = NULL;
    int n, ret = 0;

    *out = NULL;
    if (*env) {
        if (strlen(env) < MIN_SECRET || strlen(env) > MAX_SECRET) {
            snprintf(err, err_size, "invalid PW_JWT_SECRET: expected %d to "
                     "%d bytes", MIN_SECRET, MAX_SECRET);
            return ERR_INVALID;
        }
        *out = auth_new((const uint8_t *)env, strlen(env), ttl, leeway);
        return 0;
    }

    if (sodium_init() < 0) {
        snprintf(err, err_size, "cannot initialise libsodium");
        return ERR_INTERNAL;
    }
    path = xasprintf("%s/jwt.secret", data_dir);
    n = read_secret(path, secret, sizeof(secret), err, err_size);
    if (n == 0) {
        ret = create_secret(path, err, err_size);
        if (ret)
            goto out_free_path;
        n = read_secret(path, secret, sizeof(secret), err, err_size);
        if (n == 0) {
            snprintf(err, err_size, "\"%s\" vanished after its creation",
                     path);
            n = ERR_IO;
        }
    }
    if (n < 0) {
        ret = n;
        goto out_wipe;
    }
    *out = auth_new((const uint8_t *)secret, (size_t)n, ttl, leeway);

out_wipe:
    sodium_memzero(secret, sizeof(secret));
out_free_path:
    free(path);
    return ret;
}
