/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Object detector: CenterNet (MobileNetV3 backbone, TF.js graph from the
 * @vladmandic/human package) run on a 512x512 stretched copy of the frame.
 * By default it reports only the objects an exam forbids: laptops, cell
 * phones and books.  Boxes come back in the original JPEG's pixels.
 */
#ifndef PW_VISION_OBJECTS_H
#define PW_VISION_OBJECTS_H

#include "core/base.h"
#include "vision/image.h"
#include "vision/nn.h"

/* Side of the square model input, in pixels. */
#define OBJECTS_INPUT_SIZE 512

/* Most objects reported for one image; further ones are dropped. */
#define OBJECTS_MAX 32

/* COCO class ids (0-based, the 80-class list) of the forbidden objects. */
#define OBJECTS_CLASS_LAPTOP     63
#define OBJECTS_CLASS_CELL_PHONE 67
#define OBJECTS_CLASS_BOOK       73
#define OBJECTS_CLASS_COUNT      80

struct object {
    int class_id;      /* COCO id, 0..79 */
    const char *label; /* static COCO name, e.g. "cell phone" */
    float score;       /* heatmap peak, 0..1 */
    float box[4];      /* x1, y1, x2, y2 in original image pixels */
};

struct objects_config {
    float score_threshold;  /* minimum heatmap peak of the other classes */
    float phone_threshold;  /* ... of a cell phone */
    float book_threshold;   /* ... of a book */
    float laptop_threshold; /* ... of a laptop */
    float iou_threshold;    /* same-class boxes overlapping more are one */
    bool all_classes;       /* report every COCO class, not only forbidden */
};

/*
 * Default thresholds, measured on the test photos (tests/fixtures/photos
 * and the table in docs/models.md).  The model's peaks are low and the
 * forbidden classes overlap: a calibration board held at a desk scores
 * book up to 0.33 and cell phone up to 0.27, sheets of paper score laptop
 * up to 0.32, while the one real phone lying in view peaks at 0.35.  So a
 * phone must reach 0.30, a book or a laptop 0.35: no false forbidden object
 * on the desk photos, at the cost of the books the model scores under
 * 0.30 anyway.  Other classes (analyze --all) keep 0.25.  Same-class boxes
 * overlapping by IoU > 0.5 are merged into the best one.
 */
#define OBJECTS_CONFIG_DEFAULT {0.25f, 0.30f, 0.35f, 0.35f, 0.5f, false}

struct objects_detector;

/*
 * Loads centernet.json and centernet.bin from model_dir (verified by
 * SHA-256) and prepares them on backend with threads workers.  Returns 0
 * and a new detector in *out, freed with objects_detector_free(); or
 * ERR_NOT_FOUND / ERR_CORRUPT / ERR_IO for a model file, ERR_UNSUPPORTED,
 * ERR_NOMEM.  On failure err (err_size bytes, may be NULL) receives a
 * one-line reason.
 */
int objects_detector_new(const char *model_dir, enum nn_backend backend,
                         int threads, struct objects_detector **out,
                         char *err, size_t err_size);

/* Frees d and its model; NULL is allowed. */
void objects_detector_free(struct objects_detector *d);

/*
 * Detects objects in img (borrowed, not empty) with cfg (NULL = defaults).
 * Writes up to max objects, highest score first, to objs and their number
 * to *n.  Returns 0 or the back end's ERR_*.  One thread at a time per
 * detector.
 */
int objects_detect(struct objects_detector *d, const struct image *img,
                   const struct objects_config *cfg, struct object *objs,
                   int max, int *n);

/* Returns the COCO name of class_id (static), or NULL when out of range. */
const char *objects_label(int class_id);

/* Returns true for the classes an exam forbids (laptop, phone, book). */
bool objects_is_forbidden(int class_id);

#endif
