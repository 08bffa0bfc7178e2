/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JPEG decoding (scaling, limits, damaged input), letterbox and stretch
 * resampling with their maps back to source pixels, and brightness.  Reads
 * photos from tests/fixtures/photos under PW_SOURCE_DIR (set by ctest).
 */
#include "core/base.h"
#include "vision/image.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>

/* Reads fixture name into a new buffer; fails the test when missing. */
static uint8_t *read_fixture(const char *name, size_t *len)
{
    const char *src = getenv("PW_SOURCE_DIR");
    char *path = xasprintf("%s/tests/fixtures/photos/%s", src ? src : ".",
                           name);
    FILE *fp = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (!fp)
        fail_msg("cannot open fixture '%s'", path);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = xmalloc((size_t)size);
    assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    free(path);
    *len = (size_t)size;
    return data;
}

static void test_decode__full_size(void **state)
{
    struct image img = IMAGE_INIT;
    size_t len;
    uint8_t *jpeg = read_fixture("chessboard_person.jpg", &len);

    (void)state;
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), 0);
    assert_int_equal(img.width, 640);
    assert_int_equal(img.height, 480);
    assert_int_equal(img.src_width, 640);
    assert_int_equal(img.src_height, 480);
    assert_non_null(img.pixels);
    image_release(&img);
    assert_null(img.pixels);
    free(jpeg);
}

static void test_decode__scales_to_model_size(void **state)
{
    struct image_decode_opts face = {0, 0, 192, 192};
    struct image_decode_opts objects = {0, 0, 512, 512};
    struct image_decode_opts tiny = {0, 0, 40, 40};
    struct image img = IMAGE_INIT;
    size_t len;
    uint8_t *jpeg = read_fixture("chessboard_person.jpg", &len);

    (void)state;
    /* 1/2 gives 320x240; 3/8 would give 240x180, under 192 in height. */
    assert_int_equal(image_decode_jpeg(jpeg, len, &face, &img), 0);
    assert_int_equal(img.width, 320);
    assert_int_equal(img.height, 240);
    assert_int_equal(img.src_width, 640);
    image_release(&img);

    /* 480 rows cannot reach 512: the full size is the best there is. */
    assert_int_equal(image_decode_jpeg(jpeg, len, &objects, &img), 0);
    assert_int_equal(img.width, 640);
    assert_int_equal(img.height, 480);
    image_release(&img);

    assert_int_equal(image_decode_jpeg(jpeg, len, &tiny, &img), 0);
    assert_int_equal(img.width, 80);
    assert_int_equal(img.height, 60);
    image_release(&img);
    free(jpeg);
}

static void test_decode__rejects_oversized(void **state)
{
    struct image_decode_opts small = {639, 0, 0, 0};
    struct image_decode_opts exact = {640, 480, 0, 0};
    struct image img = IMAGE_INIT;
    int w = 0, h = 0;
    size_t len;
    uint8_t *jpeg = read_fixture("chessboard_person.jpg", &len);

    (void)state;
    assert_int_equal(image_jpeg_size(jpeg, len, &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    assert_int_equal(image_decode_jpeg(jpeg, len, &small, &img),
                     ERR_TOO_BIG);
    assert_null(img.pixels);
    assert_int_equal(image_decode_jpeg(jpeg, len, &exact, &img), 0);
    image_release(&img);
    free(jpeg);
}

/* Patches the SOF0 frame size of a baseline JPEG to w x h. */
static void patch_size(uint8_t *jpeg, size_t len, int w, int h)
{
    for (size_t i = 2; i + 9 < len; i++) {
        if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) {
            jpeg[i + 5] = (uint8_t)(h >> 8);
            jpeg[i + 6] = (uint8_t)h;
            jpeg[i + 7] = (uint8_t)(w >> 8);
            jpeg[i + 8] = (uint8_t)w;
            return;
        }
    }
    fail_msg("no SOF marker found");
}

static void test_decode__huge_header_rejected_before_decoding(void **state)
{
    struct image img = IMAGE_INIT;
    size_t len;
    uint8_t *jpeg = read_fixture("cat.jpg", &len);

    (void)state;
    patch_size(jpeg, len, 60000, 60000);
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), ERR_TOO_BIG);
    assert_null(img.pixels);
    free(jpeg);
}

static void test_decode__truncated_is_corrupt(void **state)
{
    struct image img = IMAGE_INIT;
    size_t len;
    uint8_t *jpeg = read_fixture("coffee.jpg", &len);

    (void)state;
    /* libjpeg only warns about a premature end; it must still fail. */
    assert_int_equal(image_decode_jpeg(jpeg, len / 2, NULL, &img),
                     ERR_CORRUPT);
    assert_null(img.pixels);
    assert_int_equal(image_decode_jpeg(jpeg, len - 2, NULL, &img),
                     ERR_CORRUPT);
    assert_int_equal(image_decode_jpeg(jpeg, 100, NULL, &img), ERR_CORRUPT);
    free(jpeg);
}

static void test_decode__non_jpeg_is_corrupt(void **state)
{
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A,
                                  0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    static const uint8_t soi_only[] = {0xFF, 0xD8, 0xFF, 0xD9};
    struct image img = IMAGE_INIT;
    int w, h;

    (void)state;
    assert_int_equal(image_decode_jpeg(png, sizeof(png), NULL, &img),
                     ERR_CORRUPT);
    assert_int_equal(image_decode_jpeg(soi_only, sizeof(soi_only), NULL,
                                       &img),
                     ERR_CORRUPT);
    assert_int_equal(image_decode_jpeg(png, 0, NULL, &img), ERR_CORRUPT);
    assert_int_equal(image_decode_jpeg(NULL, 10, NULL, &img), ERR_CORRUPT);
    assert_int_equal(image_jpeg_size(png, sizeof(png), &w, &h), ERR_CORRUPT);
    assert_null(img.pixels);
}

static void test_decode__greyscale_to_rgb(void **state)
{
    struct image img = IMAGE_INIT;
    size_t len, n;
    uint8_t *jpeg = read_fixture("cameraman.jpg", &len);

    (void)state;
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), 0);
    assert_int_equal(img.width, 512);
    n = (size_t)img.width * (size_t)img.height;
    for (size_t i = 0; i < n; i += 997) {
        assert_int_equal(img.pixels[i * 3], img.pixels[i * 3 + 1]);
        assert_int_equal(img.pixels[i * 3], img.pixels[i * 3 + 2]);
    }
    image_release(&img);
    free(jpeg);
}

/* A w x h image of one grey value, with src size = 2 * (w, h). */
static struct image flat_image(int w, int h, uint8_t value)
{
    struct image img = {w, h, 2 * w, 2 * h, NULL};

    img.pixels = xmalloc((size_t)w * (size_t)h * 3);
    memset(img.pixels, value, (size_t)w * (size_t)h * 3);
    return img;
}

static void test_letterbox__pads_and_maps(void **state)
{
    struct image img = flat_image(4, 2, 255);
    struct image_map map;
    float t[8 * 8 * 3];

    (void)state;
    image_letterbox(&img, 8, -1.0f, 1.0f, t, &map);

    /* Content is 8x4, centred: rows 0-1 and 6-7 are padding (black). */
    for (int y = 0; y < 8; y++) {
        float expect = y >= 2 && y < 6 ? 1.0f : -1.0f;

        for (int x = 0; x < 8; x++)
            assert_float_equal(t[(y * 8 + x) * 3 + 1], expect, 1e-6);
    }

    /* Tensor (0, 2) is the source's top-left corner, (8, 6) bottom-right;
     * the source is twice the decoded size. */
    assert_float_equal(0 * map.scale_x + map.offset_x, 0.0, 1e-4);
    assert_float_equal(2 * map.scale_y + map.offset_y, 0.0, 1e-4);
    assert_float_equal(8 * map.scale_x + map.offset_x, 8.0, 1e-4);
    assert_float_equal(6 * map.scale_y + map.offset_y, 4.0, 1e-4);
    image_release(&img);
}

static void test_stretch__bilinear_and_maps(void **state)
{
    struct image img = flat_image(2, 1, 0);
    struct image_map map;
    float t[4 * 2 * 3];

    (void)state;
    /* Left pixel 0, right pixel 200: a horizontal ramp once upsampled. */
    memset(img.pixels + 3, 200, 3);
    image_stretch(&img, 4, 2, 0.0f, 255.0f, t, &map);

    /* Half-pixel centres: x = 0..3 sample source 0, 0.25, 0.75, 1. */
    assert_float_equal(t[0], 0.0, 1e-3);
    assert_float_equal(t[3], 50.0, 1e-3);
    assert_float_equal(t[6], 150.0, 1e-3);
    assert_float_equal(t[9], 200.0, 1e-3);
    assert_float_equal(t[(4 + 2) * 3 + 2], 150.0, 1e-3);

    assert_float_equal(map.scale_x, 1.0, 1e-6);  /* 4 src px over 4 */
    assert_float_equal(map.scale_y, 1.0, 1e-6);  /* 2 src px over 2 */
    assert_float_equal(map.offset_x, 0.0, 1e-6);
    image_release(&img);
}

static void test_letterbox__real_photo_values_in_range(void **state)
{
    struct image img = IMAGE_INIT;
    struct image_map map;
    float *t = xmalloc(sizeof(float) * 192 * 192 * 3);
    size_t len;
    uint8_t *jpeg = read_fixture("three_faces.jpg", &len);

    (void)state;
    assert_int_equal(image_decode_jpeg(jpeg, len, NULL, &img), 0);
    image_letterbox(&img, 192, -1.0f, 1.0f, t, &map);
    for (size_t i = 0; i < 192 * 192 * 3; i++) {
        assert_true(t[i] >= -1.0f);
        assert_true(t[i] <= 1.0f);
    }
    /* 640x319 fills 192x96 (rounded), centred with 48 rows above. */
    assert_float_equal(map.scale_x, 640.0f / 192.0f, 1e-4);
    assert_float_equal(48 * map.scale_y + map.offset_y, 0.0, 1e-3);
    free(t);
    image_release(&img);
    free(jpeg);
}

static void test_brightness__dark_and_contrast(void **state)
{
    struct image black = flat_image(4, 4, 0);
    struct image half = flat_image(4, 4, 0);
    struct image_brightness b;

    (void)state;
    image_measure_brightness(&black, &b);
    assert_float_equal(b.mean_luma, 0.0, 1e-4);
    assert_float_equal(b.contrast, 0.0, 1e-4);

    memset(half.pixels, 255, 4 * 2 * 3);
    image_measure_brightness(&half, &b);
    assert_float_equal(b.mean_luma, 127.5, 0.01);
    assert_float_equal(b.contrast, 127.5, 0.01);

    image_release(&black);
    image_release(&half);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode__full_size),
        cmocka_unit_test(test_decode__scales_to_model_size),
        cmocka_unit_test(test_decode__rejects_oversized),
        cmocka_unit_test(test_decode__huge_header_rejected_before_decoding),
        cmocka_unit_test(test_decode__truncated_is_corrupt),
        cmocka_unit_test(test_decode__non_jpeg_is_corrupt),
        cmocka_unit_test(test_decode__greyscale_to_rgb),
        cmocka_unit_test(test_letterbox__pads_and_maps),
        cmocka_unit_test(test_stretch__bilinear_and_maps),
        cmocka_unit_test(test_letterbox__real_photo_values_in_range),
        cmocka_unit_test(test_brightness__dark_and_contrast),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
