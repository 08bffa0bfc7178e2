/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recorded video for replay: MJPEG splitting on fixture JPEGs (junk around
 * them, EOI bytes inside a segment, truncation) and Y4M files built here
 * from synthetic planes or a fixture photo's own YUV planes, encoded to
 * JPEG and decoded back.  Reads tests/fixtures/photos under PW_SOURCE_DIR.
 */
#include "core/base.h"
#include "vision/video.h"

#include "core/err.h"
#include "vision/image.h"

#include <math.h>
#include <setjmp.h>
#include <cmocka.h>
#include <turbojpeg.h>

struct bytes {
    uint8_t *data;  /* owned */
    size_t len;
};

static void append(struct bytes *b, const void *data, size_t len)
{
    b->data = xrealloc(b->data, b->len + len + 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void append_str(struct bytes *b, const char *s)
{
    append(b, s, strlen(s));
}

/* Reads fixture name into b; fails the test when missing. */
static void read_fixture(const char *name, struct bytes *b)
{
    const char *src = getenv("PW_SOURCE_DIR");
    char *path = xasprintf("%s/tests/fixtures/photos/%s", src ? src : ".",
                           name);
    FILE *fp = fopen(path, "rb");
    uint8_t chunk[4096];
    size_t n;

    if (!fp)
        fail_msg("cannot open fixture '%s'", path);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        append(b, chunk, n);
    fclose(fp);
    free(path);
}

/* Encode frame i of v, decode it, and return the RGB image. */
static void decode_frame(const struct video *v, size_t i, struct image *img)
{
    const uint8_t *jpeg;
    uint8_t *owned;
    size_t len;

    assert_int_equal(video_frame_jpeg(v, i, &jpeg, &len, &owned), 0);
    assert_true(len > 0);
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, img), 0);
    free(owned);
}

static double mean_channel(const struct image *img, int channel)
{
    double sum = 0;
    size_t n = (size_t)img->width * (size_t)img->height;

    for (size_t i = 0; i < n; i++)
        sum += img->pixels[3 * i + (size_t)channel];
    return sum / (double)n;
}

/* ---- MJPEG ------------------------------------------------------------- */

static void test_mjpeg__two_fixtures(void **state)
{
    struct bytes a = {NULL, 0}, b = {NULL, 0}, all = {NULL, 0};
    struct video v = VIDEO_INIT;
    struct image img = IMAGE_INIT;
    const uint8_t *jpeg;
    uint8_t *owned;
    size_t len;

    (void)state;
    read_fixture("four_faces.jpg", &a);
    read_fixture("portrait_man_beard.jpg", &b);
    append_str(&all, "junk \xff\xd8 before");
    append(&all, a.data, a.len);
    append_str(&all, "\xff\xff between");
    append(&all, b.data, b.len);
    append_str(&all, "after");

    assert_int_equal(video_open(&v, all.data, all.len, 100), 0);
    assert_int_equal(v.format, VIDEO_MJPEG);
    assert_int_equal(v.n_frames, 2);
    assert_false(v.cut);
    assert_int_equal(video_frame_jpeg(&v, 0, &jpeg, &len, &owned), 0);
    assert_null(owned);
    assert_int_equal(len, a.len);
    assert_memory_equal(jpeg, a.data, a.len);
    assert_int_equal(video_frame_jpeg(&v, 1, &jpeg, &len, &owned), 0);
    assert_int_equal(len, b.len);
    assert_memory_equal(jpeg, b.data, b.len);
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), 0);
    image_release(&img);
    video_release(&v);
    assert_null(v.frames);

    /* The frame cap keeps the first frame and sets cut. */
    assert_int_equal(video_open(&v, all.data, all.len, 1), 0);
    assert_int_equal(v.n_frames, 1);
    assert_true(v.cut);
    video_release(&v);
    free(a.data);
    free(b.data);
    free(all.data);
}

/* FF D9 inside an APP segment is data: the segment length skips it. */
static void test_mjpeg__eoi_inside_segment(void **state)
{
    static const uint8_t app1[] = {0xff, 0xe1, 0x00, 0x08, 0xff,
                                   0xd9, 0xff, 0xd9, 0xff, 0xd8};
    struct bytes a = {NULL, 0}, doctored = {NULL, 0}, all = {NULL, 0};
    struct video v = VIDEO_INIT;
    struct image img = IMAGE_INIT;
    const uint8_t *jpeg;
    uint8_t *owned;
    size_t len;

    (void)state;
    read_fixture("four_faces.jpg", &a);
    append(&doctored, a.data, 2);
    append(&doctored, app1, sizeof(app1));
    append(&doctored, a.data + 2, a.len - 2);
    append(&all, doctored.data, doctored.len);
    append(&all, doctored.data, doctored.len);

    assert_int_equal(video_open(&v, all.data, all.len, 100), 0);
    assert_int_equal(v.n_frames, 2);
    assert_int_equal(v.skipped, 0);
    assert_int_equal(video_frame_jpeg(&v, 1, &jpeg, &len, &owned), 0);
    assert_int_equal(len, doctored.len);
    assert_ptr_equal(jpeg, all.data + doctored.len);
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), 0);
    image_release(&img);
    video_release(&v);
    free(a.data);
    free(doctored.data);
    free(all.data);
}

static void test_mjpeg__truncated_and_corrupt(void **state)
{
    struct bytes a = {NULL, 0}, b = {NULL, 0}, all = {NULL, 0};
    struct video v = VIDEO_INIT;
    const uint8_t *jpeg;
    uint8_t *owned;
    size_t len;

    (void)state;
    read_fixture("four_faces.jpg", &a);
    read_fixture("portrait_man_beard.jpg", &b);

    /* The first image stops halfway through its scan. */
    append(&all, a.data, a.len / 2);
    append(&all, b.data, b.len);
    assert_int_equal(video_open(&v, all.data, all.len, 100), 0);
    assert_int_equal(v.n_frames, 1);
    assert_true(v.skipped >= 1);
    assert_int_equal(video_frame_jpeg(&v, 0, &jpeg, &len, &owned), 0);
    assert_int_equal(len, b.len);
    assert_memory_equal(jpeg, b.data, b.len);
    video_release(&v);

    /* Only a truncated image: nothing to send. */
    assert_int_equal(video_open(&v, a.data, a.len - 2, 100), ERR_CORRUPT);
    assert_string_equal(v.error, "no complete JPEG image found");
    assert_null(v.frames);

    /* A segment length running past the end. */
    assert_int_equal(video_open(&v, (const uint8_t *)"\xff\xd8\xff\xe0\xff"
                                "\xff\xff\xd9", 8, 100), ERR_CORRUPT);
    assert_int_equal(video_open(&v, (const uint8_t *)"", 0, 100),
                     ERR_CORRUPT);

    /* The smallest image: SOI, a scan of one byte, EOI. */
    assert_int_equal(video_open(&v, (const uint8_t *)"\xff\xd8\xff\xda\x00"
                                "\x02\x01\xff\x00\xff\xd0\xff\xd9", 13, 100),
                     0);
    assert_int_equal(v.n_frames, 1);
    assert_int_equal(v.frames[0].len, 13);
    video_release(&v);
    free(a.data);
    free(b.data);
    free(all.data);
}

/* ---- Y4M --------------------------------------------------------------- */

/* A Y4M file of header, then n frames each of the same planes. */
static void make_y4m(struct bytes *out, const char *header,
                     const uint8_t *planes, size_t planes_len, int n)
{
    append_str(out, header);
    for (int i = 0; i < n; i++) {
        append_str(out, i % 2 ? "FRAME Ixyz\n" : "FRAME\n");
        append(out, planes, planes_len);
    }
}

static void test_y4m__synthetic_420(void **state)
{
    /* 33x17: odd sides, so chroma planes are 17x9. */
    enum { W = 33, H = 17, CW = 17, CH = 9 };
    uint8_t planes[W * H + 2 * CW * CH];
    struct bytes f = {NULL, 0};
    struct video v = VIDEO_INIT;
    struct image img = IMAGE_INIT;
    double err = 0;

    (void)state;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++)
            planes[y * W + x] = (uint8_t)(40 + 5 * x + 2 * y);
    }
    memset(planes + W * H, 128, 2 * CW * CH);
    make_y4m(&f, "YUV4MPEG2 W33 H17 F30000:1001 It A1:1 C420jpeg "
             "XYSCSS=420JPEG XCOLORRANGE=FULL\n", planes, sizeof(planes), 3);

    assert_int_equal(video_open(&v, f.data, f.len, 100), 0);
    assert_int_equal(v.format, VIDEO_Y4M);
    assert_int_equal(v.width, 33);
    assert_int_equal(v.height, 17);
    assert_int_equal(v.fps_num, 30000);
    assert_int_equal(v.fps_den, 1001);
    assert_int_equal(v.n_frames, 3);
    assert_int_equal(v.skipped, 0);

    decode_frame(&v, 2, &img);
    assert_int_equal(img.width, 33);
    assert_int_equal(img.height, 17);
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++)
            err += abs(img.pixels[3 * i + c] - planes[i]);
    }
    /* Grey planes come back grey, within JPEG's loss at quality 85. */
    assert_true(err / (W * H * 3) < 2.0);
    image_release(&img);
    video_release(&v);
    free(f.data);
}

static void test_y4m__limited_range_expanded(void **state)
{
    enum { W = 16, H = 16 };
    uint8_t planes[W * H * 3 / 2];
    struct bytes black = {NULL, 0}, white = {NULL, 0};
    struct video v = VIDEO_INIT;
    struct image img = IMAGE_INIT;

    (void)state;
    memset(planes, 16, W * H);
    memset(planes + W * H, 128, W * H / 2);
    make_y4m(&black, "YUV4MPEG2 W16 H16 F5:1\n", planes, sizeof(planes), 1);
    memset(planes, 235, W * H);
    make_y4m(&white, "YUV4MPEG2 W16 H16 F5:1 XCOLORRANGE=LIMITED\n", planes,
             sizeof(planes), 1);

    assert_int_equal(video_open(&v, black.data, black.len, 100), 0);
    decode_frame(&v, 0, &img);
    assert_true(mean_channel(&img, 1) < 2.0);
    image_release(&img);
    video_release(&v);

    assert_int_equal(video_open(&v, white.data, white.len, 100), 0);
    decode_frame(&v, 0, &img);
    assert_true(mean_channel(&img, 1) > 253.0);
    image_release(&img);
    video_release(&v);
    free(black.data);
    free(white.data);
}

/* Each colour space with its plane layout; red in 4:4:4 shows V is used. */
static void test_y4m__colour_spaces(void **state)
{
    static const struct {
        const char *c;
        size_t chroma;    /* bytes of each chroma plane for 8x8 */
    } spaces[] = {{"C444", 64}, {"C422", 32}, {"C420mpeg2", 16},
                  {"C420paldv", 16}, {"C420", 16}, {"Cmono", 0}};

    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(spaces); s++) {
        uint8_t planes[64 * 3];
        char *header = xasprintf("YUV4MPEG2 W8 H8 F25:1 %s "
                                 "XCOLORRANGE=FULL\n", spaces[s].c);
        struct bytes f = {NULL, 0};
        struct video v = VIDEO_INIT;
        struct image img = IMAGE_INIT;

        /* BT.601 full range red: Y 76, Cb 85, Cr 255. */
        memset(planes, 76, 64);
        memset(planes + 64, 85, spaces[s].chroma);
        memset(planes + 64 + spaces[s].chroma, 255, spaces[s].chroma);
        make_y4m(&f, header, planes, 64 + 2 * spaces[s].chroma, 2);
        assert_int_equal(video_open(&v, f.data, f.len, 100), 0);
        assert_int_equal(v.n_frames, 2);
        decode_frame(&v, 1, &img);
        assert_int_equal(img.width, 8);
        if (spaces[s].chroma) {
            assert_true(mean_channel(&img, 0) > 240.0);
            assert_true(mean_channel(&img, 1) < 15.0);
        } else {
            assert_true(fabs(mean_channel(&img, 0) - 76.0) < 2.0);
            assert_true(fabs(mean_channel(&img, 1) - 76.0) < 2.0);
        }
        image_release(&img);
        video_release(&v);
        free(f.data);
        free(header);
    }
}

/* A fixture photo's own 4:2:0 planes survive the round trip. */
static void test_y4m__from_fixture(void **state)
{
    struct bytes jpeg = {NULL, 0}, f = {NULL, 0};
    struct video v = VIDEO_INIT;
    struct image orig = IMAGE_INIT, back = IMAGE_INIT;
    tjhandle tj = tjInitDecompress();
    int w, h, subsamp, cs;
    unsigned long yuv_len;
    uint8_t *yuv;
    char *header;
    double err = 0;

    (void)state;
    read_fixture("webcam_woman.jpg", &jpeg);
    assert_int_equal(tjDecompressHeader3(tj, jpeg.data, jpeg.len, &w, &h,
                                         &subsamp, &cs), 0);
    assert_int_equal(subsamp, TJSAMP_420);
    yuv_len = tjBufSizeYUV2(w, 1, h, TJSAMP_420);
    yuv = xmalloc(yuv_len);
    assert_int_equal(tjDecompressToYUV2(tj, jpeg.data, jpeg.len, yuv, w, 1,
                                        h, 0), 0);
    tjDestroy(tj);
    header = xasprintf("YUV4MPEG2 W%d H%d F10:1 Ip A0:0 C420jpeg "
                       "XCOLORRANGE=FULL\n", w, h);
    make_y4m(&f, header, yuv, yuv_len, 2);

    assert_int_equal(video_open(&v, f.data, f.len, 100), 0);
    assert_int_equal(v.n_frames, 2);
    decode_frame(&v, 1, &back);
    assert_int_equal(image_decode_jpeg(jpeg.data, jpeg.len, NULL, &orig),
                     0);
    assert_int_equal(back.width, orig.width);
    assert_int_equal(back.height, orig.height);
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
        err += abs(back.pixels[i] - orig.pixels[i]);
    assert_true(err / ((double)w * h * 3) < 4.0);

    image_release(&orig);
    image_release(&back);
    video_release(&v);
    free(header);
    free(yuv);
    free(jpeg.data);
    free(f.data);
}

static void test_y4m__truncated(void **state)
{
    uint8_t planes[4 * 4 * 3 / 2] = {0};
    struct bytes f = {NULL, 0};
    struct video v = VIDEO_INIT;

    (void)state;
    make_y4m(&f, "YUV4MPEG2 W4 H4 F5:1\n", planes, sizeof(planes), 2);

    /* The second frame loses its last byte, then its whole FRAME line. */
    assert_int_equal(video_open(&v, f.data, f.len - 1, 100), 0);
    assert_int_equal(v.n_frames, 1);
    assert_int_equal(v.skipped, 1);
    video_release(&v);
    assert_int_equal(video_open(&v, f.data, f.len - sizeof(planes) - 3, 100),
                     0);
    assert_int_equal(v.n_frames, 1);
    assert_int_equal(v.skipped, 1);
    video_release(&v);

    /* The cap drops the second frame. */
    assert_int_equal(video_open(&v, f.data, f.len, 1), 0);
    assert_int_equal(v.n_frames, 1);
    assert_true(v.cut);
    video_release(&v);

    /* The first frame incomplete: nothing to send. */
    assert_int_equal(video_open(&v, f.data, 21 + 6 + 5, 100), ERR_CORRUPT);
    assert_string_equal(v.error, "the Y4M file has no complete frame");
    assert_int_equal(video_open(&v, f.data, 21, 100), ERR_CORRUPT);
    free(f.data);
}

static void test_y4m__rejects(void **state)
{
    static const struct {
        const char *file;
        int ret;
        const char *error;   /* a part of v.error */
    } cases[] = {
        {"YUV4MPEG2 W4 H4 C422p10\nFRAME\n", ERR_UNSUPPORTED,
         "unsupported Y4M colour space \"C422p10\""},
        {"YUV4MPEG2 W4 H4 C444alpha\n", ERR_UNSUPPORTED, "C444alpha"},
        {"YUV4MPEG2 W8193 H4\n", ERR_TOO_BIG, "8193x4"},
        {"YUV4MPEG2 W4\nFRAME\n", ERR_CORRUPT, "no W or H"},
        {"YUV4MPEG2 W0 H4\n", ERR_CORRUPT, "invalid Y4M width \"W0\""},
        {"YUV4MPEG2 W4 H-4\n", ERR_CORRUPT, "height"},
        {"YUV4MPEG2 W99999999999 H4\n", ERR_CORRUPT, "width"},
        {"YUV4MPEG2 W4 H4 F30\n", ERR_CORRUPT, "frame rate \"F30\""},
        {"YUV4MPEG2 W4 H4 F30:0\n", ERR_CORRUPT, "frame rate"},
        {"YUV4MPEG2 W4 H4", ERR_CORRUPT, "header line"},
        {"YUV4MPEG2 W4 H4\nFRAMEX\n", ERR_CORRUPT, "frame 1 does not"},
        {"YUV4MPEG2 W4 H4\nframe\n", ERR_CORRUPT, "frame 1 does not"},
        {"YUV4MPEG2 W4 H4\n", ERR_CORRUPT, "no complete frame"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct video v = VIDEO_INIT;
        int ret = video_open(&v, (const uint8_t *)cases[i].file,
                             strlen(cases[i].file), 100);

        if (ret != cases[i].ret || !strstr(v.error, cases[i].error))
            fail_msg("\"%s\": got %d \"%s\", expected %d \"%s\"",
                     cases[i].file, ret, v.error, cases[i].ret,
                     cases[i].error);
        assert_null(v.frames);
    }
}

static void test_is_y4m(void **state)
{
    (void)state;
    assert_true(video_is_y4m((const uint8_t *)"YUV4MPEG2 W1", 12));
    assert_false(video_is_y4m((const uint8_t *)"YUV4MPEG2", 9));
    assert_false(video_is_y4m((const uint8_t *)"YUV4MPEG2\n", 10));
    assert_false(video_is_y4m((const uint8_t *)"\xff\xd8\xff", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mjpeg__two_fixtures),
        cmocka_unit_test(test_mjpeg__eoi_inside_segment),
        cmocka_unit_test(test_mjpeg__truncated_and_corrupt),
        cmocka_unit_test(test_y4m__synthetic_420),
        cmocka_unit_test(test_y4m__limited_range_expanded),
        cmocka_unit_test(test_y4m__colour_spaces),
        cmocka_unit_test(test_y4m__from_fixture),
        cmocka_unit_test(test_y4m__truncated),
        cmocka_unit_test(test_y4m__rejects),
        cmocka_unit_test(test_is_y4m),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
