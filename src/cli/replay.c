/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `proctorwise replay`: stream recorded webcam frames into a proctoring
 * session the way the exam page does, over the public HTTP API (log in,
 * start a session, POST each frame at a fixed rate, end the session), then
 * print the anomalies the server raised.  Input is a folder of JPEG files,
 * sent in name order, or a video file that vision/video.c reads: MJPEG
 * (concatenated JPEG images) or Y4M (raw frames, encoded to JPEG here).
 */
#include "core/base.h"
#include "cli/commands.h"

#include "core/err.h"
#include "core/file.h"
#include "core/utc.h"
#include "vision/video.h"

#include <curl/curl.h>
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Frames a replay sends at most; a longer recording is cut. */
#define REPLAY_MAX_FRAMES 100000

/* Largest input file read: JPEG, MJPEG or Y4M. */
#define REPLAY_MAX_FILE (1u << 30)

/* Largest response body kept. */
#define REPLAY_MAX_RESPONSE (4u << 20)

/* Frames per second sent when neither --fps nor a Y4M header sets it. */
#define REPLAY_DEFAULT_FPS 5.0

/* Highest --fps accepted; a faster Y4M frame rate is sent at this one. */
#define REPLAY_MAX_FPS 100.0

struct replay_opts {
    const char *url;      /* server base URL */
    const char *email;
    const char *exam_id;
    double fps;           /* 0 until --fps or the input sets it */
    bool keep;            /* leave the session active at the end */
    const char *input;
};

/* One frame of a folder: a JPEG file. */
struct frame {
    char *path;           /* owned */
};

struct response {
    long status;
    char *body;           /* owned, NUL-terminated */
    size_t len;
    long retry_after;     /* seconds, 0 when absent */
};

static void usage(FILE *out)
{
    fputs("usage: proctorwise replay --email EMAIL --exam EXAM_ID\n"
          "                          [--url URL] [--fps N] [--keep] INPUT\n"
          "\n"
          "Send the frames of INPUT to a new proctoring session over the\n"
          "HTTP API, then print the anomalies the server raised.  INPUT is a\n"
          "folder of .jpg/.jpeg files (sent in name order), an MJPEG file\n"
          "(JPEG images one after the other) or a YUV4MPEG2 file (.y4m,\n"
          "recognised by its \"YUV4MPEG2 \" magic; 4:2:0, 4:2:2, 4:4:4 or\n"
          "mono, each frame encoded to JPEG at quality 85).\n"
          "The password is read from stdin (one line).\n"
          "\n"
          "  --url URL     server base URL (default http://127.0.0.1:8000)\n"
          "  --email EMAIL student account that sits the exam\n"
          "  --exam ID     exam identifier of the session\n"
          "  --fps N       frames per second sent, up to 100 (default: the\n"
          "                Y4M header's frame rate, else 5)\n"
          "  --keep        leave the session active; by default it is ended\n"
          "                after the last frame, which closes open anomalies\n",
          out);
}

/* ---- HTTP -------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t len = size * n;

    if (r->len + len > REPLAY_MAX_RESPONSE)
        return 0;
    r->body = xrealloc(r->body, r->len + len + 1);
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t len = size * n;

    if (len > 12 && !strncasecmp(data, "Retry-After:", 12))
        r->retry_after = strtol(data + 12, NULL, 10);
    return len;
}

/*
 * Send method to base + path with body (len bytes of content_type, or
 * NULL) and token (NULL: none).  Returns 0 with *r filled (free r->body),
 * or ERR_IO after printing the transport error.
 */
static int http_call(CURL *curl, const char *method, const char *base,
                     const char *path, const char *token,
                     const char *content_type, const void *body, size_t len,
                     struct response *r)
{
    struct curl_slist *headers = NULL;
    char *url = xasprintf("%s%s", base, path);
    char *auth = NULL, *ct = NULL;
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    if (token) {
        auth = xasprintf("Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    if (body) {
        ct = xasprintf("Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    free(ct);
    free(auth);
    free(url);
    if (rc != CURLE_OK) {
        fprintf(stderr, "error: %s %s%s failed: %s\n", method, base, path,
                curl_easy_strerror(rc));
        free(r->body);
        r->body = NULL;
        return ERR_IO;
    }
    return 0;
}

/* POST json (borrowed) and parse the response into *out (new reference). */
static int post_json(CURL *curl, const struct replay_opts *o,
                     const char *path, const char *token, json_t *json,
                     long expect, json_t **out)
{
    char *text = json_dumps(json, JSON_COMPACT);
    struct response r;
    int ret;

    ret = http_call(curl, "POST", o->url, path, token, "application/json",
                    text, strlen(text), &r);
    free(text);
    if (ret)
        return ret;
    if (r.status != expect) {
        fprintf(stderr, "error: POST %s returned HTTP %ld: %s\n", path,
                r.status, r.body ? r.body : "");
        free(r.body);
        return ERR_INVALID;
    }
    *out = json_loads(r.body ? r.body : "", 0, NULL);
    free(r.body);
    return *out ? 0 : ERR_CORRUPT;
}

/* ---- input ------------------------------------------------------------- */

/* Read path whole, printing the reason when it fails. */
static int read_file(const char *path, uint8_t **data, size_t *len)
{
    int ret = file_read_all(path, REPLAY_MAX_FILE, data, len);

    if (ret == ERR_IO)
        fprintf(stderr, "error: cannot read \"%s\": %s\n", path,
                strerror(errno ? errno : EIO));
    else if (ret)
        fprintf(stderr, "error: cannot read \"%s\": %s\n", path,
                err_str(ret));
    return ret;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct frame *)a)->path,
                  ((const struct frame *)b)->path);
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t len = strlen(name), n = strlen(suffix);

    return len > n && !strcasecmp(name + len - n, suffix);
}

static bool has_jpeg_suffix(const char *name)
{
    return has_suffix(name, ".jpg") || has_suffix(name, ".jpeg");
}

static int list_folder(const char *dir, struct frame **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (!d) {
        fprintf(stderr, "error: cannot open \"%s\": %s\n", dir,
                strerror(errno));
        return ERR_IO;
    }
    while ((e = readdir(d)) && *n < REPLAY_MAX_FRAMES) {
        if (e->d_name[0] == '.' || !has_jpeg_suffix(e->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[*n] = (struct frame){xasprintf("%s/%s", dir, e->d_name)};
        (*n)++;
    }
    closedir(d);
    if (*n == 0) {
        fprintf(stderr, "error: no .jpg or .jpeg file in \"%s\"\n", dir);
        return ERR_NOT_FOUND;
    }
    qsort(*out, *n, sizeof(**out), by_path);
    return 0;
}

static void frames_free(struct frame *frames, size_t n)
{
    for (size_t i = 0; frames && i < n; i++)
        free(frames[i].path);
    free(frames);
}

/* ---- the replay -------------------------------------------------------- */

static void sleep_until(int64_t deadline_ms)
{
    int64_t left = deadline_ms - utc_monotonic_ms();
    struct timespec ts;

    if (left <= 0)
        return;
    ts.tv_sec = left / 1000;
    ts.tv_nsec = (long)(left % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/*
 * Send one frame, waiting out 429 and 503 responses, each counted in
 * *throttled.  0 or an ERR_*.
 */
static int send_frame(CURL *curl, const struct replay_opts *o,
                      const char *path, const char *token,
                      const uint8_t *jpeg, size_t len, long *status,
                      int64_t *throttled)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        struct response r;
        int ret;

        ret = http_call(curl, "POST", o->url, path, token, "image/jpeg",
                        jpeg, len, &r);
        if (ret)
            return ret;
        free(r.body);
        *status = r.status;
        if (r.status != 429 && r.status != 503)
            return 0;
        (*throttled)++;
        sleep_until(utc_monotonic_ms() + MAX(r.retry_after, 1) * 1000);
    }
    return ERR_BUSY;
}

static void print_anomalies(json_t *items)
{
    size_t i;
    json_t *a;

    printf("%zu anomal%s\n", json_array_size(items),
           json_array_size(items) == 1 ? "y" : "ies");
    if (json_array_size(items))
        printf("%-18s %-9s %-26s %-26s %5s %6s %s\n", "type", "severity",
               "started_at", "ended_at", "conf", "frames", "label");
    json_array_foreach(items, i, a) {
        const char *label = json_string_value(json_object_get(a, "label"));
        const char *ended =
            json_string_value(json_object_get(a, "ended_at"));

        printf("%-18s %-9s %-26s %-26s %5.2f %6" JSON_INTEGER_FORMAT " %s\n",
               json_string_value(json_object_get(a, "type")),
               json_string_value(json_object_get(a, "severity")),
               json_string_value(json_object_get(a, "started_at")),
               ended ? ended : "-",
               json_real_value(json_object_get(a, "confidence")),
               json_integer_value(json_object_get(a, "frame_count")),
               label ? label : "");
    }
}

/*
 * Get frame i of the input: a file of the folder frames, or a frame of
 * video when frames is NULL.  *owned is the buffer to free, or NULL.
 */
static int load_frame(const struct frame *frames, const struct video *video,
                      size_t i, const uint8_t **jpeg, size_t *len,
                      uint8_t **owned)
{
    int ret;

    if (frames) {
        ret = read_file(frames[i].path, owned, len);
        *jpeg = *owned;
        return ret;
    }
    ret = video_frame_jpeg(video, i, jpeg, len, owned);
    if (ret)
        fprintf(stderr, "error: cannot encode frame %zu to JPEG: %s\n",
                i + 1, err_str(ret));
    return ret;
}

static int run(CURL *curl, const struct replay_opts *o, const char *password,
               const struct frame *frames, size_t n,
               const struct video *video)
{
    json_t *login = NULL, *session = NULL, *req;
    const char *token, *sid;
    char *path = NULL;
    int64_t start, sent = 0, refused = 0, throttled = 0;
    struct response r;
    int ret;

    req = json_pack("{s:s, s:s}", "email", o->email, "password", password);
    ret = post_json(curl, o, "/users/login", NULL, req, 200, &login);
    json_decref(req);
    if (ret)
        goto out;
    token = json_string_value(json_object_get(login, "access_token"));
    if (!token) {
        fprintf(stderr, "error: the login response has no access_token\n");
        ret = ERR_CORRUPT;
        goto out;
    }

    req = json_pack("{s:s}", "exam_id", o->exam_id);
    ret = post_json(curl, o, "/monitoring/sessions", token, req, 201,
                    &session);
    json_decref(req);
    if (ret)
        goto out;
    sid = json_string_value(json_object_get(session, "id"));
    printf("session %s: sending %zu frames at %.1f frames/s\n", sid, n,
           o->fps);
    fflush(stdout);

    path = xasprintf("/monitoring/sessions/%s/frame", sid);
    start = utc_monotonic_ms();
    for (size_t i = 0; i < n; i++) {
        uint8_t *owned = NULL;
        const uint8_t *jpeg;
        size_t len;
        long status = 0;

        sleep_until(start + (int64_t)((double)i * 1000.0 / o->fps));
        ret = load_frame(frames, video, i, &jpeg, &len, &owned);
        if (ret)
            goto out;
        ret = send_frame(curl, o, path, token, jpeg, len, &status,
                         &throttled);
        free(owned);
        if (ret)
            goto out;
        if (status == 202) {
            sent++;
        } else {
            refused++;
            fprintf(stderr, "warning: frame %zu returned HTTP %ld\n", i + 1,
                    status);
        }
    }
    printf("%" PRId64 " frames accepted, %" PRId64 " refused\n", sent,
           refused);
    if (throttled)
        printf("the server asked to slow down %" PRId64 " time%s (429 or "
               "503); the frames were sent again after Retry-After, so "
               "the stream ran slower than %g frames/s\n",
               throttled, throttled == 1 ? "" : "s", o->fps);

    if (!o->keep) {
        json_t *ended = NULL;
        char *end_path = xasprintf("/monitoring/sessions/%s/end", sid);

        req = json_object();
        ret = post_json(curl, o, end_path, token, req, 200, &ended);
        json_decref(req);
        json_decref(ended);
        free(end_path);
        if (ret)
            goto out;
    }

    free(path);
    path = xasprintf("/monitoring/sessions/%s/anomalies", sid);
    ret = http_call(curl, "GET", o->url, path, token, NULL, NULL, 0, &r);
    if (ret)
        goto out;
    if (r.status == 200) {
        json_t *body = json_loads(r.body ? r.body : "", 0, NULL);

        print_anomalies(json_object_get(body, "items"));
        json_decref(body);
    } else {
        fprintf(stderr, "error: GET %s returned HTTP %ld\n", path, r.status);
        ret = ERR_INVALID;
    }
    free(r.body);

out:
    free(path);
    json_decref(session);
    json_decref(login);
    return ret;
}

static int parse_args(int argc, char **argv, struct replay_opts *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"email", required_argument, NULL, 'e'},
        {"exam", required_argument, NULL, 'x'},
        {"fps", required_argument, NULL, 'f'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;

        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 'e':
            o->email = optarg;
            break;
        case 'x':
            o->exam_id = optarg;
            break;
        case 'f':
            o->fps = strtod(optarg, &end);
            if (*end || !(o->fps > 0 && o->fps <= REPLAY_MAX_FPS)) {
                fprintf(stderr, "error: invalid --fps \"%s\": expected a "
                        "number of frames per second in (0, 100]\n", optarg);
                return -1;
            }
            break;
        case 'k':
            o->keep = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!o->email || !o->exam_id || optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    o->input = argv[optind];
    return 1;
}

/*
 * Read the video file o->input into *data (the caller frees it) and v,
 * print what was skipped, and take the Y4M frame rate as o->fps unless
 * --fps set it.  Returns 0 or an ERR_* after printing the error.
 */
static int open_video(struct replay_opts *o, uint8_t **data,
                      struct video *v)
{
    size_t len;
    int ret;

    /*
     * NEEDSWORK: the whole file is read into memory (at most
     * REPLAY_MAX_FILE), so a Y4M recording longer than about 2300 frames
     * of 640x480 is rejected.  Mapping the file with mmap() would lift
     * the cap at no cost, since frames are only read in place.
     */
    ret = read_file(o->input, data, &len);
    if (ret)
        return ret;
    if (has_suffix(o->input, ".y4m") && !video_is_y4m(*data, len)) {
        fprintf(stderr, "error: \"%s\" does not start with \"YUV4MPEG2 \", "
                "so it is not a Y4M file\n", o->input);
        return ERR_CORRUPT;
    }
    ret = video_open(v, *data, len, REPLAY_MAX_FRAMES);
    if (ret) {
        fprintf(stderr, "error: cannot read the frames of \"%s\": %s\n",
                o->input, v->error);
        return ret;
    }

    if (v->skipped)
        fprintf(stderr, "warning: skipped %zu damaged or truncated "
                "frame%s in \"%s\"\n", v->skipped,
                v->skipped == 1 ? "" : "s", o->input);
    if (v->cut)
        fprintf(stderr, "warning: \"%s\" has more than %d frames; only "
                "the first %d are sent\n", o->input, REPLAY_MAX_FRAMES,
                REPLAY_MAX_FRAMES);
    if (o->fps == 0 && v->fps_num) {
        o->fps = (double)v->fps_num / v->fps_den;
        if (o->fps > REPLAY_MAX_FPS) {
            fprintf(stderr, "warning: sending the %g frames/s of \"%s\" at "
                    "%g frames/s\n", o->fps, o->input, REPLAY_MAX_FPS);
            o->fps = REPLAY_MAX_FPS;
        }
    }
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    struct replay_opts o = {"http://127.0.0.1:8000", NULL, NULL, 0, false,
                            NULL};
    struct video video = VIDEO_INIT;
    struct frame *frames = NULL;
    uint8_t *data = NULL;
    char password[256];
    struct stat st;
    size_t n = 0;
    CURL *curl;
    int ret;

    ret = parse_args(argc, argv, &o);
    if (ret <= 0)
        return ret < 0 ? 2 : 0;

    if (!fgets(password, sizeof(password), stdin)) {
        fprintf(stderr, "error: expected the password on one line of "
                "stdin\n");
        return 2;
    }
    password[strcspn(password, "\r\n")] = '\0';

    if (stat(o.input, &st)) {
        fprintf(stderr, "error: cannot read \"%s\": %s\n", o.input,
                strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = list_folder(o.input, &frames, &n);
    } else {
        ret = open_video(&o, &data, &video);
        n = video.n_frames;
    }
    if (ret)
        goto out_free;
    if (o.fps == 0)
        o.fps = REPLAY_DEFAULT_FPS;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    if (!curl)
        BUG("out of memory creating a curl handle");
    ret = run(curl, &o, password, frames, n, &video);
    curl_easy_cleanup(curl);
    curl_global_cleanup();

out_free:
    memset(password, 0, sizeof(password));
    frames_free(frames, n);
    video_release(&video);
    free(data);
    return ret ? 1 : 0;
}
