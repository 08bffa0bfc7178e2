/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of settings and their loading.  Adding a setting is one row in
 * vars[]; the getters find it by name.  Values are kept as validated
 * strings and converted on each get, which is cheap next to what the
 * callers do and keeps one representation for printing.
 */
#include "core/base.h"
#include "core/config.h"

#include "core/err.h"

#include <math.h>

enum config_type {
    TYPE_STRING,
    TYPE_INT,
    TYPE_BOOL,
    TYPE_DOUBLE,
};

enum config_flags {
    SECRET = 1 << 0, /* masked by config_print() */
};

struct config_var {
    const char *name;
    enum config_type type;
    const char *def;
    double min, max; /* bounds for numbers */
    unsigned flags;
    const char *help;
};

static const struct config_var vars[] = {
    /* process */
    {"PW_LISTEN", TYPE_STRING, "127.0.0.1:8000", 0, 0, 0,
     "address the shared listener binds, HOST:PORT"},
    {"PW_DATA_DIR", TYPE_STRING, "data", 0, 0, 0,
     "directory for the database, blobs, models and the signing secret"},
    {"PW_DATABASE_URL", TYPE_STRING, "", 0, 0, SECRET,
     "database, e.g. sqlite:/path/db.sqlite; empty: "
     "sqlite:<data dir>/proctorwise.db"},
    {"PW_LOG_LEVEL", TYPE_STRING, "info", 0, 0, 0,
     "error, warn, info or debug"},
    {"PW_LOG_FORMAT", TYPE_STRING, "text", 0, 0, 0,
     "text for people, json for one JSON object per line"},
    {"PW_LOG_TRACE", TYPE_STRING, "", 0, 0, 0,
     "components whose debug lines are shown, e.g. http,ws"},

    /* http */
    {"PW_HTTP_THREADS", TYPE_INT, "0", 0, 256, 0,
     "worker threads of the HTTP server; 0: four per core, at least 8"},
    {"PW_HTTP_MAX_CONNECTIONS", TYPE_INT, "1024", 1, 100000, 0,
     "connections served at once; more are refused"},
    {"PW_HTTP_TIMEOUT", TYPE_INT, "30", 1, 3600, 0,
     "seconds an idle connection stays open"},
    {"PW_HTTP_MAX_BODY", TYPE_INT, "1048576", 1024, 1073741824, 0,
     "default cap on a request body, in bytes (routes may set their own)"},
    {"PW_CORS_ORIGINS", TYPE_STRING, "", 0, 0, 0,
     "comma-separated origins allowed by CORS, or * for any; empty: none"},
    {"PW_SHUTDOWN_GRACE", TYPE_INT, "10", 0, 600, 0,
     "seconds requests in flight get to finish on SIGTERM"},

    /* authentication */
    {"PW_JWT_SECRET", TYPE_STRING, "", 0, 0, SECRET,
     "HS256 signing secret (32 bytes or more); empty: generated once and "
     "kept in <data dir>/jwt.secret"},
    {"PW_JWT_TTL", TYPE_INT, "3600", 10, 2592000, 0,
     "lifetime of an access token, in seconds"},
    {"PW_JWT_LEEWAY", TYPE_INT, "30", 0, 600, 0,
     "clock skew allowed when checking a token's exp, in seconds"},
    {"PW_LOGIN_MAX_ATTEMPTS", TYPE_INT, "5", 1, 1000, 0,
     "failed logins per account within the window before 429"},
    {"PW_LOGIN_MAX_ATTEMPTS_PER_IP", TYPE_INT, "20", 1, 100000, 0,
     "login attempts per client address within the window before 429"},
    {"PW_LOGIN_WINDOW", TYPE_INT, "900", 1, 86400, 0,
     "login rate-limit window, in seconds"},
    {"PW_PASSWORD_HASH_CONCURRENCY", TYPE_INT, "4", 1, 256, 0,
     "password hashes computed at once; each takes 64 MiB of memory"},

    /* websocket */
    {"PW_WS_PING_INTERVAL", TYPE_INT, "20", 1, 3600, 0,
     "seconds between pings on an idle WebSocket"},
    {"PW_WS_PONG_TIMEOUT", TYPE_INT, "10", 1, 3600, 0,
     "seconds a peer has to answer a ping before it is closed"},
    {"PW_WS_SEND_QUEUE", TYPE_INT, "1048576", 4096, 268435456, 0,
     "bytes queued for one slow WebSocket client before it is closed"},
    {"PW_WS_MAX_MESSAGE", TYPE_INT, "2097152", 1024, 67108864, 0,
     "largest WebSocket message accepted, in bytes"},
    {"PW_WS_RING", TYPE_INT, "1024", 1, 1000000, 0,
     "messages kept per topic for clients that resume with after=N"},
    {"PW_TEST_ROUTES", TYPE_BOOL, "0", 0, 0, 0,
     "serve the WebSocket test routes /ws/echo and /ws/topics/{topic}; "
     "for the black-box tests, never in production"},

    /* monitoring: anomaly rules */
    {"PW_MONITOR_FACE_ABSENT", TYPE_INT, "5", 1, 3600, 0,
     "seconds without a face before face_absent is raised"},
    {"PW_MONITOR_DARK_BRIGHTNESS", TYPE_DOUBLE, "40", 0, 255, 0,
     "mean luma (0..255) below which a frame is too dark to judge"},
    {"PW_MONITOR_DARK_CONTRAST", TYPE_DOUBLE, "12", 0, 256, 0,
     "luma standard deviation below which a dark frame has nothing to "
     "see; 256: brightness alone decides"},
    {"PW_MONITOR_DARK_DURATION", TYPE_INT, "5", 1, 3600, 0,
     "seconds of dark frames before poor_lighting is raised"},
    {"PW_MONITOR_MULTI_FACE_FRAMES", TYPE_INT, "3", 1, 1000, 0,
     "consecutive analysed frames with two faces or more for "
     "multiple_faces"},
    {"PW_MONITOR_MIN_FACE_AREA", TYPE_DOUBLE, "0.05", 0, 1, 0,
     "a face smaller than this fraction of the largest face's area is "
     "not counted as a second person"},
    {"PW_MONITOR_OBJECT_THRESHOLD", TYPE_DOUBLE, "0.25", 0, 1, 0,
     "object detector score at which a forbidden object counts as seen"},
    {"PW_MONITOR_OBJECT_PASSES", TYPE_INT, "2", 1, 1000, 0,
     "consecutive object passes seeing an object for forbidden_object"},
    {"PW_MONITOR_OBJECT_CLEAR_PASSES", TYPE_INT, "3", 1, 1000, 0,
     "consecutive object passes without the object that end the anomaly"},
    {"PW_MONITOR_FORBIDDEN_OBJECTS", TYPE_STRING, "cell phone,book,laptop",
     0, 0, 0, "comma-separated object detector labels that are forbidden"},
    {"PW_MONITOR_CLEAR_FRAMES", TYPE_INT, "2", 1, 1000, 0,
     "consecutive clean frames that end a face or lighting anomaly"},
    {"PW_MONITOR_TAB_CAP", TYPE_INT, "300", 1, 86400, 0,
     "seconds after which a tab_change or fullscreen_exit left open ends"},
    {"PW_MONITOR_CLIPBOARD_MERGE", TYPE_INT, "10", 1, 3600, 0,
     "seconds within which copy and paste events form one anomaly"},
    {"PW_MONITOR_SILENCE", TYPE_INT, "20", 1, 3600, 0,
     "seconds without a frame before webcam_disabled is raised"},
    {"PW_MONITOR_UPDATE_INTERVAL", TYPE_INT, "5", 0, 3600, 0,
     "least seconds between two progress updates of an open anomaly"},

    /* monitoring: frame queue */
    {"PW_MONITOR_QUEUE_SESSIONS", TYPE_INT, "4096", 1, 1000000, 0,
     "sessions the frame queue tracks at once; more are answered 503"},
    {"PW_MONITOR_QUEUE_WAITING", TYPE_INT, "1024", 1, 1000000, 0,
     "sessions with a frame waiting for analysis; more are answered 503"},
    {"PW_MONITOR_QUEUE_BYTES", TYPE_INT, "67108864", 65536, 17179869184.0,
     0, "JPEG bytes waiting for analysis in total; more are answered 503"},
    {"PW_MONITOR_FRAME_MAX", TYPE_INT, "2097152", 1024, 67108864, 0,
     "largest JPEG frame accepted, in bytes"},
    {"PW_MONITOR_FRAME_RATE", TYPE_DOUBLE, "10", 0.1, 1000, 0,
     "frames per second accepted per session over time; more are "
     "answered 429"},
    {"PW_MONITOR_FRAME_BURST", TYPE_INT, "20", 1, 10000, 0,
     "frames a session may send at once above the rate"},

    /* monitoring: service */
    {"PW_MONITOR_WORKERS", TYPE_INT, "0", 0, 256, 0,
     "vision worker threads, each with its own detector; 0: one per core"},
    {"PW_MONITOR_FRAME_WAIT", TYPE_INT, "300", 0, 10000, 0,
     "milliseconds a posted frame waits for its analysis before the "
     "answer says queued"},
    {"PW_MONITOR_OBJECTS_EVERY", TYPE_INT, "5", 0, 1000, 0,
     "run the object detector on every Nth analysed frame of a session "
     "(and whenever the face count changes); 0: only on changes"},
    {"PW_MONITOR_EVIDENCE_RETENTION", TYPE_INT, "30", 1, 36500, 0,
     "days an evidence snapshot is kept before purge-evidence deletes it"},
    {"PW_MODEL_DIR", TYPE_STRING, "", 0, 0, 0,
     "directory of the vision model files; empty: <data dir>/models"},

    /* monitoring: suspicion score */
    {"PW_MONITOR_SCORE_WEIGHTS", TYPE_STRING,
     "face_absent=20,multiple_faces=30,forbidden_object=25,tab_change=10,"
     "webcam_disabled=30,poor_lighting=3,fullscreen_exit=5,clipboard=5",
     0, 0, 0,
     "points each anomaly type can add to the 0..100 suspicion score, as "
     "type=points pairs"},
    {"PW_MONITOR_SCORE_UNIT", TYPE_INT, "60", 1, 86400, 0,
     "seconds of an anomaly that weigh as much as one more episode in the "
     "suspicion score"},
};

enum source {
    SOURCE_DEFAULT,
    SOURCE_FILE,
    SOURCE_ENV,
    SOURCE_FLAG,
};

static const char *const source_names[] = {"default", ".env", "environment",
                                           "flag"};

static char *values[ARRAY_SIZE(vars)];
static enum source sources[ARRAY_SIZE(vars)];

static int find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
        if (!strcmp(vars[i].name, name))
            return (int)i;
    }
    return ERR_NOT_FOUND;
}

static int find_or_bug(const char *name)
{
    int i = find(name);

    if (i < 0)
        BUG("configuration variable \"%s\" is not declared", name);
    return i;
}

/* Check value against var's type and bounds; message in err on failure. */
static int validate(const struct config_var *var, const char *value,
                    char *err, size_t err_size)
{
    char *end;
    double number;

    switch (var->type) {
    case TYPE_STRING:
        return 0;
    case TYPE_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false") ||
            !strcmp(value, "1") || !strcmp(value, "0"))
            return 0;
        snprintf(err, err_size, "invalid %s \"%s\": expected true or false",
                 var->name, value);
        return ERR_INVALID;
    case TYPE_INT:
        errno = 0;
        number = (double)strtoll(value, &end, 10);
        break;
    case TYPE_DOUBLE:
        errno = 0;
        number = strtod(value, &end);
        break;
    default:
        BUG("unknown configuration type %d", var->type);
    }

    if (errno || end == value || *end != '\0' || !isfinite(number)) {
        snprintf(err, err_size, "invalid %s \"%s\": expected a number",
                 var->name, value);
        return ERR_INVALID;
    }
    if (number < var->min || number > var->max) {
        if (var->type == TYPE_INT)
            snprintf(err, err_size,
                     "invalid %s %s: must be between %.0f and %.0f",
                     var->name, value, var->min, var->max);
        else
            snprintf(err, err_size, "invalid %s %s: must be between %g and %g",
                     var->name, value, var->min, var->max);
        return ERR_INVALID;
    }
    return 0;
}

static void store_value(int i, const char *value, enum source source)
{
    free(values[i]);
    values[i] = xstrdup(value);
    sources[i] = source;
}

void config_reset(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
        store_value((int)i, vars[i].def, SOURCE_DEFAULT);
}

/* Strip surrounding blanks in place and return the start. */
static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
                       end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static int load_file(const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int line_no = 0;
    int ret = 0;

    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_size, "cannot open \"%s\": %s", path,
                 strerror(errno));
        return ERR_IO;
    }

    while (fgets(line, sizeof(line), f)) {
        char *key, *value, *eq;
        size_t len;
        int i;

        line_no++;
        key = trim(line);
        if (*key == '\0' || *key == '#')
            continue;
        if (!strncmp(key, "export ", 7))
            key = trim(key + 7);

        eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, err_size, "%s:%d: expected KEY=VALUE", path,
                     line_no);
            ret = ERR_INVALID;
            goto out_close;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        len = strlen(value);
        if (len >= 2 && (value[0] == '"' || value[0] == '\'') &&
            value[len - 1] == value[0]) {
            value[len - 1] = '\0';
            value++;
        }

        i = find(key);
        if (i < 0) {
            snprintf(err, err_size, "%s:%d: unknown variable %s", path,
                     line_no, key);
            ret = ERR_INVALID;
            goto out_close;
        }
        if (getenv(key))
            continue;
        ret = validate(&vars[i], value, err, err_size);
        if (ret)
            goto out_close;
        store_value(i, value, SOURCE_FILE);
    }

out_close:
    fclose(f);
    return ret;
}

int config_load(const char *env_file, char *err, size_t err_size)
{
    int ret;

    config_reset();
    if (env_file) {
        ret = load_file(env_file, err, err_size);
        if (ret)
            return ret;
    }

    for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
        const char *value = getenv(vars[i].name);

        if (!value)
            continue;
        ret = validate(&vars[i], value, err, err_size);
        if (ret)
            return ret;
        store_value((int)i, value, SOURCE_ENV);
    }
    return 0;
}

int config_set(const char *name, const char *value, char *err,
               size_t err_size)
{
    int i = find(name);
    int ret;

    if (i < 0) {
        snprintf(err, err_size, "unknown variable %s", name);
        return ERR_NOT_FOUND;
    }
    ret = validate(&vars[i], value, err, err_size);
    if (ret)
        return ret;
    store_value(i, value, SOURCE_FLAG);
    return 0;
}

const char *config_str(const char *name)
{
    int i = find_or_bug(name);

    if (!values[i])
        store_value(i, vars[i].def, SOURCE_DEFAULT);
    return values[i];
}

int64_t config_int(const char *name)
{
    return strtoll(config_str(name), NULL, 10);
}

double config_double(const char *name)
{
    return strtod(config_str(name), NULL);
}

bool config_bool(const char *name)
{
    const char *v = config_str(name);

    return !strcmp(v, "true") || !strcmp(v, "1");
}

void config_print(FILE *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
        const char *value = config_str(vars[i].name);

        if ((vars[i].flags & SECRET) && *value)
            value = "********";
        fprintf(out, "%s=%s  # %s\n", vars[i].name, value,
                source_names[sources[i]]);
    }
}

void config_print_help(FILE *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
        fprintf(out, "  %-30s %s (default: \"%s\")\n", vars[i].name,
                vars[i].help, vars[i].def);
}
