/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recorded webcam video read as a sequence of JPEG frames, for
 * `proctorwise replay`.  Two formats: MJPEG (JPEG images one after the
 * other, each returned as a slice of the input) and YUV4MPEG2 (raw planes,
 * each frame encoded to JPEG on request, as a browser would send it).
 */
#ifndef PW_VISION_VIDEO_H
#define PW_VISION_VIDEO_H

#include "core/base.h"

/* Maximum Y4M width or height accepted. */
#define VIDEO_MAX_SIDE 8192

/* JPEG quality of encoded Y4M frames, near what browsers use for webcams. */
#define VIDEO_JPEG_QUALITY 85

enum video_format {
    VIDEO_MJPEG = 1,
    VIDEO_Y4M,
};

/* Offset and length of one frame's bytes in the input. */
struct video_span {
    size_t offset;
    size_t len;
};

struct video {
    enum video_format format;
    int width;             /* Y4M pixels; 0 for MJPEG */
    int height;            /* Y4M pixels; 0 for MJPEG */
    int fps_num;           /* Y4M frame rate F num:den; 0 when unknown */
    int fps_den;
    size_t n_frames;       /* complete frames */
    size_t skipped;        /* damaged JPEGs or a truncated last Y4M frame */
    bool cut;              /* frames past max_frames were dropped */
    char error[160];       /* why video_open() failed, one sentence */

    /* private */
    const uint8_t *data;   /* borrowed input */
    struct video_span *frames; /* owned, n_frames entries */
    int subsamp;           /* TJSAMP_* of the Y4M planes */
    bool full_range;       /* Y4M samples span 0..255 (XCOLORRANGE=FULL) */
};

#define VIDEO_INIT {0, 0, 0, 0, 0, 0, 0, false, "", NULL, NULL, 0, false}

/* Returns whether data starts with the Y4M magic "YUV4MPEG2 ". */
bool video_is_y4m(const uint8_t *data, size_t len);

/*
 * Reads the frames of data (len bytes, borrowed until video_release())
 * into v, which must be VIDEO_INIT: Y4M when data starts with the
 * "YUV4MPEG2 " magic, MJPEG otherwise.  At most max_frames frames are kept
 * (v->cut is set when there were more).
 *
 * MJPEG: each image runs from SOI through its marker segments and
 * entropy-coded data to EOI, so an FF D9 pair inside a segment or stuffed
 * data does not end it.  Bytes that start no complete image are skipped
 * and counted in v->skipped.
 *
 * Y4M: the header needs W and H (1..VIDEO_MAX_SIDE) and takes F (frame
 * rate), C (colour space: 420jpeg, 420, 420paldv, 420mpeg2, 422, 444 or
 * mono; 420jpeg when absent) and XCOLORRANGE=FULL|LIMITED (limited when
 * absent, as the format defines).  Interlacing and aspect are ignored.  A
 * truncated last frame is dropped and counted in v->skipped.
 *
 * Returns 0 with at least one frame, or, with v->error set: ERR_CORRUPT
 * (a damaged header or frame marker, or no complete frame), ERR_TOO_BIG (a
 * side over VIDEO_MAX_SIDE) or ERR_UNSUPPORTED (another colour space).  v
 * is released on failure.
 */
int video_open(struct video *v, const uint8_t *data, size_t len,
               size_t max_frames);

/*
 * Gets frame index (< v->n_frames) as a JPEG in *jpeg, *len bytes.  For
 * MJPEG it is a slice of the input and *owned is NULL; for Y4M it is
 * encoded at VIDEO_JPEG_QUALITY into a new buffer, *owned == *jpeg, that
 * the caller frees with free().  Returns 0, ERR_NOMEM, or ERR_INTERNAL
 * when TurboJPEG fails.  Thread-safe: each call uses its own encoder.
 */
int video_frame_jpeg(const struct video *v, size_t index,
                     const uint8_t **jpeg, size_t *len, uint8_t **owned);

/* Frees what video_open() allocated and returns v to VIDEO_INIT. */
void video_release(struct video *v);

#endif
