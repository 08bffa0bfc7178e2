/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MJPEG splitting and Y4M reading for replay.  Frames are found once, at
 * open, as spans of the caller's buffer; nothing is copied until a Y4M
 * frame is encoded.  Every read is checked against the end of the input.
 */
#include "core/base.h"
#include "vision/video.h"

#include "core/err.h"

#include <turbojpeg.h>

/* Maximum length of a Y4M header or FRAME line. */
#define Y4M_MAX_LINE 4096

static const char y4m_magic[] = "YUV4MPEG2 ";

bool video_is_y4m(const uint8_t *data, size_t len)
{
    return len >= sizeof(y4m_magic) - 1 &&
           !memcmp(data, y4m_magic, sizeof(y4m_magic) - 1);
}

static int fail(struct video *v, int ret, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static int fail(struct video *v, int ret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v->error, sizeof(v->error), fmt, ap);
    va_end(ap);
    return ret;
}

static void add_frame(struct video *v, size_t *cap, size_t offset,
                      size_t len)
{
    if (v->n_frames == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        v->frames = xrealloc(v->frames, *cap * sizeof(*v->frames));
    }
    v->frames[v->n_frames++] = (struct video_span){offset, len};
}

/* ---- MJPEG ------------------------------------------------------------- */

/*
 * Return the length of the JPEG image at data (up to len bytes), or 0 when
 * no complete image starts there.  Marker segments carry their length, so
 * they are skipped whole up to SOS; after SOS the entropy-coded data runs
 * to the first marker other than a stuffed FF 00 or a restart marker
 * RST0-7.  A progressive image has several scans, each handled the same.
 */
static size_t jpeg_length(const uint8_t *data, size_t len)
{
    size_t i = 2;

    if (len < 4 || data[0] != 0xff || data[1] != 0xd8)
        return 0;
    while (i + 2 <= len) {
        uint8_t marker;
        size_t seg;

        if (data[i] != 0xff)
            return 0;
        marker = data[i + 1];
        if (marker == 0xff) { /* fill byte before a marker */
            i++;
            continue;
        }
        if (marker == 0xd9)
            return i + 2;
        if (marker == 0xd8 || marker == 0x00)
            return 0; /* a new image, or stuffing, where a marker belongs */
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
            i += 2; /* TEM and RSTn stand alone, without a length */
            continue;
        }
        if (i + 4 > len)
            return 0;
        seg = (size_t)data[i + 2] << 8 | data[i + 3];
        if (seg < 2 || seg > len - i - 2)
            return 0;
        i += 2 + seg;
        if (marker != 0xda)
            continue;

        while (i + 1 < len) {
            if (data[i] == 0xff && data[i + 1] != 0x00 &&
                !(data[i + 1] >= 0xd0 && data[i + 1] <= 0xd7))
                break;
            i++;
        }
    }
    return 0;
}

static int open_mjpeg(struct video *v, size_t len, size_t max_frames)
{
    const uint8_t *data = v->data;
    size_t pos = 0, cap = 0;

    v->format = VIDEO_MJPEG;
    while (pos + 4 <= len) {
        const uint8_t *ff = memchr(data + pos, 0xff, len - pos - 1);
        size_t jpeg_len;

        if (!ff)
            break;
        pos = (size_t)(ff - data);
        if (data[pos + 1] != 0xd8) {
            pos++;
            continue;
        }
        /*
         * NEEDSWORK: a damaged image is scanned to the point where it
         * fails, then the search resumes two bytes after its SOI.  A file
         * made of many SOI markers, each opening a long run of segments
         * that fails at the end, costs time quadratic in its size.
         */
        jpeg_len = jpeg_length(data + pos, len - pos);
        if (!jpeg_len) {
            v->skipped++;
            pos += 2;
            continue;
        }
        if (v->n_frames == max_frames) {
            v->cut = true;
            break;
        }
        add_frame(v, &cap, pos, jpeg_len);
        pos += jpeg_len;
    }
    if (!v->n_frames)
        return fail(v, ERR_CORRUPT, "no complete JPEG image found");
    return 0;
}

/* ---- Y4M --------------------------------------------------------------- */

/* Parse the decimal number of [s, end) into *out, 1..max. */
static bool parse_count(const char *s, const char *end, long max, int *out)
{
    long n = 0;

    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        n = n * 10 + (*s - '0');
        if (n > max)
            return false;
    }
    if (n < 1)
        return false;
    *out = (int)n;
    return true;
}

struct colour_space {
    const char *name;
    int subsamp;
};

static const struct colour_space colour_spaces[] = {
    {"420jpeg", TJSAMP_420}, {"420", TJSAMP_420}, {"420paldv", TJSAMP_420},
    {"420mpeg2", TJSAMP_420}, {"422", TJSAMP_422}, {"444", TJSAMP_444},
    {"mono", TJSAMP_GRAY},
};

/* Parse one header parameter [p, end), its tag letter first. */
static int parse_param(struct video *v, const char *p, const char *end)
{
    size_t n = (size_t)(end - p);
    const char *colon;

    switch (*p) {
    case 'W':
        if (!parse_count(p + 1, end, INT_MAX, &v->width))
            return fail(v, ERR_CORRUPT, "invalid Y4M width \"%.*s\"",
                        (int)MIN(n, 20), p);
        return 0;
    case 'H':
        if (!parse_count(p + 1, end, INT_MAX, &v->height))
            return fail(v, ERR_CORRUPT, "invalid Y4M height \"%.*s\"",
                        (int)MIN(n, 20), p);
        return 0;
    case 'F':
        colon = memchr(p, ':', n);
        if (!colon || !parse_count(p + 1, colon, INT_MAX, &v->fps_num) ||
            !parse_count(colon + 1, end, INT_MAX, &v->fps_den))
            return fail(v, ERR_CORRUPT, "invalid Y4M frame rate \"%.*s\": "
                        "expected F<num>:<den>", (int)MIN(n, 30), p);
        return 0;
    case 'C':
        for (size_t i = 0; i < ARRAY_SIZE(colour_spaces); i++) {
            if (n - 1 == strlen(colour_spaces[i].name) &&
                !memcmp(p + 1, colour_spaces[i].name, n - 1)) {
                v->subsamp = colour_spaces[i].subsamp;
                return 0;
            }
        }
        return fail(v, ERR_UNSUPPORTED, "unsupported Y4M colour space "
                    "\"%.*s\": expected C420jpeg, C420, C420paldv, "
                    "C420mpeg2, C422, C444 or Cmono", (int)MIN(n, 20), p);
    case 'X':
        if (n == 16 && !memcmp(p, "XCOLORRANGE=FULL", 16))
            v->full_range = true;
        return 0;
    default:
        return 0; /* I (interlacing), A (aspect) and unknown tags */
    }
}

static int parse_header(struct video *v, const char *line, const char *end)
{
    const char *p = line + sizeof(y4m_magic) - 1;
    int ret;

    v->subsamp = TJSAMP_420;
    while (p < end) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        const char *param_end = sp ? sp : end;

        if (param_end > p) {
            ret = parse_param(v, p, param_end);
            if (ret)
                return ret;
        }
        p = param_end + 1;
    }
    if (!v->width || !v->height)
        return fail(v, ERR_CORRUPT, "the Y4M header has no W or H");
    if (v->width > VIDEO_MAX_SIDE || v->height > VIDEO_MAX_SIDE)
        return fail(v, ERR_TOO_BIG, "Y4M frames of %dx%d are over the %d "
                    "pixel limit", v->width, v->height, VIDEO_MAX_SIDE);
    return 0;
}

/*
 * Pixel size of plane c as stored in a Y4M frame: chroma is rounded up as
 * in TurboJPEG, but luma is not padded to whole chroma samples.
 */
static void y4m_plane_size(const struct video *v, int c, int *w, int *h)
{
    *w = c ? tjPlaneWidth(c, v->width, v->subsamp) : v->width;
    *h = c ? tjPlaneHeight(c, v->height, v->subsamp) : v->height;
}

static int plane_count(const struct video *v)
{
    return v->subsamp == TJSAMP_GRAY ? 1 : 3;
}

/* Bytes of one frame's planes. */
static size_t y4m_frame_size(const struct video *v)
{
    size_t size = 0;

    for (int c = 0; c < plane_count(v); c++) {
        int w, h;

        y4m_plane_size(v, c, &w, &h);
        size += (size_t)w * (size_t)h;
    }
    return size;
}

static int open_y4m(struct video *v, size_t len, size_t max_frames)
{
    const char *text = (const char *)v->data;
    const char *nl = memchr(text, '\n', MIN(len, Y4M_MAX_LINE));
    size_t pos, frame_size, cap = 0;
    int ret;

    v->format = VIDEO_Y4M;
    if (!nl)
        return fail(v, ERR_CORRUPT, "the Y4M header line does not end "
                    "within %d bytes", Y4M_MAX_LINE);
    ret = parse_header(v, text, nl);
    if (ret)
        return ret;
    frame_size = y4m_frame_size(v);

    for (pos = (size_t)(nl + 1 - text); pos < len;) {
        const char *line = text + pos;
        size_t left = len - pos;

        nl = memchr(line, '\n', MIN(left, Y4M_MAX_LINE));
        if (!nl && left < Y4M_MAX_LINE &&
            !memcmp(line, "FRAME", MIN(left, 5))) {
            v->skipped++; /* a FRAME line cut short */
            break;
        }
        if (!nl || nl - line < 5 || memcmp(line, "FRAME", 5) ||
            (nl - line > 5 && line[5] != ' '))
            return fail(v, ERR_CORRUPT, "Y4M frame %zu does not start with "
                        "a FRAME line", v->n_frames + 1);
        pos += (size_t)(nl + 1 - line);
        if (frame_size > len - pos) {
            v->skipped++;
            break;
        }
        if (v->n_frames == max_frames) {
            v->cut = true;
            break;
        }
        add_frame(v, &cap, pos, frame_size);
        pos += frame_size;
    }
    if (!v->n_frames)
        return fail(v, ERR_CORRUPT, "the Y4M file has no complete frame");
    return 0;
}

int video_open(struct video *v, const uint8_t *data, size_t len,
               size_t max_frames)
{
    int ret;

    v->data = data;
    if (video_is_y4m(data, len))
        ret = open_y4m(v, len, max_frames);
    else
        ret = open_mjpeg(v, len, max_frames);
    if (ret) {
        char error[sizeof(v->error)];

        memcpy(error, v->error, sizeof(error));
        video_release(v);
        memcpy(v->error, error, sizeof(error));
    }
    return ret;
}

/* Bytes TurboJPEG reads for the planes of one frame. */
static size_t tj_frame_size(const struct video *v)
{
    size_t size = 0;

    for (int c = 0; c < plane_count(v); c++)
        size += tjPlaneSizeYUV(c, v->width, 0, v->height, v->subsamp);
    return size;
}

/*
 * Copy the Y4M planes at in to out in TurboJPEG's layout, which pads an
 * odd luma side of a subsampled frame by one sample: the last column and
 * row are repeated.  Limited-range samples (luma 16..235, chroma 16..240,
 * the Y4M default) are stretched to the 0..255 that JFIF assumes, or the
 * frame would look washed out to the detectors.
 */
static void copy_planes(const struct video *v, const uint8_t *in,
                        uint8_t *out, const uint8_t *planes[3])
{
    uint8_t luma[256], chroma[256];

    for (int x = 0; x < 256; x++) {
        int y = ((x - 16) * 255 + 109) / 219;
        int c = ((x - 128) * 255 + (x >= 128 ? 112 : -112)) / 224 + 128;

        luma[x] = v->full_range ? (uint8_t)x : (uint8_t)MIN(MAX(y, 0), 255);
        chroma[x] = v->full_range ? (uint8_t)x
                                  : (uint8_t)MIN(MAX(c, 0), 255);
    }
    for (int c = 0; c < plane_count(v); c++) {
        const uint8_t *lut = c == 0 ? luma : chroma;
        int w, h, tw = tjPlaneWidth(c, v->width, v->subsamp);
        int th = tjPlaneHeight(c, v->height, v->subsamp);

        y4m_plane_size(v, c, &w, &h);
        planes[c] = out;
        for (int row = 0; row < th; row++) {
            const uint8_t *src = in + (size_t)MIN(row, h - 1) * (size_t)w;

            for (int x = 0; x < tw; x++)
                *out++ = lut[src[MIN(x, w - 1)]];
        }
        in += (size_t)w * (size_t)h;
    }
}

int video_frame_jpeg(const struct video *v, size_t index,
                     const uint8_t **jpeg, size_t *len, uint8_t **owned)
{
    const struct video_span *f = &v->frames[index];
    const uint8_t *planes[3] = {NULL, NULL, NULL};
    unsigned long size, cap;
    uint8_t *scratch = NULL, *out = NULL;
    tjhandle tj = NULL;
    int ret;

    assert(index < v->n_frames);
    *owned = NULL;
    if (v->format == VIDEO_MJPEG) {
        *jpeg = v->data + f->offset;
        *len = f->len;
        return 0;
    }

    scratch = malloc(tj_frame_size(v));
    if (!scratch)
        return ERR_NOMEM;
    copy_planes(v, v->data + f->offset, scratch, planes);

    cap = tjBufSize(v->width, v->height, v->subsamp);
    out = cap == (unsigned long)-1 ? NULL : malloc(cap);
    tj = tjInitCompress();
    if (!out || !tj) {
        ret = ERR_NOMEM;
        goto out_free;
    }
    size = cap;
    if (tjCompressFromYUVPlanes(tj, planes, v->width, NULL, v->height,
                                v->subsamp, &out, &size, VIDEO_JPEG_QUALITY,
                                TJFLAG_NOREALLOC)) {
        ret = ERR_INTERNAL;
        goto out_free;
    }
    *jpeg = out;
    *len = size;
    *owned = out;
    out = NULL;
    ret = 0;

out_free:
    if (tj)
        tjDestroy(tj);
    free(out);
    free(scratch);
    return ret;
}

void video_release(struct video *v)
{
    free(v->frames);
    *v = (struct video)VIDEO_INIT;
}
