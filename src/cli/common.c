/* SPDX-License-Identifier: Apache-2.0 */
/* Shared start-up steps of the subcommands; see common.h. */
#include "core/base.h"
#include "cli/common.h"

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "store/migrate.h"
#include "store/store.h"

#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *flag;
    size_t offset;
} flags[] = {
    {"--env-file", offsetof(struct cli_common, env_file)},
    {"--data-dir", offsetof(struct cli_common, data_dir)},
    {"--listen", offsetof(struct cli_common, listen)},
};

int cli_common_arg(struct cli_common *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];

    for (size_t f = 0; f < ARRAY_SIZE(flags); f++) {
        size_t len = strlen(flags[f].flag);
        const char **slot = (const char **)((char *)c + flags[f].offset);

        if (strncmp(arg, flags[f].flag, len) != 0)
            continue;
        if (arg[len] == '=') {
            *slot = arg + len + 1;
            (*i)++;
            return 1;
        }
        if (arg[len] != '\0')
            continue;
        if (*i + 1 >= argc) {
            fprintf(stderr, "error: %s needs a value\n", flags[f].flag);
            return -1;
        }
        *slot = argv[*i + 1];
        *i += 2;
        return 1;
    }
    return 0;
}

/* Create dir and its parents (mode 0700 for new ones); 0 or -1 (errno). */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t len = strlcpy_pw(path, dir, sizeof(path));

    if (len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) && errno != EEXIST)
        return -1;
    return 0;
}

int cli_setup(const struct cli_common *c)
{
    char err[512];
    enum log_level level;
    const char *env_file = c->env_file ? c->env_file : ".env";

    if (c->env_file && access(c->env_file, R_OK)) {
        fprintf(stderr, "error: cannot read env file \"%s\": %s\n",
                c->env_file, strerror(errno));
        return 1;
    }
    if (config_load(env_file, err, sizeof(err))) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    if ((c->data_dir &&
         config_set("PW_DATA_DIR", c->data_dir, err, sizeof(err))) ||
        (c->listen && config_set("PW_LISTEN", c->listen, err, sizeof(err)))) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }

    if (log_level_parse(config_str("PW_LOG_LEVEL"), &level)) {
        fprintf(stderr,
                "error: invalid PW_LOG_LEVEL \"%s\": expected error, warn, "
                "info or debug\n",
                config_str("PW_LOG_LEVEL"));
        return 1;
    }
    if (strcmp(config_str("PW_LOG_FORMAT"), "text") &&
        strcmp(config_str("PW_LOG_FORMAT"), "json")) {
        fprintf(stderr,
                "error: invalid PW_LOG_FORMAT \"%s\": expected text or "
                "json\n",
                config_str("PW_LOG_FORMAT"));
        return 1;
    }
    log_setup(level, strcmp(config_str("PW_LOG_FORMAT"), "json")
                         ? LOG_FORMAT_TEXT
                         : LOG_FORMAT_JSON);
    log_trace_setup(config_str("PW_LOG_TRACE"));

    if (make_dirs(config_str("PW_DATA_DIR"))) {
        fprintf(stderr, "error: cannot create data directory \"%s\": %s\n",
                config_str("PW_DATA_DIR"), strerror(errno));
        return 1;
    }
    return 0;
}

char *cli_database_url(void)
{
    const char *url = config_str("PW_DATABASE_URL");

    if (*url)
        return xstrdup(url);
    return xasprintf("sqlite:%s/proctorwise.db", config_str("PW_DATA_DIR"));
}

/* The file of a SQLite URL ("sqlite:PATH" or a bare path), else NULL. */
static const char *sqlite_path(const char *url)
{
    if (!strncmp(url, "sqlite:", 7))
        return url + 7;
    return strstr(url, "://") ? NULL : url;
}

int cli_open_store(struct store **out)
{
    char *url = cli_database_url();
    const char *path = sqlite_path(url);
    bool is_new = path && *path && access(path, F_OK) != 0;
    char err[512] = "";
    struct store_migrate_result res;
    struct store *s = NULL;
    int ret;

    ret = store_open(&s, url, NULL, err, sizeof(err));
    if (ret) {
        fprintf(stderr, "error: cannot open database: %s%s%s\n",
                err_str(ret), *err ? ": " : "", err);
        goto out_free_url;
    }

    ret = store_migrate(s, &res);
    if (ret) {
        fprintf(stderr, "error: migration %s failed: %s: %s\n",
                res.failed_name[0] ? res.failed_name : "check",
                err_str(ret), res.message);
        store_free(s);
        goto out_free_url;
    }
    /* Say so, as a mistyped --data-dir would otherwise go unnoticed. */
    if (is_new)
        fprintf(stderr, "created a new database at %s\n", path);
    if (res.applied)
        fprintf(stderr, "applied %d migration%s\n", res.applied,
                res.applied == 1 ? "" : "s");
    *out = s;

out_free_url:
    free(url);
    return ret ? 1 : 0;
}
