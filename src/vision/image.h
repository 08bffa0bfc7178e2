/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webcam frames as RGB8 images: JPEG decoding through TurboJPEG (scaled down
 * by the decoder itself when the model needs fewer pixels), preprocessing
 * into the float NHWC tensors the detectors feed their models, and a
 * brightness figure.  Every preprocessing step returns the affine map from
 * tensor pixels back to the original JPEG's pixels, so detections are
 * reported in the coordinates of the image the caller sent.
 */
#ifndef PW_VISION_IMAGE_H
#define PW_VISION_IMAGE_H

#include "core/base.h"

/* Largest JPEG side accepted by default, checked from the header. */
#define IMAGE_MAX_SIDE_DEFAULT 8192

struct image {
    int width;          /* decoded pixels */
    int height;         /* decoded pixels */
    int src_width;      /* pixels of the JPEG before decoder scaling */
    int src_height;     /* pixels of the JPEG before decoder scaling */
    uint8_t *pixels;    /* owned; RGB8, rows of width * 3 bytes, no padding */
};

#define IMAGE_INIT {0, 0, 0, 0, NULL}

/* Frees the pixels and returns img to IMAGE_INIT; img may be IMAGE_INIT. */
void image_release(struct image *img);

struct image_decode_opts {
    int max_width;  /* reject wider JPEGs with ERR_TOO_BIG; 0 = default */
    int max_height; /* reject taller JPEGs with ERR_TOO_BIG; 0 = default */
    int min_width;  /* decode to the smallest scale keeping width >= this */
    int min_height; /* ... and height >= this; 0 and 0 = full size */
};

/*
 * Reads the pixel size of a JPEG from its header without decoding it.
 * Returns 0, or ERR_CORRUPT for bytes that are not a readable JPEG header.
 */
int image_jpeg_size(const uint8_t *data, size_t len, int *width, int *height);

/*
 * Decodes the JPEG in data (len bytes, borrowed) into out, which must be
 * IMAGE_INIT; on success the caller releases it with image_release().
 * TurboJPEG scales by one of its factors (1/8 .. 1) during decoding: the
 * smallest one that still gives at least min_width x min_height, or the full
 * size when the JPEG is smaller than that.
 *
 * Returns 0, ERR_TOO_BIG (a side over the limit, checked from the header
 * before any pixel is decoded), ERR_CORRUPT (not a JPEG, damaged or
 * truncated: libjpeg's warnings count as errors, because a truncated frame
 * decodes as a partly grey image that would hide a face), or ERR_NOMEM.
 * Thread-safe: each call uses its own decoder.
 */
int image_decode_jpeg(const uint8_t *data, size_t len,
                      const struct image_decode_opts *opts,
                      struct image *out);

/*
 * Copies the tw x th pixels of img at (x0, y0), decoded pixels, into out,
 * which must be IMAGE_INIT; the caller releases it with image_release().
 * out's src_width and src_height are the window's size in original JPEG
 * pixels, so a map made from out is relative to the window's corner.  The
 * window must lie inside img.
 */
void image_window(const struct image *img, int x0, int y0, int tw, int th,
                  struct image *out);

/*
 * Affine map from tensor pixel coordinates to original JPEG pixels:
 * x_src = x * scale_x + offset_x, y_src = y * scale_y + offset_y.
 */
struct image_map {
    float scale_x;
    float scale_y;
    float offset_x;
    float offset_y;
};

/*
 * Resamples img (bilinear) into a size x size x 3 float tensor keeping the
 * aspect ratio: the image is scaled so its longer side fills the square and
 * is centred, and the bands left over are black.  Values are mapped from
 * 0..255 to lo..hi (BlazeFace uses -1..1).  tensor holds size*size*3 floats
 * and is written in NHWC order.  Fills *map.  img must not be empty.
 */
void image_letterbox(const struct image *img, int size, float lo, float hi,
                     float *tensor, struct image_map *map);

/*
 * Resamples img (bilinear) into a width x height x 3 float tensor, stretched
 * to fill it whatever the aspect ratio.  Values are mapped from 0..255 to
 * lo..hi (CenterNet uses 0..255).  Fills *map.  img must not be empty.
 */
void image_stretch(const struct image *img, int width, int height, float lo,
                   float hi, float *tensor, struct image_map *map);

struct image_brightness {
    float mean_luma;  /* 0..255, BT.601 weights */
    float contrast;   /* standard deviation of luma, 0..~128 */
};

/*
 * Measures the luma of img.  A dark frame (low mean) with little contrast is
 * a covered or unlit camera; a lit frame with no face is an empty seat.
 */
void image_measure_brightness(const struct image *img,
                              struct image_brightness *out);

#endif
