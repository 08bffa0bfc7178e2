/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `proctorwise analyze`: runs the vision engine on JPEG files and prints
 * what it found, as text for people or one JSON object per image for
 * scripts.  A bad image is reported and skipped; the exit status is 1 when
 * any image failed, so a batch run still covers every file.
 */
#include "core/base.h"
#include "cli/commands.h"

#include <getopt.h>
#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "core/file.h"
#include "vision/detector.h"

/* Largest JPEG file analyze reads; the decoder's pixel limit comes later. */
#define ANALYZE_MAX_FILE_BYTES ((size_t)64 << 20)

struct analyze_opts {
    bool json;
    bool all_classes;
    enum nn_backend backend;
    int threads;
    const char *model_dir; /* NULL: <data dir>/models */
    const char *data_dir;  /* NULL: PW_DATA_DIR */
};

static void usage(FILE *out)
{
    fputs("usage: proctorwise analyze [--json] [--backend reference|xnnpack]\n"
          "                           [--threads N] [--all]\n"
          "                           [--model-dir DIR] [--data-dir DIR] "
          "IMAGE...\n"
          "\n"
          "Detect faces, forbidden objects (laptop, cell phone, book) and\n"
          "brightness in JPEG images.  Boxes are x1,y1,x2,y2 in the image's\n"
          "own pixels.\n"
          "\n"
          "  --json            print one JSON object per image, one per line\n"
          "  --backend NAME    inference back end: xnnpack (default) or\n"
          "                    reference (plain C, slow)\n"
          "  --threads N       worker threads of the back end (default 1)\n"
          "  --all             report every COCO object class, not only\n"
          "                    the forbidden ones\n"
          "  --model-dir DIR   model files (default: DATA_DIR/models)\n"
          "  --data-dir DIR    data directory (default: PW_DATA_DIR, "
          "\"data\")\n",
          out);
}

static json_t *box_json(const float *box)
{
    return json_pack("[ffff]", (double)box[0], (double)box[1],
                     (double)box[2], (double)box[3]);
}

static void print_json(const char *path, const struct detection *det)
{
    json_t *faces = json_array(), *objects = json_array(), *root;
    char *text;

    for (int i = 0; i < det->n_faces; i++)
        json_array_append_new(faces,
                              json_pack("{s:f, s:o}", "score",
                                        (double)det->faces[i].score, "box",
                                        box_json(det->faces[i].box)));
    for (int i = 0; i < det->n_objects; i++)
        json_array_append_new(
            objects, json_pack("{s:s, s:f, s:o}", "label",
                               det->objects[i].label, "score",
                               (double)det->objects[i].score, "box",
                               box_json(det->objects[i].box)));

    root = json_pack("{s:s, s:i, s:i, s:o, s:o, s:f, s:f, s:b, s:{s:f, s:f, "
                     "s:f, s:f}}",
                     "image", path, "width", det->width, "height",
                     det->height, "faces", faces, "objects", objects,
                     "brightness", (double)det->brightness.mean_luma,
                     "contrast", (double)det->brightness.contrast,
                     "too_dark", det->too_dark, "timing_ms", "decode",
                     det->ms_decode, "faces", det->ms_faces, "objects",
                     det->ms_objects, "total", det->ms_total);
    text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(text);
    free(text);
    json_decref(root);
}

static void print_text(const char *path, const struct detection *det)
{
    printf("%s: %dx%d, %d face%s, %d object%s, brightness %.0f "
           "(contrast %.0f)%s\n",
           path, det->width, det->height, det->n_faces,
           det->n_faces == 1 ? "" : "s", det->n_objects,
           det->n_objects == 1 ? "" : "s",
           (double)det->brightness.mean_luma,
           (double)det->brightness.contrast,
           det->too_dark ? ", too dark" : "");
    for (int i = 0; i < det->n_faces; i++) {
        const struct face *f = &det->faces[i];

        printf("  face        %.2f  [%.0f, %.0f, %.0f, %.0f]\n",
               (double)f->score, (double)f->box[0], (double)f->box[1],
               (double)f->box[2], (double)f->box[3]);
    }
    for (int i = 0; i < det->n_objects; i++) {
        const struct object *o = &det->objects[i];

        printf("  %-11s %.2f  [%.0f, %.0f, %.0f, %.0f]\n", o->label,
               (double)o->score, (double)o->box[0], (double)o->box[1],
               (double)o->box[2], (double)o->box[3]);
    }
    printf("  time: decode %.1f ms, faces %.1f ms, objects %.1f ms, "
           "total %.1f ms\n",
           det->ms_decode, det->ms_faces, det->ms_objects, det->ms_total);
}

static void report_error(const struct analyze_opts *o, const char *path,
                         const char *what, int rc)
{
    fprintf(stderr, "error: %s '%s': %s\n", what, path,
            err_str(rc));
    if (o->json) {
        json_t *root = json_pack("{s:s, s:s, s:s}", "image", path, "error",
                                 err_code(rc), "message", what);
        char *text = json_dumps(root, JSON_COMPACT);

        puts(text);
        free(text);
        json_decref(root);
    }
}

/* Analyzes one image; returns 0 or the failure status (already reported). */
static int analyze_one(struct detector *d, const struct analyze_opts *o,
                       const char *path)
{
    struct detection *det;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, ANALYZE_MAX_FILE_BYTES, &data, &len);

    if (rc) {
        report_error(o, path, "failed to read image", rc);
        return rc;
    }

    det = xmalloc(sizeof(*det));
    rc = detector_process_jpeg(d, data, len, NULL, DETECTOR_OBJECTS_NOW, det);
    if (rc) {
        report_error(o, path,
                     rc == ERR_CORRUPT ? "invalid or corrupt JPEG"
                                       : "failed to analyze image",
                     rc);
        goto out_free;
    }
    if (o->json)
        print_json(path, det);
    else
        print_text(path, det);

out_free:
    free(det);
    free(data);
    return rc;
}

/* Parses the options into o; returns the index of the first image or -1. */
static int parse_args(int argc, char **argv, struct analyze_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"backend", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"model-dir", required_argument, NULL, 'm'},
        {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        long v;

        switch (c) {
        case 'j':
            o->json = true;
            break;
        case 'a':
            o->all_classes = true;
            break;
        case 'b':
            if (strcmp(optarg, "reference") == 0) {
                o->backend = NN_BACKEND_REFERENCE;
            } else if (strcmp(optarg, "xnnpack") == 0) {
                o->backend = NN_BACKEND_XNNPACK;
            } else {
                fprintf(stderr, "error: invalid back end "
                                "'%s': use reference or xnnpack\n",
                        optarg);
                return -1;
            }
            break;
        case 't':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 64) {
                fprintf(stderr, "error: invalid thread count "
                                "'%s': use 1 to 64\n",
                        optarg);
                return -1;
            }
            o->threads = (int)v;
            break;
        case 'm':
            o->model_dir = optarg;
            break;
        case 'd':
            o->data_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind >= argc) {
        fputs("error: missing IMAGE argument\n", stderr);
        usage(stderr);
        return -1;
    }
    return optind;
}

int cmd_analyze(int argc, char **argv)
{
    struct analyze_opts o = {false, false, NN_BACKEND_XNNPACK, 1, NULL, NULL};
    struct detector_config cfg = DETECTOR_CONFIG_DEFAULT;
    struct detector *d = NULL;
    char *model_dir = NULL;
    char err[512];
    int first, rc, failed = 0;

    first = parse_args(argc, argv, &o);
    if (first < 0)
        return 2;

    if (o.model_dir)
        model_dir = xstrdup(o.model_dir);
    else
        model_dir = xasprintf("%s/models", o.data_dir
                                               ? o.data_dir
                                               : config_str("PW_DATA_DIR"));

    cfg.objects.all_classes = o.all_classes;
    rc = detector_new(model_dir, o.backend, o.threads, &cfg, &d, err,
                      sizeof(err));
    if (rc) {
        fprintf(stderr, "error: %s\n", err);
        free(model_dir);
        return 1;
    }

    for (int i = first; i < argc; i++)
        if (analyze_one(d, &o, argv[i]))
            failed++;

    detector_free(d);
    free(model_dir);
    return failed ? 1 : 0;
}
