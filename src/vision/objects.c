/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CenterNet decoding.  The graph's keypoints output is a [1, 128, 128, 80]
 * heatmap already passed through a sigmoid: one channel per COCO class, one
 * cell per 4x4 input pixels.  An object is a cell that is the maximum of its
 * 3x3 neighbourhood in its class channel and reaches the threshold, which
 * is what CenterNet uses in place of box-level suppression.  The wh output
 * [1, 128, 128, 4] contains the distances from the cell to the box's left,
 * top, right and bottom edges in input pixels.
 */
#include "core/base.h"
#include "vision/objects.h"

#include "core/err.h"
#include "vision/models.h"
#include "vision/tfjs.h"

#define GRID   (OBJECTS_INPUT_SIZE / 4)
#define STRIDE 4

static const char *const coco_labels[OBJECTS_CLASS_COUNT] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
    "truck", "boat", "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag",
    "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon",
    "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
};

struct objects_detector {
    struct nn_graph graph;
    struct nn_exec *exec;
    int out_heatmap; /* output index of [1, 128, 128, 80] */
    int out_wh;      /* output index of [1, 128, 128, 4] */
    float *input;    /* OBJECTS_INPUT_SIZE^2 * 3 floats */
};

const char *objects_label(int class_id)
{
    if (class_id < 0 || class_id >= OBJECTS_CLASS_COUNT)
        return NULL;
    return coco_labels[class_id];
}

bool objects_is_forbidden(int class_id)
{
    return class_id == OBJECTS_CLASS_LAPTOP ||
           class_id == OBJECTS_CLASS_CELL_PHONE ||
           class_id == OBJECTS_CLASS_BOOK;
}

static int find_outputs(struct objects_detector *d)
{
    const struct nn_graph *g = &d->graph;

    d->out_heatmap = d->out_wh = -1;
    for (int i = 0; i < g->n_outputs; i++) {
        const struct nn_tensor *t = &g->tensors[g->outputs[i]];

        if (t->rank != 4 || t->dims[1] != GRID || t->dims[2] != GRID)
            continue;
        if (t->dims[3] == OBJECTS_CLASS_COUNT)
            d->out_heatmap = i;
        else if (t->dims[3] == 4)
            d->out_wh = i;
    }
    return d->out_heatmap >= 0 && d->out_wh >= 0 ? 0 : ERR_UNSUPPORTED;
}

int objects_detector_new(const char *model_dir, enum nn_backend backend,
                         int threads, struct objects_detector **out,
                         char *err, size_t err_size)
{
    /* The heatmap and box distances; the graph's own TopK is cut off. */
    static const char *const output_names[] = {"tower_0/keypoints",
                                               "tower_0/wh"};
    struct objects_detector *d = xcalloc(1, sizeof(*d));
    char *json = NULL, *bin = NULL;
    int rc;

    nn_graph_init(&d->graph);
    rc = models_locate(model_dir, MODELS_CENTERNET_JSON, &json, err,
                       err_size);
    if (rc)
        goto out_free;
    rc = models_locate(model_dir, MODELS_CENTERNET_BIN, &bin, err, err_size);
    if (rc)
        goto out_free;

    rc = tfjs_load(json, output_names, (int)ARRAY_SIZE(output_names),
                   &d->graph);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size, "failed to load object model '%s': %s",
                     json, err_str(rc));
        goto out_free;
    }
    rc = find_outputs(d);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size,
                     "object model '%s' lacks the 128x128x80 heatmap and "
                     "128x128x4 box outputs",
                     json);
        goto out_free;
    }
    rc = nn_exec_new(&d->graph, backend, threads, &d->exec);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size, "failed to prepare object model: %s",
                     err_str(rc));
        goto out_free;
    }

    d->input = xmalloc(sizeof(float) * OBJECTS_INPUT_SIZE *
                       OBJECTS_INPUT_SIZE * 3);
    free(bin);
    free(json);
    *out = d;
    return 0;

out_free:
    free(bin);
    free(json);
    objects_detector_free(d);
    *out = NULL;
    return rc;
}

void objects_detector_free(struct objects_detector *d)
{
    if (!d)
        return;
    nn_exec_free(d->exec);
    nn_graph_release(&d->graph);
    free(d->input);
    free(d);
}

/* True when heat[y][x] of class c is the maximum of its 3x3 neighbourhood. */
static bool is_peak(const float *heat, int x, int y, int c)
{
    float v = heat[((size_t)y * GRID + (size_t)x) * OBJECTS_CLASS_COUNT +
                   (size_t)c];

    for (int dy = -1; dy <= 1; dy++) {
        for (int dx = -1; dx <= 1; dx++) {
            int nx = x + dx, ny = y + dy;

            if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= GRID ||
                ny >= GRID)
                continue;
            if (heat[((size_t)ny * GRID + (size_t)nx) * OBJECTS_CLASS_COUNT +
                     (size_t)c] > v)
                return false;
        }
    }
    return true;
}

static int by_score_desc(const void *pa, const void *pb)
{
    const struct object *a = pa, *b = pb;

    return (a->score < b->score) - (a->score > b->score);
}

static float clampf(float v, float lo, float hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

static float iou(const float *a, const float *b)
{
    float ix = MIN(a[2], b[2]) - MAX(a[0], b[0]);
    float iy = MIN(a[3], b[3]) - MAX(a[1], b[1]);
    float inter, uni;

    if (ix <= 0.0f || iy <= 0.0f)
        return 0.0f;
    inter = ix * iy;
    uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
          inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

/*
 * Drops each object that overlaps a higher-scoring one of the same class
 * by more than iou_max.  A large object often peaks in two cells a few
 * pixels apart, and one phone must not count as two.  objs is sorted by
 * score; returns the new count.
 */
static int suppress_overlaps(struct object *objs, int n, float iou_max)
{
    int kept = 0;

    for (int i = 0; i < n; i++) {
        bool dup = false;

        for (int k = 0; k < kept && !dup; k++)
            dup = objs[k].class_id == objs[i].class_id &&
                  iou(objs[k].box, objs[i].box) > iou_max;
        if (!dup)
            objs[kept++] = objs[i];
    }
    return kept;
}

/* Returns the minimum heatmap peak of class c under cfg. */
static float class_threshold(const struct objects_config *cfg, int c)
{
    switch (c) {
    case OBJECTS_CLASS_CELL_PHONE:
        return cfg->phone_threshold;
    case OBJECTS_CLASS_BOOK:
        return cfg->book_threshold;
    case OBJECTS_CLASS_LAPTOP:
        return cfg->laptop_threshold;
    default:
        return cfg->score_threshold;
    }
}

/* Adds obj to objs (n used of max), replacing the weakest when full. */
static void keep_best(struct object *objs, int max, int *n,
                      const struct object *obj)
{
    int weakest = 0;

    if (*n < max) {
        objs[(*n)++] = *obj;
        return;
    }
    for (int i = 1; i < max; i++)
        if (objs[i].score < objs[weakest].score)
            weakest = i;
    if (obj->score > objs[weakest].score)
        objs[weakest] = *obj;
}

int objects_detect(struct objects_detector *d, const struct image *img,
                   const struct objects_config *cfg, struct object *objs,
                   int max, int *n)
{
    static const struct objects_config defaults = OBJECTS_CONFIG_DEFAULT;
    const float *heat, *wh;
    struct image_map map;
    float w = (float)img->src_width, h = (float)img->src_height;
    float min_score[OBJECTS_CLASS_COUNT];
    int rc;

    if (!cfg)
        cfg = &defaults;
    *n = 0;
    for (int c = 0; c < OBJECTS_CLASS_COUNT; c++)
        min_score[c] = class_threshold(cfg, c);

    image_stretch(img, OBJECTS_INPUT_SIZE, OBJECTS_INPUT_SIZE, 0.0f, 255.0f,
                  d->input, &map);
    rc = nn_exec_run(d->exec, d->input);
    if (rc)
        return rc;
    heat = nn_exec_output(d->exec, d->out_heatmap);
    wh = nn_exec_output(d->exec, d->out_wh);

    for (int y = 0; y < GRID; y++) {
        for (int x = 0; x < GRID; x++) {
            size_t cell = (size_t)y * GRID + (size_t)x;
            const float *scores = heat + cell * OBJECTS_CLASS_COUNT;
            const float *dist = wh + cell * 4;

            for (int c = 0; c < OBJECTS_CLASS_COUNT; c++) {
                struct object obj;
                float cx = (float)(x * STRIDE), cy = (float)(y * STRIDE);

                if (!(scores[c] >= min_score[c]))
                    continue;
                if (!cfg->all_classes && !objects_is_forbidden(c))
                    continue;
                if (!is_peak(heat, x, y, c))
                    continue;

                obj.class_id = c;
                obj.label = coco_labels[c];
                obj.score = scores[c];
                obj.box[0] = clampf((cx - dist[0]) * map.scale_x, 0, w);
                obj.box[1] = clampf((cy - dist[1]) * map.scale_y, 0, h);
                obj.box[2] = clampf((cx + dist[2]) * map.scale_x, 0, w);
                obj.box[3] = clampf((cy + dist[3]) * map.scale_y, 0, h);
                keep_best(objs, max, n, &obj);
            }
        }
    }

    qsort(objs, (size_t)*n, sizeof(*objs), by_score_desc);
    *n = suppress_overlaps(objs, *n, cfg->iou_threshold);
    return 0;
}
