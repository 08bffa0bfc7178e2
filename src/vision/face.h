/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Face detector: MediaPipe's full-range BlazeFace (TFLite) run on a
 * 192x192 letterboxed copy of the frame.  Boxes come back in the pixels of
 * the original JPEG, merged so that one face gives one box.
 */
#ifndef PW_VISION_FACE_H
#define PW_VISION_FACE_H

#include "core/base.h"
#include "vision/image.h"
#include "vision/nn.h"

/* Side of the square model input, in pixels. */
#define FACE_INPUT_SIZE 192

/* Most faces reported for one image; further ones are dropped. */
#define FACE_MAX 32

struct face {
    float score;  /* 0..1 */
    float box[4]; /* x1, y1, x2, y2 in original image pixels */
};

/* When face_detect() also looks at four corner windows for small faces. */
enum face_tiles {
    FACE_TILES_OFF,       /* the whole frame only */
    FACE_TILES_WHEN_NONE, /* the windows only if the whole frame has none */
    FACE_TILES_ALWAYS,    /* the windows on every image */
};

struct face_config {
    float score_threshold; /* minimum sigmoid score of a face */
    float iou_threshold;   /* boxes overlapping more than this are merged */
    enum face_tiles tiles; /* corner windows, for faces under ~50 px */
};

/*
 * Defaults: a score of 0.6 counts every face of the labelled test photos
 * (tests/fixtures/photos: portraits, groups of three and four) and finds
 * none on the face-free ones, a cat included.  An IoU of 0.3 merges the
 * anchors of one face but keeps side-by-side faces apart.
 */
#define FACE_CONFIG_DEFAULT {0.6f, 0.3f, FACE_TILES_ALWAYS}

struct face_detector;

/*
 * Loads face_detection_full_range.tflite from model_dir (verified by
 * SHA-256) and prepares it on backend with threads workers.  Returns 0 and
 * a new detector in *out, freed with face_detector_free(); or ERR_NOT_FOUND
 * / ERR_CORRUPT / ERR_IO for the model file, ERR_UNSUPPORTED, ERR_NOMEM.
 * On failure err (err_size bytes, may be NULL) receives a one-line reason.
 */
int face_detector_new(const char *model_dir, enum nn_backend backend,
                      int threads, struct face_detector **out, char *err,
                      size_t err_size);

/* Frees d and its model; NULL is allowed. */
void face_detector_free(struct face_detector *d);

/*
 * Detects faces in img (borrowed, not empty) with cfg (NULL = defaults).
 * Writes up to max faces, highest score first, to faces and their number to
 * *n.  Returns 0 or the back end's ERR_*.  One thread at a time per
 * detector.
 */
int face_detect(struct face_detector *d, const struct image *img,
                const struct face_config *cfg, struct face *faces, int max,
                int *n);

#endif
