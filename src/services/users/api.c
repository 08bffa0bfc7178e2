/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handlers of the /users routes.  The router has already checked the
 * token's role against each route's allowed roles, the media type and the
 * body size, and parsed the JSON body; a handler checks the fields, calls
 * the use case and responds.  A password or a token never reaches a log.
 */
#include "core/base.h"
#include "services/users/api.h"

#include "core/err.h"
#include "core/utc.h"

static struct log_ratelimit limited_log; /* "login rate-limited" lines */

/* Return a new JSON object of u's public fields (never the hash). */
static json_t *user_json(const struct user *u)
{
    char created_at[UTC_ISO_SIZE];

    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", u->id, "email",
                     u->email, "full_name", u->full_name, "role",
                     auth_role_name(u->role), "created_at",
                     utc_format(u->created_at_ms, created_at));
}

static int respond_user(struct http_request *req, int status,
                        const struct user *u)
{
    json_t *body = user_json(u);

    if (!body)
        return ERR_NOMEM;
    return http_respond_json(req, status, body);
}

static void set_retry_after(struct http_request *req, int64_t seconds)
{
    char value[24];

    snprintf(value, sizeof(value), "%" PRId64, seconds);
    http_set_header(req, "Retry-After", value);
}

/*
 * Return the JSON object body, or NULL after responding with 400 when the
 * request has none (the router parses a body only when one was sent).
 */
static json_t *require_body(struct http_request *req)
{
    json_t *body = http_req_json(req);

    if (!body)
        http_respond_error(req, 400, "invalid_json",
                           "the request body must be a JSON object", NULL);
    return body;
}

static int handle_register(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"email", "password", "full_name",
                                          NULL};
    struct users_service *svc = ctx;
    json_t *body = require_body(req);
    struct users_new in = {.role = AUTH_ROLE_STUDENT};
    struct jfield_error e = {0};
    struct user u;
    int ret;

    if (!body)
        return 0;
    if (jfield_only(body, allowed, &e) ||
        jfield_str(body, "email", JFIELD_REQUIRED, 0, SIZE_MAX, &in.email,
                   &e) ||
        jfield_str(body, "password", JFIELD_REQUIRED, 0, SIZE_MAX,
                   &in.password, &e) ||
        jfield_str(body, "full_name", JFIELD_REQUIRED, 0, SIZE_MAX,
                   &in.full_name, &e))
        return http_respond_invalid(req, &e);

    ret = users_create(svc, &in, &u, &e);
    if (ret == ERR_INVALID)
        return http_respond_invalid(req, &e);
    if (ret == ERR_EXISTS)
        return http_respond_error(req, 409, "email_taken",
                                  "an account with this email already "
                                  "exists", NULL);
    if (ret == ERR_BUSY)
        set_retry_after(req, 1);
    if (ret)
        return ret;

    log_info(http_req_log(req), "registered user \"%s\"", u.id);
    return respond_user(req, 201, &u);
}

static int handle_login(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"email", "password", NULL};
    struct users_service *svc = ctx;
    json_t *body = require_body(req);
    const char *email = NULL;
    const char *password = NULL;
    struct jfield_error e = {0};
    struct users_login login;
    int64_t retry_after = 0;
    json_t *out;
    int suppressed = 0;
    int ret;

    if (!body)
        return 0;
    if (jfield_only(body, allowed, &e) ||
        jfield_str(body, "email", JFIELD_REQUIRED, 0, SIZE_MAX, &email,
                   &e) ||
        jfield_str(body, "password", JFIELD_REQUIRED, 0, SIZE_MAX,
                   &password, &e))
        return http_respond_invalid(req, &e);

    ret = users_login(svc, email, password, http_req_client_ip(req), &login,
                      &retry_after);
    if (ret == ERR_UNAUTHORIZED)
        return http_respond_error(req, 401, "invalid_credentials",
                                  "invalid email or password", NULL);
    if (ret == ERR_RATE_LIMITED || ret == ERR_BUSY) {
        if (ret == ERR_RATE_LIMITED &&
            log_ratelimit_allow(&limited_log, 10, 1000, &suppressed))
            log_warn(http_req_log(req),
                     "login rate-limited from \"%s\" (%d more not logged)",
                     http_req_client_ip(req), suppressed);
        set_retry_after(req, retry_after);
        return http_respond_err(req, ret, ret == ERR_RATE_LIMITED ?
                                "too many login attempts; retry later" :
                                NULL);
    }
    if (ret)
        return ret;

    out = json_pack("{s:s, s:s, s:I, s:o}", "access_token",
                    login.access_token, "token_type", "bearer", "expires_in",
                    (json_int_t)login.expires_in, "user",
                    user_json(&login.user));
    free(login.access_token);
    if (!out)
        return ERR_NOMEM;
    log_info(http_req_log(req), "user \"%s\" logged in", login.user.id);
    return http_respond_json(req, 200, out);
}

static int handle_me(struct http_request *req, void *ctx)
{
    const struct auth_claims *caller = http_req_auth(req);
    struct user u;
    int ret = users_get(ctx, caller, caller->sub, &u);

    if (ret)
        return ret;
    return respond_user(req, 200, &u);
}

static int handle_get(struct http_request *req, void *ctx)
{
    struct user u;
    int ret = users_get(ctx, http_req_auth(req),
                        http_req_param(req, "user_id"), &u);

    if (ret)
        return ret;
    return respond_user(req, 200, &u);
}

/* Parse ?limit= strictly: decimal digits only, 1..USERS_LIST_MAX. */
static int parse_limit(const char *s, size_t *out, struct jfield_error *e)
{
    size_t value = 0;

    if (!s) {
        *out = 20;
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || value > USERS_LIST_MAX)
            goto out_invalid;
        value = value * 10 + (size_t)(*p - '0');
    }
    if (*s && value >= 1 && value <= USERS_LIST_MAX) {
        *out = value;
        return 0;
    }

out_invalid:
    return jfield_fail(e, "limit", "limit must be an integer between 1 and "
                       "%d", USERS_LIST_MAX);
}

static int handle_list(struct http_request *req, void *ctx)
{
    const char *cursor = http_req_query(req, "cursor");
    struct jfield_error e = {0};
    char next[ID_SIZE];
    struct user *page = NULL;
    json_t *items = NULL;
    json_t *body;
    size_t limit = 0;
    size_t n;
    int ret;

    if (parse_limit(http_req_query(req, "limit"), &limit, &e))
        return http_respond_invalid(req, &e);
    if (cursor && !*cursor)
        cursor = NULL;

    ret = users_list(ctx, http_req_auth(req), cursor, limit, &page, &n, next,
                     &e);
    if (ret == ERR_INVALID)
        return http_respond_invalid(req, &e);
    if (ret)
        return ret;

    ret = ERR_NOMEM;
    items = json_array();
    if (!items)
        goto out_free_page;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(items, user_json(&page[i])))
            goto out_free_page;
    }
    body = json_pack("{s:O, s:s?}", "items", items, "next_cursor",
                     next[0] ? next : NULL);
    if (!body)
        goto out_free_page;
    ret = http_respond_json(req, 200, body);

out_free_page:
    json_decref(items);
    free(page);
    return ret;
}

static int handle_set_role(struct http_request *req, void *ctx)
{
    static const char *const allowed[] = {"role", NULL};
    static const char *const roles[] = {"student", "proctor", "admin",
                                        NULL};
    const struct auth_claims *caller = http_req_auth(req);
    json_t *body = require_body(req);
    struct jfield_error e = {0};
    enum auth_role role;
    struct user u;
    int choice = -1;
    int ret;

    if (!body)
        return 0;
    if (jfield_only(body, allowed, &e) ||
        jfield_enum(body, "role", JFIELD_REQUIRED, roles, &choice, &e))
        return http_respond_invalid(req, &e);
    if (auth_role_parse(roles[choice], &role))
        BUG("role \"%s\" is listed but not known", roles[choice]);

    ret = users_set_role(ctx, caller, http_req_param(req, "user_id"), role, &u);
    if (ret == ERR_CONFLICT)
        return http_respond_error(req, 409, "last_admin",
                                  "the last admin cannot give up the admin "
                                  "role; make another user admin first",
                                  NULL);
    if (ret)
        return ret;

    log_info(http_req_log(req), "user \"%s\" set the role of \"%s\" to %s",
             caller->sub, u.id, roles[choice]);
    return respond_user(req, 200, &u);
}

static const struct http_route routes[] = {
    {"POST", "/users/register", handle_register, 0, 0, USERS_MAX_BODY,
     NULL},
    {"POST", "/users/login", handle_login, 0, 0, USERS_MAX_BODY, NULL},
    {"GET", "/users/me", handle_me, AUTH_ROLE_ANY, 0, 0, NULL},
    {"GET", "/users", handle_list, AUTH_ROLE_ADMIN, 0, 0, NULL},
    {"GET", "/users/{user_id}", handle_get, AUTH_ROLE_ANY, 0, 0, NULL},
    {"PATCH", "/users/{user_id}/role", handle_set_role, AUTH_ROLE_ADMIN, 0,
     USERS_MAX_BODY, NULL},
};

int users_api_register(struct http_server *s, struct users_service *svc)
{
    return http_server_add_routes(s, routes, ARRAY_SIZE(routes), svc);
}
