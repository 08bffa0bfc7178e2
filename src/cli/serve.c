/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `proctorwise serve`: load the configuration, open and migrate the
 * database, build the token service and the HTTP server, register every
 * service's routes (or one service's with --service) and serve until
 * SIGINT or SIGTERM.
 */
#include "core/base.h"
#include "cli/commands.h"

#include "cli/common.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "http/auth.h"
#include "http/http.h"
#include "http/hub.h"
#include "http/ws.h"
#include "blob/blob.h"
#include "services/monitoring/api.h"
#include "services/monitoring/pipeline.h"
#include "services/users/api.h"
#include "store/store.h"

/* The objects serve builds once and frees on exit. */
struct serve_state {
    struct store *store;
    struct auth *auth;
    struct users_service *users;
    struct blob_store *blobs;
    struct mon_service *monitoring;
};

typedef int (*service_register_fn)(struct http_server *s,
                                   struct serve_state *st);

static int register_users(struct http_server *s, struct serve_state *st)
{
    st->users = users_service_new(st->store, st->auth);
    return users_api_register(s, st->users);
}

/*
 * Open the evidence blob store under the data directory, create the
 * monitoring service with its vision workers (the models are loaded and
 * checked here, so a missing model stops start-up with its name).
 */
static int register_monitoring(struct http_server *s, struct serve_state *st)
{
    struct log_ctx log = LOG_CTX_INIT("serve");
    struct mon_analyser analyser;
    char *dir = xasprintf("%s/blobs", config_str("PW_DATA_DIR"));
    char *model_dir = pipeline_model_dir();
    char err[512] = "";
    int ret;

    ret = blob_store_open(dir, &st->blobs);
    if (ret) {
        log_error(&log, "cannot open the blob store \"%s\": %s", dir,
                  err_str(ret));
        goto out_free;
    }
    pipeline_analyser(model_dir,
                      (int)config_int("PW_MONITOR_OBJECTS_EVERY"),
                      &analyser);
    ret = mon_service_new(st->store, st->blobs, &analyser, NULL,
                          &st->monitoring, err, sizeof(err));
    if (!ret)
        ret = mon_api_register(s, st->monitoring,
                               (size_t)config_int("PW_MONITOR_FRAME_MAX"));
    if (!ret)
        ret = mon_service_start(st->monitoring, err, sizeof(err));
    if (ret)
        log_error(&log, "cannot start the monitoring service: %s",
                  err[0] ? err : err_str(ret));

out_free:
    free(model_dir);
    free(dir);
    return ret;
}

/* The services and their own ports; NULL register: not in this build. */
static const struct {
    const char *name;
    const char *port;
    service_register_fn register_routes;
} services[] = {
    {"reservations", "8000", NULL},
    {"users", "8001", register_users},
    {"monitoring", "8003", register_monitoring},
    {"corrections", "8004", NULL},
    {"notifications", "8005", NULL},
    {"analytics", "8006", NULL},
};

static void usage(FILE *out)
{
    fputs("usage: proctorwise serve [--listen HOST:PORT] [--data-dir DIR]\n"
          "                         [--service NAME] [--env-file FILE]\n"
          "\n"
          "Serve the platform's HTTP API until SIGINT or SIGTERM.\n"
          "\n"
          "  --listen HOST:PORT  address to bind (PW_LISTEN; default\n"
          "                      127.0.0.1:8000, or the service's own port\n"
          "                      with --service); port 0 picks a free one\n"
          "  --data-dir DIR      database, blobs and secrets (PW_DATA_DIR)\n"
          "  --service NAME      serve only this service: users (8001),\n"
          "                      monitoring (8003)\n"
          "  --env-file FILE     read PW_* settings from FILE (default .env)\n",
          out);
}

static int find_service(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
        if (!strcmp(services[i].name, name))
            return (int)i;
    }
    return -1;
}

/* Register the routes of one service (index) or of all (-1). */
static int register_services(struct http_server *s, struct serve_state *st,
                             int only, const struct log_ctx *log)
{
    for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
        int ret;

        if ((only >= 0 && (int)i != only) || !services[i].register_routes)
            continue;
        ret = services[i].register_routes(s, st);
        if (ret) {
            log_error(log, "cannot register the routes of the %s service: "
                           "%s", services[i].name, err_str(ret));
            return ret;
        }
        log_debug(log, "registered the %s service", services[i].name);
    }
    return 0;
}

/* Build and run the server; returns the exit status. */
static int serve(struct serve_state *st, int only, const char *listen,
                 const struct log_ctx *log)
{
    struct http_options opts = {
        .threads = (int)config_int("PW_HTTP_THREADS"),
        .max_connections = (int)config_int("PW_HTTP_MAX_CONNECTIONS"),
        .timeout_s = (int)config_int("PW_HTTP_TIMEOUT"),
        .max_body = (size_t)config_int("PW_HTTP_MAX_BODY"),
        .shutdown_grace_s = (int)config_int("PW_SHUTDOWN_GRACE"),
        .cors_origins = config_str("PW_CORS_ORIGINS"),
        .auth = st->auth,
        .store = st->store,
    };
    struct http_server *s = http_server_new(&opts);
    char err[256], bound[300];
    const char *colon;
    int status = 1;

    if (!s)
        return 1;
    if (register_services(s, st, only, log))
        goto out_free_server;
    if (ws_register_routes(s))
        goto out_free_server;
    if (http_server_listen(s, listen, err, sizeof(err))) {
        fprintf(stderr, "error: %s\n", err);
        goto out_free_server;
    }

    /* Name the real port, which differs from listen for ":0". */
    colon = strrchr(listen, ':');
    snprintf(bound, sizeof(bound), "%.*s:%d", (int)(colon - listen), listen,
             http_server_port(s));
    log_info(log, "proctorwise %s serving %s on %s, data dir \"%s\"",
             PW_VERSION, only >= 0 ? services[only].name : "all services",
             bound, config_str("PW_DATA_DIR"));
    http_server_run(s);
    /* Finish the frames in analysis while the store is still open. */
    if (st->monitoring)
        mon_service_stop(st->monitoring);
    log_info(log, "proctorwise stopped");
    status = 0;

out_free_server:
    hub_clear();
    http_server_free(s);
    return status;
}

int cmd_serve(int argc, char **argv)
{
    struct cli_common common = {0};
    struct serve_state st = {0};
    struct log_ctx log = LOG_CTX_INIT("serve");
    const char *service = NULL;
    char err[256];
    int only = -1;
    int status = 1;

    for (int i = 1; i < argc;) {
        int r = cli_common_arg(&common, argc, argv, &i);

        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--service") && i + 1 < argc) {
            service = argv[i + 1];
            i += 2;
            continue;
        }
        if (!strncmp(argv[i], "--service=", 10)) {
            service = argv[i] + 10;
            i++;
            continue;
        }
        fprintf(stderr, "error: unknown argument \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }

    if (service) {
        only = find_service(service);
        if (only < 0) {
            fprintf(stderr, "error: unknown service \"%s\"\n", service);
            usage(stderr);
            return 2;
        }
        if (!services[only].register_routes) {
            fprintf(stderr, "error: the %s service is not part of this "
                            "build yet\n", service);
            return 1;
        }
    }

    if (cli_setup(&common) || cli_open_store(&st.store))
        return 1;
    if (auth_from_config(config_str("PW_DATA_DIR"), &st.auth, err,
                         sizeof(err))) {
        fprintf(stderr, "error: %s\n", err);
        goto out_free_store;
    }

    if (only >= 0 && !common.listen) {
        char *listen = xasprintf("127.0.0.1:%s", services[only].port);

        status = serve(&st, only, listen, &log);
        free(listen);
    } else {
        status = serve(&st, only, config_str("PW_LISTEN"), &log);
    }

    mon_service_free(st.monitoring);
    blob_store_free(st.blobs);
    users_service_free(st.users);
    auth_free(st.auth);
out_free_store:
    store_free(st.store);
    return status;
}
