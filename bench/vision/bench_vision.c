/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Vision benchmark: JPEG decode time of a 640x480 frame, then the face and
 * object models per frame on one core with the reference and XNNPACK back
 * ends.  Each model's GFLOP/s is printed next to the single-core SGEMM rate
 * that XNNPACK's fully-connected operator reaches in the same run.  It
 * prints figures only and is never part of the tests.
 */
#include "core/base.h"

#include <math.h>
#include <time.h>

#include <turbojpeg.h>
#include <xnnpack.h>

#include "core/err.h"
#include "vision/image.h"
#include "vision/nn.h"
#include "vision/tfjs.h"
#include "vision/tflite.h"

#define FRAME_WIDTH  640
#define FRAME_HEIGHT 480
#define GEMM_SIZE    512
#define MAX_RUNS     1000

/* CenterNet's two heads, cut before the model's own post-processing. */
static const char *const centernet_outputs[] = {
    "tower_0/keypoints", /* class heatmap after the sigmoid, [1,128,128,80] */
    "tower_0/wh",        /* box sizes, [1,128,128,4] */
};

struct options {
    const char *jpeg_path;  /* NULL: encode a synthetic frame */
    const char *model_dir;  /* --models, else PW_MODEL_DIR */
    int runs;               /* timed runs of the fast paths */
    int ref_runs;           /* timed runs of the reference back end */
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Return the median of times[0..n), sorting it in place. */
static double median(double *times, int n)
{
    qsort(times, (size_t)n, sizeof(*times), compare_double);
    return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size;
    int ret = ERR_IO;

    *data = NULL;
    if (!f)
        return ERR_NOT_FOUND;
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET))
        goto out_close;
    *data = xmalloc((size_t)size);
    if (fread(*data, 1, (size_t)size, f) != (size_t)size) {
        free(*data);
        *data = NULL;
        goto out_close;
    }
    *len = (size_t)size;
    ret = 0;

out_close:
    fclose(f);
    return ret;
}

/*
 * Encode a 640x480 frame of smooth gradients and noise at quality 85, so
 * the benchmark runs without a photo; returns 0 or ERR_INTERNAL.
 */
static int synthetic_jpeg(uint8_t **data, size_t *len)
{
    uint8_t *rgb = xmalloc(FRAME_WIDTH * FRAME_HEIGHT * 3);
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jpeg_len = 0;
    uint32_t seed = 1;
    int ret = ERR_INTERNAL;

    if (!tj)
        goto out_free_rgb;
    for (int y = 0; y < FRAME_HEIGHT; y++) {
        for (int x = 0; x < FRAME_WIDTH * 3; x++) {
            seed = seed * 1664525u + 1013904223u;
            rgb[y * FRAME_WIDTH * 3 + x] =
                (uint8_t)((x / 3 + y + (int)(seed >> 28)) & 0xff);
        }
    }
    if (tjCompress2(tj, rgb, FRAME_WIDTH, 0, FRAME_HEIGHT, TJPF_RGB, &jpeg,
                    &jpeg_len, TJSAMP_420, 85, 0))
        goto out_destroy;
    *data = xmalloc(jpeg_len);
    memcpy(*data, jpeg, jpeg_len);
    *len = jpeg_len;
    ret = 0;

out_destroy:
    tjFree(jpeg);
    tjDestroy(tj);
out_free_rgb:
    free(rgb);
    return ret;
}

static int bench_decode(const struct options *opt)
{
    struct image_decode_opts dec = {0, 0, 0, 0};
    double times[MAX_RUNS];
    uint8_t *jpeg = NULL;
    size_t len = 0;
    int ret;

    if (opt->jpeg_path)
        ret = read_file(opt->jpeg_path, &jpeg, &len);
    else
        ret = synthetic_jpeg(&jpeg, &len);
    if (ret) {
        fprintf(stderr, "bench_vision: reading JPEG \"%s\" failed: %s\n",
                opt->jpeg_path ? opt->jpeg_path : "(synthetic)",
                err_str(ret));
        return ret;
    }

    /* Ask for the JPEG's own size, so the decoder does not scale down. */
    ret = image_jpeg_size(jpeg, len, &dec.min_width, &dec.min_height);
    if (ret) {
        fprintf(stderr, "bench_vision: reading the JPEG header failed: %s\n",
                err_str(ret));
        free(jpeg);
        return ret;
    }

    for (int i = 0; i < opt->runs; i++) {
        struct image img = IMAGE_INIT;
        double start = now_ms();

        ret = image_decode_jpeg(jpeg, len, &dec, &img);
        times[i] = now_ms() - start;
        if (ret) {
            fprintf(stderr, "bench_vision: decoding the JPEG failed: %s\n",
                    err_str(ret));
            break;
        }
        if (i == 0)
            printf("decode   %s, %dx%d, %zu bytes\n",
                   opt->jpeg_path ? opt->jpeg_path : "synthetic frame",
                   img.width, img.height, len);
        image_release(&img);
    }
    if (!ret)
        printf("decode   %8.3f ms per frame (median of %d)\n",
               median(times, opt->runs), opt->runs);
    free(jpeg);
    return ret;
}

/*
 * Measure one core's SGEMM rate with XNNPACK's fully-connected operator:
 * [n x n] input times [n x n] weights, best of a few runs.  Returns GFLOP/s
 * or a negative ERR_*.
 */
static double bench_sgemm(int runs)
{
    const size_t n = GEMM_SIZE;
    float *a = xcalloc(n * n + XNN_EXTRA_BYTES / sizeof(float), sizeof(float));
    float *w = xmalloc(n * n * sizeof(float));
    float *c = xmalloc(n * n * sizeof(float));
    xnn_operator_t op = NULL;
    double best = INFINITY;
    double ret = ERR_INTERNAL;

    for (size_t i = 0; i < n * n; i++) {
        a[i] = (float)(i % 17) * 0.01f;
        w[i] = (float)(i % 13) * 0.01f;
    }
    if (xnn_initialize(NULL) != xnn_status_success)
        goto out_free;
    if (xnn_create_fully_connected_nc_f32(n, n, n, n, w, NULL, -INFINITY,
                                          INFINITY, 0, &op) !=
        xnn_status_success)
        goto out_free;
    if (xnn_setup_fully_connected_nc_f32(op, n, a, c, NULL) !=
        xnn_status_success)
        goto out_delete;

    for (int i = 0; i <= runs; i++) {
        double start = now_ms();

        if (xnn_run_operator(op, NULL) != xnn_status_success)
            goto out_delete;
        /* The first run warms caches and is not counted. */
        if (i > 0)
            best = MIN(best, now_ms() - start);
    }
    ret = 2.0 * (double)(n * n * n) / (best * 1e6);
    printf("sgemm    %zux%zu by %zux%zu, XNNPACK fully connected, 1 core: "
           "%.3f ms, %.1f GFLOP/s\n", n, n, n, n, best, ret);

out_delete:
    xnn_delete_operator(op);
out_free:
    free(a);
    free(w);
    free(c);
    return ret;
}

/* Time one back end on g; returns the median ms per frame or ERR_*. */
static double time_backend(const struct nn_graph *g, enum nn_backend backend,
                           int runs, const float *input)
{
    double times[MAX_RUNS];
    struct nn_exec *e = NULL;
    int ret;

    ret = nn_exec_new(g, backend, 1, &e);
    if (ret)
        return ret;
    ret = nn_exec_run(e, input); /* warm-up: first-touch of buffers */
    for (int i = 0; !ret && i < runs; i++) {
        double start = now_ms();

        ret = nn_exec_run(e, input);
        times[i] = now_ms() - start;
    }
    nn_exec_free(e);
    return ret ? ret : median(times, runs);
}

static void bench_model(const char *label, const struct nn_graph *g,
                        const struct options *opt, double sgemm_gflops)
{
    const struct nn_tensor *in = &g->tensors[g->input];
    size_t count = nn_tensor_count(in);
    float *input = xmalloc(count * sizeof(float));
    double flops = 2.0 * nn_graph_macs(g);
    double ref_ms, xnn_ms;

    /* Pixel-like values in [-1, 1]; the run time does not depend on them. */
    for (size_t i = 0; i < count; i++)
        input[i] = (float)((i * 7919) % 255) / 127.5f - 1.0f;

    printf("%-8s input %dx%dx%d, %.3f GFLOP per frame\n", label, in->dims[1],
           in->dims[2], in->dims[3], flops / 1e9);
    ref_ms = time_backend(g, NN_BACKEND_REFERENCE, opt->ref_runs, input);
    xnn_ms = time_backend(g, NN_BACKEND_XNNPACK, opt->runs, input);
    if (ref_ms < 0 || xnn_ms < 0) {
        fprintf(stderr, "bench_vision: running %s failed: %s\n", label,
                err_str((int)MIN(ref_ms, xnn_ms)));
        free(input);
        return;
    }
    printf("%-8s reference %9.3f ms/frame %6.2f GFLOP/s (median of %d)\n",
           label, ref_ms, flops / (ref_ms * 1e6), opt->ref_runs);
    printf("%-8s xnnpack   %9.3f ms/frame %6.2f GFLOP/s (median of %d), "
           "%.0f%% of sgemm, %.1fx reference\n",
           label, xnn_ms, flops / (xnn_ms * 1e6), opt->runs,
           100.0 * flops / (xnn_ms * 1e6) / sgemm_gflops, ref_ms / xnn_ms);
    free(input);
}

static void bench_face(const struct options *opt, const char *file,
                       double sgemm_gflops)
{
    char *path = xasprintf("%s/%s", opt->model_dir, file);
    struct nn_graph g;
    int ret;

    nn_graph_init(&g);
    ret = tflite_load(path, &g);
    if (ret)
        fprintf(stderr, "bench_vision: loading \"%s\" failed: %s\n", path,
                err_str(ret));
    else
        bench_model(strstr(file, "short") ? "face-sr" : "face-fr", &g, opt,
                    sgemm_gflops);
    nn_graph_release(&g);
    free(path);
}

static void bench_object(const struct options *opt, double sgemm_gflops)
{
    char *path = xasprintf("%s/centernet.json", opt->model_dir);
    struct nn_graph g;
    int ret;

    nn_graph_init(&g);
    ret = tfjs_load(path, centernet_outputs,
                    (int)ARRAY_SIZE(centernet_outputs), &g);
    if (ret)
        fprintf(stderr, "bench_vision: loading \"%s\" failed: %s\n", path,
                err_str(ret));
    else
        bench_model("object", &g, opt, sgemm_gflops);
    nn_graph_release(&g);
    free(path);
}

static int parse_count(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 1 || v > MAX_RUNS)
        return ERR_INVALID;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    opt->jpeg_path = NULL;
    opt->model_dir = getenv("PW_MODEL_DIR");
    opt->runs = 20;
    opt->ref_runs = 3;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (!value) {
            fprintf(stderr, "bench_vision: option \"%s\" needs a value\n",
                    arg);
            return ERR_INVALID;
        }
        i++;
        if (!strcmp(arg, "--jpeg")) {
            opt->jpeg_path = value;
        } else if (!strcmp(arg, "--models")) {
            opt->model_dir = value;
        } else if (!strcmp(arg, "--runs") && !parse_count(value, &opt->runs)) {
            continue;
        } else if (!strcmp(arg, "--ref-runs") &&
                   !parse_count(value, &opt->ref_runs)) {
            continue;
        } else {
            fprintf(stderr, "bench_vision: invalid option \"%s %s\"\n", arg,
                    value);
            return ERR_INVALID;
        }
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_vision [--jpeg FILE] [--models DIR] [--runs N] "
            "[--ref-runs N]\n"
            "  --jpeg FILE    640x480 JPEG to decode (default: a synthetic "
            "frame)\n"
            "  --models DIR   model directory (default: $PW_MODEL_DIR)\n"
            "  --runs N       timed runs of decode and XNNPACK (default 20, "
            "max 1000)\n"
            "  --ref-runs N   timed runs of the reference back end "
            "(default 3)\n");
}

int main(int argc, char **argv)
{
    struct options opt;
    double sgemm_gflops;

    /* Keep stdout lines in order with the messages on stderr. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (parse_options(argc, argv, &opt)) {
        usage();
        return 2;
    }
    if (bench_decode(&opt))
        return 1;
    sgemm_gflops = bench_sgemm(opt.runs);
    if (sgemm_gflops < 0) {
        fprintf(stderr, "bench_vision: the XNNPACK SGEMM run failed\n");
        return 1;
    }
    if (!opt.model_dir) {
        fprintf(stderr, "bench_vision: no model directory: set PW_MODEL_DIR "
                        "or pass --models DIR\n");
        return 1;
    }
    bench_face(&opt, "face_detection_full_range.tflite", sgemm_gflops);
    bench_face(&opt, "face_detection_short_range.tflite", sgemm_gflops);
    bench_object(&opt, sgemm_gflops);
    return 0;
}
