/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BlazeFace full range, decoded the way MediaPipe's face_detection graph
 * does it.  The model sees the frame letterboxed into 192x192 pixels scaled
 * to [-1, 1] and returns, for each of 2304 anchors (one per cell of a 48x48
 * grid, stride 4), a logit and 16 regressors: box centre offset, box width
 * and height (all in input pixels), then six keypoints we do not use.
 *
 * A face usually fires several neighbouring anchors.  Rather than keep the
 * best one (plain non-maximum suppression), overlapping boxes are averaged
 * weighted by score, as MediaPipe's WEIGHTED overlap mode does: the merged
 * box is steadier from frame to frame, and the face count is the same.
 */
#include "core/base.h"
#include "vision/face.h"

#include <math.h>

#include "core/err.h"
#include "vision/models.h"
#include "vision/tflite.h"

#define GRID     48
#define ANCHORS  (GRID * GRID)
#define N_REGRESSORS 16

struct face_detector {
    struct nn_graph graph;
    struct nn_exec *exec;
    int out_boxes;  /* output index of the [1, 2304, 16] regressors */
    int out_scores; /* output index of the [1, 2304, 1] logits */
    float *input;   /* FACE_INPUT_SIZE^2 * 3 floats */
};

/* Candidate box in input pixels during merging. */
struct candidate {
    float score;
    float x1, y1, x2, y2;
};

/* Finds which graph output is which by its last dimension. */
static int find_outputs(struct face_detector *d)
{
    const struct nn_graph *g = &d->graph;

    d->out_boxes = d->out_scores = -1;
    for (int i = 0; i < g->n_outputs; i++) {
        const struct nn_tensor *t = &g->tensors[g->outputs[i]];
        int last = t->dims[t->rank - 1];

        if (nn_tensor_count(t) == (size_t)ANCHORS * N_REGRESSORS &&
            last == N_REGRESSORS)
            d->out_boxes = i;
        else if (nn_tensor_count(t) == ANCHORS && last == 1)
            d->out_scores = i;
    }
    return d->out_boxes >= 0 && d->out_scores >= 0 ? 0 : ERR_UNSUPPORTED;
}

int face_detector_new(const char *model_dir, enum nn_backend backend,
                      int threads, struct face_detector **out, char *err,
                      size_t err_size)
{
    struct face_detector *d = xcalloc(1, sizeof(*d));
    char *path = NULL;
    int rc;

    nn_graph_init(&d->graph);
    rc = models_locate(model_dir, MODELS_FACE_FULL_RANGE, &path, err,
                       err_size);
    if (rc)
        goto out_free;

    rc = tflite_load(path, &d->graph);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size, "failed to load face model '%s': %s",
                     path, err_str(rc));
        goto out_free;
    }
    rc = find_outputs(d);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size,
                     "face model '%s' lacks the 2304x16 and 2304x1 outputs",
                     path);
        goto out_free;
    }
    rc = nn_exec_new(&d->graph, backend, threads, &d->exec);
    if (rc) {
        if (err && err_size)
            snprintf(err, err_size, "failed to prepare face model: %s",
                     err_str(rc));
        goto out_free;
    }

    d->input = xmalloc(sizeof(float) * FACE_INPUT_SIZE * FACE_INPUT_SIZE * 3);
    free(path);
    *out = d;
    return 0;

out_free:
    free(path);
    face_detector_free(d);
    *out = NULL;
    return rc;
}

void face_detector_free(struct face_detector *d)
{
    if (!d)
        return;
    nn_exec_free(d->exec);
    nn_graph_release(&d->graph);
    free(d->input);
    free(d);
}

static float iou(const struct candidate *a, const struct candidate *b)
{
    float ix = MIN(a->x2, b->x2) - MAX(a->x1, b->x1);
    float iy = MIN(a->y2, b->y2) - MAX(a->y1, b->y1);
    float inter, uni;

    if (ix <= 0.0f || iy <= 0.0f)
        return 0.0f;
    inter = ix * iy;
    uni = (a->x2 - a->x1) * (a->y2 - a->y1) +
          (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

static int by_score_desc(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;

    return (a->score < b->score) - (a->score > b->score);
}

/*
 * Collects anchors scoring at least threshold.  Comparing logits avoids an
 * exp() per anchor: sigmoid is monotonic.  Returns the count.
 */
static int collect(const float *boxes, const float *logits, float threshold,
                   struct candidate *cand)
{
    float min_logit = logf(threshold / (1.0f - threshold));
    int n = 0;

    for (int i = 0; i < ANCHORS; i++) {
        const float *r = boxes + (size_t)i * N_REGRESSORS;
        float ax = ((float)(i % GRID) + 0.5f) * (FACE_INPUT_SIZE / GRID);
        float ay = ((float)(i / GRID) + 0.5f) * (FACE_INPUT_SIZE / GRID);
        float cx, cy, logit = logits[i];

        if (!(logit >= min_logit))
            continue;
        /* MediaPipe clips logits to +-100 before the sigmoid. */
        logit = MIN(logit, 100.0f);
        cx = ax + r[0];
        cy = ay + r[1];
        cand[n].score = 1.0f / (1.0f + expf(-logit));
        cand[n].x1 = cx - r[2] / 2.0f;
        cand[n].y1 = cy - r[3] / 2.0f;
        cand[n].x2 = cx + r[2] / 2.0f;
        cand[n].y2 = cy + r[3] / 2.0f;
        n++;
    }
    return n;
}

/*
 * Merges cand (sorted by score, n of them) in place: each kept box is the
 * score-weighted mean of itself and the lower boxes overlapping it by more
 * than iou_max, with the best score of the group.  Returns the kept count.
 */
static int merge(struct candidate *cand, int n, float iou_max)
{
    int kept = 0;

    for (int i = 0; i < n; i++) {
        struct candidate top = cand[i];
        float w = top.score, x1 = top.x1 * w, y1 = top.y1 * w;
        float x2 = top.x2 * w, y2 = top.y2 * w, sum = w;

        if (top.score < 0.0f)
            continue;
        for (int j = i + 1; j < n; j++) {
            if (cand[j].score < 0.0f || iou(&top, &cand[j]) <= iou_max)
                continue;
            w = cand[j].score;
            x1 += cand[j].x1 * w;
            y1 += cand[j].y1 * w;
            x2 += cand[j].x2 * w;
            y2 += cand[j].y2 * w;
            sum += w;
            cand[j].score = -1.0f; /* absorbed */
        }
        cand[kept].score = top.score;
        cand[kept].x1 = x1 / sum;
        cand[kept].y1 = y1 / sum;
        cand[kept].x2 = x2 / sum;
        cand[kept].y2 = y2 / sum;
        kept++;
    }
    return kept;
}

static float clampf(float v, float lo, float hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

/*
 * Runs the model on the part of img at (x0, y0, tw, th) in decoded pixels
 * and appends its candidates, in original JPEG pixels, to cand (n used).
 */
static int run_window(struct face_detector *d, const struct image *img,
                      int x0, int y0, int tw, int th, float threshold,
                      struct candidate *cand, int *n)
{
    struct image win = IMAGE_INIT;
    struct image_map map;
    float kx = (float)img->src_width / (float)img->width;
    float ky = (float)img->src_height / (float)img->height;
    int rc, got;

    if (tw == img->width && th == img->height) {
        image_letterbox(img, FACE_INPUT_SIZE, -1.0f, 1.0f, d->input, &map);
    } else {
        image_window(img, x0, y0, tw, th, &win);
        image_letterbox(&win, FACE_INPUT_SIZE, -1.0f, 1.0f, d->input, &map);
        image_release(&win);
    }
    rc = nn_exec_run(d->exec, d->input);
    if (rc)
        return rc;

    got = collect(nn_exec_output(d->exec, d->out_boxes),
                  nn_exec_output(d->exec, d->out_scores), threshold,
                  cand + *n);
    for (int i = *n; i < *n + got; i++) {
        cand[i].x1 = cand[i].x1 * map.scale_x + map.offset_x + (float)x0 * kx;
        cand[i].x2 = cand[i].x2 * map.scale_x + map.offset_x + (float)x0 * kx;
        cand[i].y1 = cand[i].y1 * map.scale_y + map.offset_y + (float)y0 * ky;
        cand[i].y2 = cand[i].y2 * map.scale_y + map.offset_y + (float)y0 * ky;
    }
    *n += got;
    return 0;
}

int face_detect(struct face_detector *d, const struct image *img,
                const struct face_config *cfg, struct face *faces, int max,
                int *n)
{
    static const struct face_config defaults = FACE_CONFIG_DEFAULT;
    struct candidate *cand;
    int rc = 0, count = 0, windows = 1;
    float w = (float)img->src_width, h = (float)img->src_height;

    if (!cfg)
        cfg = &defaults;
    *n = 0;

    /*
     * The whole frame first, then, when the decoded frame has the pixels
     * for it, four corner windows of 3/5 of each side, which overlap.
     * Each reaches the model at about twice the whole frame's scale: a
     * face 40 pixels wide in a 640x480 frame spans 20 input pixels, not
     * 12.  Faces found twice are merged below.
     */
    if (cfg->tiles != FACE_TILES_OFF &&
        MAX(img->width, img->height) >= 2 * FACE_INPUT_SIZE)
        windows = 5;
    cand = xmalloc(sizeof(*cand) * ANCHORS * (size_t)windows);
    rc = run_window(d, img, 0, 0, img->width, img->height,
                    cfg->score_threshold, cand, &count);
    if (cfg->tiles == FACE_TILES_WHEN_NONE && count > 0)
        windows = 1;
    for (int t = 0; !rc && t < windows - 1; t++) {
        int tw = img->width * 3 / 5, th = img->height * 3 / 5;
        int x0 = t % 2 ? img->width - tw : 0;
        int y0 = t / 2 ? img->height - th : 0;

        rc = run_window(d, img, x0, y0, tw, th, cfg->score_threshold, cand,
                        &count);
    }
    if (rc)
        goto out_free;

    qsort(cand, (size_t)count, sizeof(*cand), by_score_desc);
    count = merge(cand, count, cfg->iou_threshold);

    for (int i = 0; i < count && *n < max; i++) {
        struct face *f = &faces[(*n)++];

        f->score = cand[i].score;
        f->box[0] = clampf(cand[i].x1, 0, w);
        f->box[1] = clampf(cand[i].y1, 0, h);
        f->box[2] = clampf(cand[i].x2, 0, w);
        f->box[3] = clampf(cand[i].y2, 0, h);
    }

out_free:
    free(cand);
    return rc;
}
