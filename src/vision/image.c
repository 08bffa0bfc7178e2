/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JPEG decoding and model-input preprocessing.
 *
 * Decoding goes through TurboJPEG, which can run the inverse DCT at a
 * reduced size (1/8 .. 7/8 of each side).  A 640x480 frame feeding the
 * 192x192 face model decodes at 1/2 (320x240): a quarter of the pixels for
 * the colour conversion and resampling, and no loss, because the model sees
 * at most 192 pixels across anyway.  The header is read first, so a frame
 * claiming 60000x60000 pixels is rejected before any memory is allocated.
 *
 * Resampling is bilinear with half-pixel centres, the convention TensorFlow
 * uses for its resize op: destination pixel i covers source coordinates
 * [i * step, (i + 1) * step) and samples at its centre.  Because decoding
 * already shrank the image to at most about twice the tensor size, bilinear
 * sampling does not alias enough to matter.  Coordinates kept in an
 * image_map are continuous (pixel edges), so a box edge at tensor x = 0
 * maps to the left edge of the original image, and x = size to its right.
 */
#include "core/base.h"
#include "vision/image.h"

#include <math.h>
#include <turbojpeg.h>

#include "core/err.h"

void image_release(struct image *img)
{
    free(img->pixels);
    *img = (struct image)IMAGE_INIT;
}

/* Reads the header with an open decoder; 0 or ERR_CORRUPT/ERR_UNSUPPORTED. */
static int read_header(tjhandle tj, const uint8_t *data, size_t len, int *w,
                       int *h)
{
    int subsamp, colorspace;

    /*
     * TurboJPEG 2.1 returns success without setting the size for a stream
     * of tables only (SOI, tables, EOI), so start from an invalid size.
     */
    *w = 0;
    *h = 0;
    if (!data || len == 0 || len > ULONG_MAX)
        return ERR_CORRUPT;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, w, h, &subsamp,
                            &colorspace) != 0)
        return ERR_CORRUPT;
    if (*w <= 0 || *h <= 0)
        return ERR_CORRUPT;

    /* TurboJPEG cannot convert CMYK to RGB; webcams never send it. */
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
        return ERR_UNSUPPORTED;
    return 0;
}

int image_jpeg_size(const uint8_t *data, size_t len, int *width, int *height)
{
    tjhandle tj = tjInitDecompress();
    int rc;

    if (!tj)
        return ERR_NOMEM;
    rc = read_header(tj, data, len, width, height);
    tjDestroy(tj);
    return rc;
}

/* Picks the TurboJPEG scaling factor for a w x h JPEG; see the header. */
static tjscalingfactor pick_scale(int w, int h, int min_w, int min_h)
{
    tjscalingfactor best = {1, 1};
    int n = 0;
    tjscalingfactor *factors = tjGetScalingFactors(&n);

    if (min_w <= 0 && min_h <= 0)
        return best;
    for (int i = 0; factors && i < n; i++) {
        tjscalingfactor f = factors[i];

        if (f.num > f.denom)
            continue;
        if (TJSCALED(w, f) < min_w || TJSCALED(h, f) < min_h)
            continue;
        if (TJSCALED(w, f) < TJSCALED(w, best))
            best = f;
    }
    return best;
}

int image_decode_jpeg(const uint8_t *data, size_t len,
                      const struct image_decode_opts *opts, struct image *out)
{
    int max_w = opts && opts->max_width > 0 ? opts->max_width
                                            : IMAGE_MAX_SIDE_DEFAULT;
    int max_h = opts && opts->max_height > 0 ? opts->max_height
                                             : IMAGE_MAX_SIDE_DEFAULT;
    int min_w = opts ? opts->min_width : 0;
    int min_h = opts ? opts->min_height : 0;
    int w, h, sw, sh, rc;
    tjscalingfactor f;
    uint8_t *pixels = NULL;
    tjhandle tj = tjInitDecompress();

    if (!tj)
        return ERR_NOMEM;
    rc = read_header(tj, data, len, &w, &h);
    if (rc)
        goto out_destroy;
    if (w > max_w || h > max_h) {
        rc = ERR_TOO_BIG;
        goto out_destroy;
    }

    /*
     * NEEDSWORK: the EXIF orientation tag is ignored, so a phone photo
     * stored sideways is analysed sideways and BlazeFace, trained on
     * upright faces, may miss a face in it.  Browser webcam frames carry
     * no EXIF, so only `analyze` on camera photos is affected.
     */
    f = pick_scale(w, h, min_w, min_h);
    sw = TJSCALED(w, f);
    sh = TJSCALED(h, f);
    pixels = malloc((size_t)sw * (size_t)sh * 3);
    if (!pixels) {
        rc = ERR_NOMEM;
        goto out_destroy;
    }

    /*
     * STOPONWARNING turns libjpeg's warnings (premature end of data,
     * corrupt entropy data) into failures: see image_decode_jpeg() in the
     * header.  LIMITSCANS caps progressive JPEGs at 500 scans, which
     * bounds the decoding time of a hostile frame.
     */
    if (tjDecompress2(tj, data, (unsigned long)len, pixels, sw, 0, sh,
                      TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)) {
        rc = ERR_CORRUPT;
        goto out_free_pixels;
    }

    out->width = sw;
    out->height = sh;
    out->src_width = w;
    out->src_height = h;
    out->pixels = pixels;
    tjDestroy(tj);
    return 0;

out_free_pixels:
    free(pixels);
out_destroy:
    tjDestroy(tj);
    return rc;
}

void image_window(const struct image *img, int x0, int y0, int tw, int th,
                  struct image *out)
{
    size_t row = (size_t)tw * 3;

    assert(x0 >= 0);
    assert(y0 >= 0);
    assert(tw > 0);
    assert(th > 0);
    assert(x0 + tw <= img->width);
    assert(y0 + th <= img->height);
    out->pixels = xmalloc(row * (size_t)th);
    for (int y = 0; y < th; y++)
        memcpy(out->pixels + (size_t)y * row,
               img->pixels + ((size_t)(y0 + y) * (size_t)img->width +
                              (size_t)x0) * 3,
               row);
    out->width = tw;
    out->height = th;
    out->src_width = (int)lroundf((float)tw * (float)img->src_width /
                                  (float)img->width);
    out->src_height = (int)lroundf((float)th * (float)img->src_height /
                                   (float)img->height);
}

/* Source sample positions of one axis: two indices and a weight per pixel. */
struct axis {
    int *lo;
    int *hi;
    float *frac;
};

/*
 * Fills ax for n destination pixels covering n_src source pixels, with
 * half-pixel centres and edges clamped.
 */
static void axis_init(struct axis *ax, int n, int n_src)
{
    float step = (float)n_src / (float)n;

    ax->lo = xmalloc((size_t)n * sizeof(*ax->lo));
    ax->hi = xmalloc((size_t)n * sizeof(*ax->hi));
    ax->frac = xmalloc((size_t)n * sizeof(*ax->frac));
    for (int i = 0; i < n; i++) {
        float s = ((float)i + 0.5f) * step - 0.5f;
        float fl;

        if (s < 0.0f)
            s = 0.0f;
        fl = floorf(s);
        ax->lo[i] = MIN((int)fl, n_src - 1);
        ax->hi[i] = MIN(ax->lo[i] + 1, n_src - 1);
        ax->frac[i] = s - fl;
    }
}

static void axis_release(struct axis *ax)
{
    free(ax->lo);
    free(ax->hi);
    free(ax->frac);
}

/*
 * Writes img resampled to cw x ch at (cx, cy) into a tw x th tensor, every
 * other pixel set to lo, values mapped from 0..255 to lo..hi.
 */
static void resample(const struct image *img, int tw, int th, int cx, int cy,
                     int cw, int ch, float lo, float hi, float *tensor)
{
    struct axis ax, ay;
    float k = (hi - lo) / 255.0f;
    size_t stride = (size_t)img->width * 3;

    axis_init(&ax, cw, img->width);
    axis_init(&ay, ch, img->height);

    for (size_t i = 0; i < (size_t)tw * (size_t)th * 3; i++)
        tensor[i] = lo;

    for (int y = 0; y < ch; y++) {
        const uint8_t *r0 = img->pixels + (size_t)ay.lo[y] * stride;
        const uint8_t *r1 = img->pixels + (size_t)ay.hi[y] * stride;
        float fy = ay.frac[y];
        float *dst = tensor + ((size_t)(cy + y) * (size_t)tw + (size_t)cx) * 3;

        for (int x = 0; x < cw; x++) {
            size_t x0 = (size_t)ax.lo[x] * 3, x1 = (size_t)ax.hi[x] * 3;
            float fx = ax.frac[x];

            for (size_t c = 0; c < 3; c++) {
                float top = r0[x0 + c] + (r0[x1 + c] - r0[x0 + c]) * fx;
                float bot = r1[x0 + c] + (r1[x1 + c] - r1[x0 + c]) * fx;

                dst[(size_t)x * 3 + c] = lo + (top + (bot - top) * fy) * k;
            }
        }
    }

    axis_release(&ay);
    axis_release(&ax);
}

void image_letterbox(const struct image *img, int size, float lo, float hi,
                     float *tensor, struct image_map *map)
{
    int longer = MAX(img->width, img->height);
    int cw = MAX(1, (int)lroundf((float)img->width * (float)size /
                                 (float)longer));
    int ch = MAX(1, (int)lroundf((float)img->height * (float)size /
                                 (float)longer));
    int cx = (size - cw) / 2, cy = (size - ch) / 2;

    resample(img, size, size, cx, cy, cw, ch, lo, hi, tensor);

    map->scale_x = (float)img->src_width / (float)cw;
    map->scale_y = (float)img->src_height / (float)ch;
    map->offset_x = -(float)cx * map->scale_x;
    map->offset_y = -(float)cy * map->scale_y;
}

void image_stretch(const struct image *img, int width, int height, float lo,
                   float hi, float *tensor, struct image_map *map)
{
    resample(img, width, height, 0, 0, width, height, lo, hi, tensor);

    map->scale_x = (float)img->src_width / (float)width;
    map->scale_y = (float)img->src_height / (float)height;
    map->offset_x = 0.0f;
    map->offset_y = 0.0f;
}

void image_measure_brightness(const struct image *img,
                              struct image_brightness *out)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    double sum = 0.0, sum_sq = 0.0, mean, var;

    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->pixels + i * 3;
        double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];

        sum += y;
        sum_sq += y * y;
    }

    mean = n ? sum / (double)n : 0.0;
    var = n ? sum_sq / (double)n - mean * mean : 0.0;
    out->mean_luma = (float)mean;
    out->contrast = (float)sqrt(var > 0.0 ? var : 0.0);
}
