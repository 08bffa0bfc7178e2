/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `proctorwise user add|list`: manage accounts from the operator's shell,
 * chiefly to create the first admin.  The password never comes from argv
 * (other users of the machine can read it in the process list): it is read
 * from stdin when stdin is not a terminal, or prompted twice with echo off.
 */
#include "core/base.h"
#include "cli/commands.h"

#include "cli/common.h"
#include "core/err.h"
#include "core/utc.h"
#include "services/users/service.h"
#include "services/users/store.h"
#include "store/store.h"

#include <sodium.h>
#include <termios.h>
#include <unistd.h>

/* Room for the longest accepted password, its newline and one byte more. */
#define PASSWORD_BUF (USER_PASSWORD_MAX_BYTES + 3)

static void usage(FILE *out)
{
    fputs("usage: proctorwise user add --email EMAIL --role ROLE\n"
          "                            [--full-name NAME] [--data-dir DIR]\n"
          "                            [--env-file FILE]\n"
          "       proctorwise user list [--data-dir DIR] [--env-file FILE]\n"
          "\n"
          "add   create an account with ROLE (student, proctor or admin).\n"
          "      The password is read from stdin when it is not a terminal\n"
          "      (one line), otherwise prompted twice without echo.  NAME\n"
          "      defaults to the part of EMAIL before the @.\n"
          "list  print every account: id, role, email, full name, created.\n"
          "\n"
          "The database is PW_DATABASE_URL, or <data dir>/proctorwise.db;\n"
          "pending migrations are applied first.\n",
          out);
}

/*
 * Read one line from f into buf (size bytes) without its line ending.
 * Returns 0, or -1 at end of input or for a line that does not fit.
 */
static int read_line(FILE *f, char *buf, size_t size)
{
    size_t len;

    if (!fgets(buf, (int)size, f))
        return -1;
    len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    else if (!feof(f))
        return -1;
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    return 0;
}

/*
 * Prompt on stderr and read a line from the terminal with echo off.
 * NEEDSWORK: a signal at the prompt (Ctrl-C) exits with echo still off,
 * because no handler restores the terminal; `stty echo` repairs it.
 */
static int prompt_hidden(const char *prompt, char *buf, size_t size)
{
    struct termios saved;
    struct termios quiet;
    int ret;

    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &saved) != 0)
        return -1;
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &quiet) != 0)
        return -1;
    ret = read_line(stdin, buf, size);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fputc('\n', stderr);
    return ret;
}

/* Read the new password into buf; 0, or 1 after printing the error. */
static int read_password(char *buf, size_t size)
{
    char again[PASSWORD_BUF];
    int ret = 1;

    if (!isatty(STDIN_FILENO)) {
        if (read_line(stdin, buf, size) == 0)
            return 0;
        fprintf(stderr, "error: expected the password on one line of "
                "stdin, at most %d bytes\n", USER_PASSWORD_MAX_BYTES);
        return 1;
    }

    if (prompt_hidden("Password: ", buf, size) ||
        prompt_hidden("Repeat password: ", again, sizeof(again))) {
        fprintf(stderr, "error: could not read the password from the "
                "terminal\n");
        goto out_wipe;
    }
    if (strcmp(buf, again) != 0) {
        fprintf(stderr, "error: the two passwords differ\n");
        goto out_wipe;
    }
    ret = 0;

out_wipe:
    sodium_memzero(again, sizeof(again));
    return ret;
}

struct add_args {
    const char *email;
    const char *role;
    const char *full_name;
};

static int add_user(struct store *st, const struct add_args *args)
{
    char password[PASSWORD_BUF];
    char default_name[USER_EMAIL_LOCAL_MAX + 1];
    struct users_new in = {.email = args->email,
                           .full_name = args->full_name};
    struct users_service *svc = NULL;
    struct jfield_error e = {0};
    struct user u;
    int ret;

    if (auth_role_parse(args->role, &in.role))
        BUG("role \"%s\" passed cmd_user's check", args->role);
    if (!in.full_name) {
        size_t local = strcspn(args->email, "@");

        snprintf(default_name, sizeof(default_name), "%.*s",
                 (int)MIN(local, USER_EMAIL_LOCAL_MAX), args->email);
        in.full_name = default_name;
    }

    if (read_password(password, sizeof(password)))
        return 1;
    in.password = password;

    svc = users_service_new(st, NULL);
    ret = users_create(svc, &in, &u, &e);
    sodium_memzero(password, sizeof(password));
    users_service_free(svc);

    switch (ret) {
    case 0:
        printf("added %s \"%s\" with id %s\n", auth_role_name(u.role),
               u.email, u.id);
        return 0;
    case ERR_INVALID:
        fprintf(stderr, "error: invalid %s: %s\n", e.field, e.reason);
        return 1;
    case ERR_EXISTS:
        fprintf(stderr, "error: an account with email \"%s\" already "
                "exists\n", args->email);
        return 1;
    default:
        fprintf(stderr, "error: adding the user failed: %s\n", err_str(ret));
        return 1;
    }
}

static int list_users(struct store *st)
{
    const struct users_repo *repo = users_store_repo();
    struct user *page = xcalloc(USERS_LIST_MAX, sizeof(*page));
    char after[ID_SIZE] = "";
    char created[UTC_ISO_SIZE];
    size_t n;
    int ret;

    printf("%-26s  %-7s  %-24s  %-32s  %s\n", "ID", "ROLE", "CREATED",
           "EMAIL", "FULL NAME");
    do {
        ret = repo->list(st, after[0] ? after : NULL, USERS_LIST_MAX, page,
                         &n);
        if (ret) {
            fprintf(stderr, "error: listing users failed: %s\n",
                    err_str(ret));
            goto out_free_page;
        }
        for (size_t i = 0; i < n; i++) {
            printf("%-26s  %-7s  %-24s  %-32s  %s\n", page[i].id,
                   auth_role_name(page[i].role),
                   utc_format(page[i].created_at_ms, created), page[i].email,
                   page[i].full_name);
        }
        if (n > 0)
            strlcpy_pw(after, page[n - 1].id, sizeof(after));
    } while (n == USERS_LIST_MAX);

out_free_page:
    free(page);
    return ret ? 1 : 0;
}

/*
 * If argv[*i] is option name ("--name VALUE" or "--name=VALUE"), store
 * its value, advance *i and return 1; 0 for another argument; -1 after
 * printing an error for a missing value.
 */
static int take_option(const char *name, int argc, char **argv, int *i,
                       const char **value)
{
    size_t len = strlen(name);

    if (strncmp(argv[*i], name, len) != 0)
        return 0;
    if (argv[*i][len] == '=') {
        *value = argv[*i] + len + 1;
        (*i)++;
        return 1;
    }
    if (argv[*i][len] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "error: %s needs a value\n", name);
        return -1;
    }
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

int cmd_user(int argc, char **argv)
{
    struct cli_common common = {0};
    struct add_args args = {0};
    const char *action;
    struct store *st = NULL;
    int ret;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    action = argv[1];
    if (strcmp(action, "add") != 0 && strcmp(action, "list") != 0) {
        fprintf(stderr, "error: unknown action \"%s\"\n", action);
        usage(stderr);
        return 2;
    }

    for (int i = 2; i < argc;) {
        int r = cli_common_arg(&common, argc, argv, &i);

        if (r == 0 && !strcmp(action, "add")) {
            r = take_option("--email", argc, argv, &i, &args.email);
            if (r == 0)
                r = take_option("--role", argc, argv, &i, &args.role);
            if (r == 0)
                r = take_option("--full-name", argc, argv, &i,
                                &args.full_name);
        }
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strncmp(argv[i], "--password", 10)) {
            fprintf(stderr, "error: the password is never taken from the "
                    "command line; pipe it to stdin or type it when "
                    "prompted\n");
            return 2;
        }
        fprintf(stderr, "error: unknown argument \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(action, "add") && (!args.email || !args.role)) {
        fprintf(stderr, "error: user add needs --email and --role\n");
        usage(stderr);
        return 2;
    }
    if (args.role && auth_role_parse(args.role, &(enum auth_role){0})) {
        fprintf(stderr, "error: invalid role \"%s\": expected student, "
                "proctor or admin\n", args.role);
        return 2;
    }

    if (cli_setup(&common) || cli_open_store(&st))
        return 1;
    if (!strcmp(action, "add"))
        ret = add_user(st, &args);
    else
        ret = list_users(st);
    store_free(st);
    return ret;
}
