/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The detector-backed analyser.  A detector is used by one thread at a
 * time, so every vision worker loads its own; the models are checked
 * against their digests once per worker at start-up, never per frame.
 */
#include "core/base.h"
#include "services/monitoring/pipeline.h"

#include "core/config.h"
#include "vision/detector.h"

struct pipeline {
    char *model_dir;
    int objects_every;
};

static int worker_new(void *ctx, int index, void **worker, char *err,
                      size_t err_size)
{
    struct pipeline *p = ctx;
    struct detector_config cfg = DETECTOR_CONFIG_DEFAULT;
    struct detector *d = NULL;
    int ret;

    (void)index;
    cfg.objects_every = p->objects_every;
    cfg.objects_on_change = true;
    ret = detector_new(p->model_dir, NN_BACKEND_XNNPACK, 1, &cfg, &d, err,
                       err_size);
    *worker = d;
    return ret;
}

static void worker_free(void *worker)
{
    detector_free(worker);
}

/* Copy the detector's view of a frame into the rules engine's record. */
static void to_detection(const struct detection *in, struct mon_detection *out)
{
    memset(out, 0, sizeof(*out));
    out->face_count = in->n_faces;
    out->faces_kept = MIN(in->n_faces, MON_FACES_MAX);
    for (int i = 0; i < out->faces_kept; i++) {
        out->faces[i].score = in->faces[i].score;
        memcpy(out->faces[i].box, in->faces[i].box, sizeof(out->faces[i].box));
    }
    out->brightness = in->brightness.mean_luma;
    out->objects_ran = in->objects_ran;
    for (int i = 0; in->objects_ran && i < in->n_objects &&
                    out->objects_kept < MON_OBJECTS_MAX; i++) {
        struct mon_object *o = &out->objects[out->objects_kept++];

        strlcpy_pw(o->label, in->objects[i].label ? in->objects[i].label : "",
                   sizeof(o->label));
        o->score = in->objects[i].score;
    }
}

static int analyse(void *worker, const uint8_t *jpeg, size_t len,
                   struct mon_stream *stream, struct mon_detection *out)
{
    struct detector_stream ds = {stream->frame_index,
                                 stream->last_face_count};
    struct detection *det = xmalloc(sizeof(*det));
    int ret;

    ret = detector_process_jpeg(worker, jpeg, len, &ds, 0, det);
    stream->frame_index = ds.frame_index;
    stream->last_face_count = ds.last_face_count;
    if (!ret)
        to_detection(det, out);
    free(det);
    return ret;
}

static void free_ctx(void *ctx)
{
    struct pipeline *p = ctx;

    if (!p)
        return;
    free(p->model_dir);
    free(p);
}

int pipeline_analyser(const char *model_dir, int objects_every,
                      struct mon_analyser *out)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));

    p->model_dir = xstrdup(model_dir);
    p->objects_every = objects_every;
    out->ctx = p;
    out->worker_new = worker_new;
    out->worker_free = worker_free;
    out->analyse = analyse;
    out->free_ctx = free_ctx;
    return 0;
}

char *pipeline_model_dir(void)
{
    const char *dir = config_str("PW_MODEL_DIR");

    if (dir[0])
        return xstrdup(dir);
    return xasprintf("%s/models", config_str("PW_DATA_DIR"));
}
