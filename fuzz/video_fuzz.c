/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for recorded video: MJPEG splitting and Y4M reading,
 * then the JPEG encoding of the first Y4M frames.  Every frame must lie
 * inside the input, and every encoded frame must read back at the size
 * the Y4M header gave.  No input may crash, leak or read past the end.
 */
#include "core/base.h"
#include "vision/video.h"

#include "vision/image.h"

/* Frames encoded per input; encoding dominates the time of a run. */
#define FUZZ_ENCODED_FRAMES 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct video v = VIDEO_INIT;
    uint8_t *copy = xmalloc(size ? size : 1);

    /* An exact-size copy, so ASan reports a read one byte past the input. */
    memcpy(copy, data, size);
    if (video_open(&v, copy, size, 64) != 0) {
        if (!v.error[0] || v.frames)
            BUG("failed open left error \"%s\", frames %p", v.error,
                (void *)v.frames);
        goto out_free;
    }
    if (v.n_frames == 0 || v.n_frames > 64)
        BUG("opened with %zu frames", v.n_frames);

    for (size_t i = 0; i < v.n_frames; i++) {
        const uint8_t *jpeg;
        uint8_t *owned;
        size_t len;
        int w, h;

        if (v.frames[i].offset > size ||
            v.frames[i].len > size - v.frames[i].offset)
            BUG("frame %zu at %zu+%zu outside %zu bytes", i,
                v.frames[i].offset, v.frames[i].len, size);
        if (v.format == VIDEO_Y4M && i >= FUZZ_ENCODED_FRAMES)
            continue;
        if (video_frame_jpeg(&v, i, &jpeg, &len, &owned) != 0)
            BUG("frame %zu of a %dx%d Y4M did not encode", i, v.width,
                v.height);
        if (v.format == VIDEO_Y4M &&
            (image_jpeg_size(jpeg, len, &w, &h) != 0 || w != v.width ||
             h != v.height))
            BUG("frame %zu encoded at the wrong size", i);
        free(owned);
    }
    video_release(&v);

out_free:
    free(copy);
    return 0;
}
