/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The users table through src/store, in SQL that SQLite and MariaDB both
 * accept.  Roles are stored by name so that the table reads well by hand;
 * times are UTC milliseconds.  A row that fails to decode (an unknown role)
 * is reported as ERR_CORRUPT, never passed on half-read.
 */
#include "core/base.h"
#include "services/users/store.h"

#include "core/err.h"
#include "store/store.h"

#define USER_COLUMNS "id, email, full_name, role, password_hash, created_at"

/* Prepare sql on the calling thread's connection of ctx. */
static int prepare(void *ctx, const char *sql, struct store_stmt **st)
{
    struct store_conn *c;
    int ret = store_conn_get(ctx, &c);

    if (ret)
        return ret;
    return store_prepare(c, sql, st);
}

static void copy_text(struct store_stmt *st, int col, char *dst,
                      size_t dst_size)
{
    const char *s = store_column_text(st, col, NULL);

    strlcpy_pw(dst, s ? s : "", dst_size);
}

/* Decode the current row, selected as USER_COLUMNS, into *u. */
static int read_user(struct store_stmt *st, struct user *u)
{
    char role[16];

    copy_text(st, 0, u->id, sizeof(u->id));
    copy_text(st, 1, u->email, sizeof(u->email));
    copy_text(st, 2, u->full_name, sizeof(u->full_name));
    copy_text(st, 3, role, sizeof(role));
    copy_text(st, 4, u->password_hash, sizeof(u->password_hash));
    u->created_at_ms = store_column_int64(st, 5);
    return auth_role_parse(role, &u->role) ? ERR_CORRUPT : 0;
}

static int insert(void *ctx, const struct user *u)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = prepare(ctx, "INSERT INTO users (" USER_COLUMNS ")"
                       " VALUES (?, ?, ?, ?, ?, ?)", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, u->id)) ||
        (ret = store_bind_text(st, 2, u->email)) ||
        (ret = store_bind_text(st, 3, u->full_name)) ||
        (ret = store_bind_text(st, 4, auth_role_name(u->role))) ||
        (ret = store_bind_text(st, 5, u->password_hash)) ||
        (ret = store_bind_int64(st, 6, u->created_at_ms)))
        goto out_finalize;

    ret = store_step(st);
    if (ret == STORE_DONE)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

/* Run a query bound to one text value that selects at most one user. */
static int get_one(void *ctx, const char *sql, const char *value,
                   struct user *out)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = prepare(ctx, sql, &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, value);
    if (ret)
        goto out_finalize;

    ret = store_step(st);
    if (ret == STORE_ROW)
        ret = read_user(st, out);
    else if (ret == STORE_DONE)
        ret = ERR_NOT_FOUND;

out_finalize:
    store_finalize(st);
    return ret;
}

static int get_by_id(void *ctx, const char *id, struct user *out)
{
    return get_one(ctx, "SELECT " USER_COLUMNS " FROM users WHERE id = ?",
                   id, out);
}

static int get_by_email(void *ctx, const char *email, struct user *out)
{
    return get_one(ctx, "SELECT " USER_COLUMNS " FROM users"
                        " WHERE email = ?", email, out);
}

static int list(void *ctx, const char *after, size_t max, struct user *out,
                size_t *n)
{
    struct store_stmt *st = NULL;
    int ret;

    *n = 0;
    ret = prepare(ctx, "SELECT " USER_COLUMNS " FROM users WHERE id > ?"
                       " ORDER BY id LIMIT ?", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, after ? after : "")) ||
        (ret = store_bind_int64(st, 2, (int64_t)max)))
        goto out_finalize;

    while ((ret = store_step(st)) == STORE_ROW && *n < max) {
        ret = read_user(st, &out[*n]);
        if (ret)
            goto out_finalize;
        (*n)++;
    }
    if (ret == STORE_DONE || ret == STORE_ROW)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

static int count_role(void *ctx, enum auth_role role, int64_t *n)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = prepare(ctx, "SELECT COUNT(*) FROM users WHERE role = ?", &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, auth_role_name(role));
    if (ret)
        goto out_finalize;

    ret = store_step(st);
    if (ret == STORE_ROW) {
        *n = store_column_int64(st, 0);
        ret = 0;
    } else if (ret == STORE_DONE) {
        ret = ERR_DB; /* COUNT(*) always returns a row */
    }

out_finalize:
    store_finalize(st);
    return ret;
}

static int set_role(void *ctx, const char *id, enum auth_role role)
{
    struct store_conn *c;
    struct store_stmt *st = NULL;
    int ret;

    ret = store_conn_get(ctx, &c);
    if (ret)
        return ret;
    ret = store_prepare(c, "UPDATE users SET role = ? WHERE id = ?", &st);
    if (ret)
        return ret;
    if ((ret = store_bind_text(st, 1, auth_role_name(role))) ||
        (ret = store_bind_text(st, 2, id)))
        goto out_finalize;

    ret = store_step(st);
    if (ret == STORE_DONE)
        ret = store_changes(c) > 0 ? 0 : ERR_NOT_FOUND;

out_finalize:
    store_finalize(st);
    return ret;
}

static int begin(void *ctx)
{
    struct store_conn *c;
    int ret = store_conn_get(ctx, &c);

    return ret ? ret : store_begin(c);
}

static int commit(void *ctx)
{
    struct store_conn *c;
    int ret = store_conn_get(ctx, &c);

    return ret ? ret : store_commit(c);
}

static int rollback(void *ctx)
{
    struct store_conn *c;
    int ret = store_conn_get(ctx, &c);

    return ret ? ret : store_rollback(c);
}

static const struct users_repo repo = {
    .insert = insert,
    .get_by_id = get_by_id,
    .get_by_email = get_by_email,
    .list = list,
    .count_role = count_role,
    .set_role = set_role,
    .begin = begin,
    .commit = commit,
    .rollback = rollback,
};

const struct users_repo *users_store_repo(void)
{
    return &repo;
}
