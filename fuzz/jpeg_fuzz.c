/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the frame path before inference: header read, JPEG
 * decode with scaling, letterbox and stretch resampling, brightness.  Any
 * input must give a status or an image, never a crash, leak or overrun.
 */
#include "core/base.h"
#include "vision/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small limits keep each run fast; the checks are the same at 8192. */
    struct image_decode_opts opts = {2048, 2048, 192, 192};
    static float letterbox[192 * 192 * 3];
    static float stretch[64 * 48 * 3];
    struct image img = IMAGE_INIT;
    struct image_brightness b;
    struct image_map map;
    int w, h;

    if (image_jpeg_size(data, size, &w, &h) == 0 && (w <= 0 || h <= 0))
        BUG("header gave %dx%d", w, h);
    if (image_decode_jpeg(data, size, &opts, &img) != 0)
        return 0;
    if (img.width <= 0 || img.height <= 0 || img.width > img.src_width ||
        img.height > img.src_height)
        BUG("decoded %dx%d from %dx%d", img.width, img.height, img.src_width,
            img.src_height);

    image_letterbox(&img, 192, -1.0f, 1.0f, letterbox, &map);
    image_stretch(&img, 64, 48, 0.0f, 255.0f, stretch, &map);
    image_measure_brightness(&img, &b);
    if (!(b.mean_luma >= 0.0f && b.mean_luma <= 255.0f))
        BUG("mean luma %f out of range", (double)b.mean_luma);
    image_release(&img);
    return 0;
}
