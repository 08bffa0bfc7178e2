/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hybrid detector: the per-frame entry point of the vision engine.  It
 * decodes a JPEG frame once, runs the face detector on every frame and the
 * object detector only when it is worth its cost (every Nth frame of a
 * stream, when the face count changes, or on request), and measures
 * brightness so that a covered camera is told apart from an empty seat.
 */
#ifndef PW_VISION_DETECTOR_H
#define PW_VISION_DETECTOR_H

#include "core/base.h"
#include "vision/face.h"
#include "vision/image.h"
#include "vision/nn.h"
#include "vision/objects.h"

struct detector_config {
    struct face_config face;
    struct objects_config objects;
    int objects_every;       /* run objects on every Nth frame; 0 = never */
    bool objects_on_change;  /* ... and when the face count changes */
    float dark_luma;         /* mean luma below this is too dark (0..255) */
    float flat_contrast;     /* ... when contrast is also below this */
    struct image_decode_opts decode; /* size limits; min_* are ignored */
};

/*
 * Defaults: objects every 5th frame (once a second at 5 frames per
 * second) and on any change in face count, such as someone sitting down
 * beside the student.  A frame is too dark when its mean luma is under 40
 * and its contrast under 12.  Both must hold, so a dim room with some
 * light in it still counts as seen.  For scale: the darkest test photo (a
 * rocket launch at night) measures luma 61, contrast 31, and a black frame
 * encoded as JPEG measures about 8 and 0.
 */
#define DETECTOR_CONFIG_DEFAULT                                            \
    {FACE_CONFIG_DEFAULT, OBJECTS_CONFIG_DEFAULT, 5, true, 40.0f, 12.0f,   \
     {0, 0, 0, 0}}

/* Per-stream state kept between frames of one stream (one session). */
struct detector_stream {
    long frame_index;    /* frames seen so far */
    int last_face_count; /* -1 before the first frame */
};

#define DETECTOR_STREAM_INIT {0, -1}

enum detector_flags {
    DETECTOR_OBJECTS_NOW = 1 << 0, /* run the object detector on this frame */
    DETECTOR_NO_OBJECTS = 1 << 1,  /* skip it on this frame whatever else */
};

/* The detection of one frame. */
struct detection {
    int width;                     /* original JPEG pixels */
    int height;
    int n_faces;
    struct face faces[FACE_MAX];   /* highest score first */
    int largest_face;              /* index into faces, -1 when none */
    bool objects_ran;              /* false: objects not looked for */
    int n_objects;
    struct object objects[OBJECTS_MAX]; /* highest score first */
    struct image_brightness brightness;
    bool too_dark;                 /* brightness too low to see anything */
    double ms_decode;              /* milliseconds per stage */
    double ms_faces;
    double ms_objects;
    double ms_total;
};

struct detector;

/*
 * Loads both models from model_dir and prepares them on backend with
 * threads workers each.  cfg is copied (NULL = DETECTOR_CONFIG_DEFAULT).
 * Returns 0 and a new detector in *out, freed with detector_free(), or the
 * status of face_detector_new() / objects_detector_new(), with a one-line
 * reason in err (err_size bytes, may be NULL).
 */
int detector_new(const char *model_dir, enum nn_backend backend, int threads,
                 const struct detector_config *cfg, struct detector **out,
                 char *err, size_t err_size);

/* Frees d; NULL is allowed. */
void detector_free(struct detector *d);

/*
 * Decodes the JPEG frame in data (len bytes, borrowed) and detects on it,
 * updating stream (borrowed; NULL = a one-off image) and filling *out.
 * flags is a set of enum detector_flags.  Returns 0, or the status of
 * image_decode_jpeg() (ERR_CORRUPT, ERR_TOO_BIG, ERR_UNSUPPORTED, ERR_NOMEM)
 * or of the back end.  One thread at a time per detector; streams are
 * independent, so one detector may serve many sessions in turn.
 */
int detector_process_jpeg(struct detector *d, const uint8_t *data,
                          size_t len, struct detector_stream *stream,
                          unsigned flags, struct detection *out);

#endif
