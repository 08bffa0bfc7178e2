/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hybrid detector.  One face pass costs about a tenth of an object
 * pass (5 ms against 50 ms per frame on XNNPACK, one thread of a 2-core
 * x86-64 VM), and the corner windows make it five passes.  So the frame
 * is decoded at the scale the face windows need (twice the model's side:
 * a 640x480 frame at full size), unless objects are already due: then it
 * is decoded at the 512 pixels CenterNet needs.  When a change in face
 * count calls for objects after a small decode, the frame is decoded
 * again at the larger scale.  A rare extra decode costs less than feeding
 * CenterNet an upsampled frame in which a phone is a few blurred pixels.
 */
#include "core/base.h"
#include "vision/detector.h"

#include <time.h>

#include "core/err.h"

struct detector {
    struct detector_config cfg;
    struct face_detector *faces;
    struct objects_detector *objects;
};

int detector_new(const char *model_dir, enum nn_backend backend, int threads,
                 const struct detector_config *cfg, struct detector **out,
                 char *err, size_t err_size)
{
    static const struct detector_config defaults = DETECTOR_CONFIG_DEFAULT;
    struct detector *d = xcalloc(1, sizeof(*d));
    int rc;

    d->cfg = cfg ? *cfg : defaults;
    rc = face_detector_new(model_dir, backend, threads, &d->faces, err,
                           err_size);
    if (rc)
        goto out_free;
    rc = objects_detector_new(model_dir, backend, threads, &d->objects, err,
                              err_size);
    if (rc)
        goto out_free;
    *out = d;
    return 0;

out_free:
    detector_free(d);
    *out = NULL;
    return rc;
}

void detector_free(struct detector *d)
{
    if (!d)
        return;
    objects_detector_free(d->objects);
    face_detector_free(d->faces);
    free(d);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int decode(const struct detector *d, const uint8_t *data, size_t len,
                  int min_side, struct image *img)
{
    struct image_decode_opts opts = d->cfg.decode;

    opts.min_width = min_side;
    opts.min_height = min_side;
    return image_decode_jpeg(data, len, &opts, img);
}

static int largest_face(const struct detection *out)
{
    int best = -1;
    float best_area = -1.0f;

    for (int i = 0; i < out->n_faces; i++) {
        const float *b = out->faces[i].box;
        float area = (b[2] - b[0]) * (b[3] - b[1]);

        if (area > best_area) {
            best_area = area;
            best = i;
        }
    }
    return best;
}

/* Decides before decoding whether objects are due on this frame. */
static bool objects_due(const struct detector *d,
                        const struct detector_stream *stream, unsigned flags)
{
    if (flags & DETECTOR_NO_OBJECTS)
        return false;
    if (flags & DETECTOR_OBJECTS_NOW)
        return true;
    if (!stream)
        return false;
    return d->cfg.objects_every > 0 &&
           stream->frame_index % d->cfg.objects_every == 0;
}

int detector_process_jpeg(struct detector *d, const uint8_t *data,
                          size_t len, struct detector_stream *stream,
                          unsigned flags, struct detection *out)
{
    struct image img = IMAGE_INIT;
    struct face_config face_cfg;
    bool want_objects = objects_due(d, stream, flags);
    bool count_changed;
    double t0 = now_ms(), t;
    int rc;

    memset(out, 0, sizeof(*out));
    out->largest_face = -1;

    rc = decode(d, data, len,
                want_objects ? OBJECTS_INPUT_SIZE
                : d->cfg.face.tiles != FACE_TILES_OFF ? 2 * FACE_INPUT_SIZE
                                    : FACE_INPUT_SIZE,
                &img);
    if (rc)
        return rc;
    out->width = img.src_width;
    out->height = img.src_height;
    image_measure_brightness(&img, &out->brightness);
    out->too_dark = out->brightness.mean_luma < d->cfg.dark_luma &&
                    out->brightness.contrast < d->cfg.flat_contrast;
    t = now_ms();
    out->ms_decode = t - t0;

    /*
     * The corner windows cost four more face passes.  Run them on every
     * object frame, where they catch a small second face, and on the
     * frames in between only when the whole frame shows nobody, so a
     * student far from the camera is not taken for an absent one.
     */
    face_cfg = d->cfg.face;
    if (face_cfg.tiles == FACE_TILES_ALWAYS && stream && !want_objects)
        face_cfg.tiles = FACE_TILES_WHEN_NONE;
    rc = face_detect(d->faces, &img, &face_cfg, out->faces, FACE_MAX,
                     &out->n_faces);
    if (rc)
        goto out_release;
    out->largest_face = largest_face(out);
    out->ms_faces = now_ms() - t;

    count_changed = stream && stream->last_face_count != out->n_faces;
    if (!want_objects && count_changed && d->cfg.objects_on_change &&
        !(flags & DETECTOR_NO_OBJECTS)) {
        want_objects = true;
        if (img.width < img.src_width) {
            t = now_ms();
            image_release(&img);
            rc = decode(d, data, len, OBJECTS_INPUT_SIZE, &img);
            if (rc)
                goto out_release;
            out->ms_decode += now_ms() - t;
        }
    }

    if (want_objects) {
        t = now_ms();
        rc = objects_detect(d->objects, &img, &d->cfg.objects, out->objects,
                            OBJECTS_MAX, &out->n_objects);
        if (rc)
            goto out_release;
        out->objects_ran = true;
        out->ms_objects = now_ms() - t;
    }

    if (stream) {
        stream->frame_index++;
        stream->last_face_count = out->n_faces;
    }
    out->ms_total = now_ms() - t0;

out_release:
    image_release(&img);
    return rc;
}
