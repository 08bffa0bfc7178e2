/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Face and object detectors on the labelled fixture photos, on both back
 * ends, plus the hybrid detector's scheduling and model verification.  The
 * model tests need the weights: they are skipped unless PW_MODEL_DIR names
 * a directory filled by scripts/fetch-models.sh.
 */
#include "core/base.h"
#include "vision/detector.h"

#include <turbojpeg.h>
#include <unistd.h>

#include "core/err.h"
#include "vision/face.h"
#include "vision/models.h"
#include "vision/objects.h"

#include <setjmp.h>
#include <cmocka.h>

#define MAX_FIXTURES 64

struct fixture {
    char file[64];
    int faces;         /* faces visible, counted by eye */
    char objects[128]; /* comma-separated labels, "-" for none */
    int min_found;     /* fewest faces the detector must find (crowds) */
};

static struct fixture fixtures[MAX_FIXTURES];
static int n_fixtures;

static const char *source_dir(void)
{
    const char *src = getenv("PW_SOURCE_DIR");

    return src ? src : ".";
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (!fp)
        fail_msg("cannot open '%s'", path);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = xmalloc((size_t)size);
    assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *len = (size_t)size;
    return data;
}

static void load_labels(void)
{
    char *path = xasprintf("%s/tests/fixtures/photos/labels.tsv",
                           source_dir());
    FILE *fp = fopen(path, "r");
    char line[256];

    if (!fp)
        fail_msg("cannot open '%s'", path);
    n_fixtures = 0;
    assert_non_null(fgets(line, sizeof(line), fp)); /* header */
    while (fgets(line, sizeof(line), fp) && n_fixtures < MAX_FIXTURES) {
        struct fixture *f = &fixtures[n_fixtures];

        if (sscanf(line, "%63[^\t]\t%d\t%127[^\t\n]\t%d", f->file,
                   &f->faces, f->objects, &f->min_found) == 4)
            n_fixtures++;
    }
    fclose(fp);
    free(path);
    assert_true(n_fixtures >= 25);
}

static uint8_t *read_photo(const char *name, size_t *len)
{
    char *path = xasprintf("%s/tests/fixtures/photos/%s", source_dir(), name);
    uint8_t *data = read_file(path, len);

    free(path);
    return data;
}

static void decode_photo(const char *name, int min_side, struct image *img)
{
    struct image_decode_opts opts = {0, 0, min_side, min_side};
    size_t len;
    uint8_t *jpeg = read_photo(name, &len);

    assert_int_equal(image_decode_jpeg(jpeg, len, &opts, img), 0);
    free(jpeg);
}

static const char *model_dir(void)
{
    const char *dir = getenv("PW_MODEL_DIR");

    if (!dir || !*dir)
        skip();
    return dir;
}

/* True when label appears in the comma-separated list. */
static bool list_has(const char *list, const char *label)
{
    size_t n = strlen(label);

    for (const char *p = list; (p = strstr(p, label)) != NULL; p += n) {
        bool starts = p == list || p[-1] == ',';
        bool ends = p[n] == '\0' || p[n] == ',';

        if (starts && ends)
            return true;
    }
    return false;
}

static void check_face_counts(enum nn_backend backend)
{
    struct face_detector *d = NULL;
    struct face faces[FACE_MAX];
    char err[256];
    int wrong = 0;

    load_labels();
    assert_int_equal(face_detector_new(model_dir(), backend, 1, &d, err,
                                       sizeof(err)),
                     0);
    for (int i = 0; i < n_fixtures; i++) {
        struct image img = IMAGE_INIT;
        int n = -1;

        /* The size detector_process_jpeg() decodes at for faces. */
        decode_photo(fixtures[i].file, 2 * FACE_INPUT_SIZE, &img);
        assert_int_equal(face_detect(d, &img, NULL, faces, FACE_MAX, &n), 0);
        if (n > fixtures[i].faces || n < fixtures[i].min_found) {
            print_error("%s: %d faces detected, %d labelled, %d needed\n",
                        fixtures[i].file, n, fixtures[i].faces,
                        fixtures[i].min_found);
            wrong++;
        }
        for (int k = 0; k < n; k++) {
            assert_true(faces[k].score >= 0.6f);
            assert_true(faces[k].box[0] < faces[k].box[2]);
            assert_true(faces[k].box[1] < faces[k].box[3]);
            assert_true(faces[k].box[2] <= (float)img.src_width);
            assert_true(faces[k].box[3] <= (float)img.src_height);
        }
        image_release(&img);
    }
    face_detector_free(d);
    assert_int_equal(wrong, 0);
}

static void test_faces__counts_reference(void **state)
{
    (void)state;
    check_face_counts(NN_BACKEND_REFERENCE);
}

static void test_faces__counts_xnnpack(void **state)
{
    (void)state;
    check_face_counts(NN_BACKEND_XNNPACK);
}

/*
 * The man in dim_office.jpg, 46 pixels wide in a 640x400 frame, is too
 * small for the whole frame at 192 pixels and is found once the 2x2
 * windows run.
 */
static void test_faces__windows_find_small_face(void **state)
{
    struct face_config whole = FACE_CONFIG_DEFAULT;
    struct face_detector *d = NULL;
    struct face faces[FACE_MAX];
    struct image img = IMAGE_INIT;
    char err[256];
    int n = -1;

    (void)state;
    whole.tiles = FACE_TILES_OFF;
    assert_int_equal(face_detector_new(model_dir(), NN_BACKEND_XNNPACK, 1,
                                       &d, err, sizeof(err)),
                     0);
    decode_photo("dim_office.jpg", 2 * FACE_INPUT_SIZE, &img);
    assert_int_equal(face_detect(d, &img, &whole, faces, FACE_MAX, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(face_detect(d, &img, NULL, faces, FACE_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_true(faces[0].box[0] > 310 && faces[0].box[2] < 400);

    /* As a fallback, the windows run because the whole frame has none. */
    whole.tiles = FACE_TILES_WHEN_NONE;
    assert_int_equal(face_detect(d, &img, &whole, faces, FACE_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_true(faces[0].box[1] > 100 && faces[0].box[3] < 180);
    image_release(&img);
    face_detector_free(d);
}

static float iou(const float *a, const float *b)
{
    float ix = MIN(a[2], b[2]) - MAX(a[0], b[0]);
    float iy = MIN(a[3], b[3]) - MAX(a[1], b[1]);
    float inter = ix > 0 && iy > 0 ? ix * iy : 0.0f;

    return inter / ((a[2] - a[0]) * (a[3] - a[1]) +
                    (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/*
 * Runs the object detector on the photos named in only (NULL = all) and
 * checks that the forbidden objects found are exactly the labelled ones.
 */
static void check_objects(enum nn_backend backend, const char *const *only)
{
    /* The phone in phone_on_table.jpg, located by eye. */
    static const float phone_box[4] = {75, 325, 250, 455};
    struct objects_detector *d = NULL;
    struct object objs[OBJECTS_MAX];
    char err[256];
    int wrong = 0, checked = 0;

    load_labels();
    assert_int_equal(objects_detector_new(model_dir(), backend, 1, &d, err,
                                          sizeof(err)),
                     0);
    for (int i = 0; i < n_fixtures; i++) {
        const struct fixture *f = &fixtures[i];
        struct image img = IMAGE_INIT;
        bool wanted = !only;
        int n = -1;

        for (int k = 0; only && only[k]; k++)
            wanted |= strcmp(only[k], f->file) == 0;
        if (!wanted)
            continue;
        checked++;

        decode_photo(f->file, OBJECTS_INPUT_SIZE, &img);
        assert_int_equal(objects_detect(d, &img, NULL, objs, OBJECTS_MAX, &n),
                         0);
        for (int k = 0; k < n; k++) {
            assert_true(objects_is_forbidden(objs[k].class_id));
            if (!list_has(f->objects, objs[k].label)) {
                print_error("%s: unexpected %s (%.2f)\n", f->file,
                            objs[k].label, (double)objs[k].score);
                wrong++;
            }
        }
        for (int c = 0; c < OBJECTS_CLASS_COUNT; c++) {
            bool found = false;

            if (!objects_is_forbidden(c) ||
                !list_has(f->objects, objects_label(c)))
                continue;
            for (int k = 0; k < n; k++)
                found |= objs[k].class_id == c;
            if (!found) {
                print_error("%s: no %s found\n", f->file, objects_label(c));
                wrong++;
            }
        }
        if (strcmp(f->file, "phone_on_table.jpg") == 0) {
            assert_true(n >= 1);
            assert_int_equal(objs[0].class_id, OBJECTS_CLASS_CELL_PHONE);
            assert_true(iou(objs[0].box, phone_box) > 0.6f);
        }
        image_release(&img);
    }
    objects_detector_free(d);
    assert_true(checked > 0);
    assert_int_equal(wrong, 0);
}

static void test_objects__phone_found_reference(void **state)
{
    /* The plain-C back end is slow on CenterNet: a few photos only. */
    static const char *const some[] = {"phone_on_table.jpg",
                                       "desk_objects.jpg", NULL};

    (void)state;
    check_objects(NN_BACKEND_REFERENCE, some);
}

static void test_objects__labels_xnnpack(void **state)
{
    (void)state;
    check_objects(NN_BACKEND_XNNPACK, NULL);
}

/* Encodes a w x h frame of one grey level as a JPEG; caller tjFree()s. */
static uint8_t *encode_flat(int w, int h, uint8_t level, size_t *len)
{
    tjhandle tj = tjInitCompress();
    uint8_t *rgb = xmalloc((size_t)w * (size_t)h * 3);
    unsigned char *jpeg = NULL;
    unsigned long size = 0;

    memset(rgb, level, (size_t)w * (size_t)h * 3);
    assert_int_equal(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &size,
                                 TJSAMP_420, 85, 0),
                     0);
    tjDestroy(tj);
    free(rgb);
    *len = size;
    return jpeg;
}

static void test_detector__schedules_objects(void **state)
{
    struct detector_stream stream = DETECTOR_STREAM_INIT;
    struct detector *d = NULL;
    struct detection *det = xmalloc(sizeof(*det));
    char err[256];
    size_t len;
    uint8_t *jpeg;
    bool ran[7];

    (void)state;
    assert_int_equal(detector_new(model_dir(), NN_BACKEND_XNNPACK, 1, NULL,
                                  &d, err, sizeof(err)),
                     0);
    jpeg = read_photo("webcam_woman.jpg", &len);

    /* Frame 0 runs objects (first frame), 1-4 do not, 5 does again. */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(detector_process_jpeg(d, jpeg, len, &stream, 0, det),
                         0);
        assert_int_equal(det->n_faces, 1);
        assert_int_equal(det->largest_face, 0);
        assert_int_equal(det->width, 640);
        assert_false(det->too_dark);
        ran[i] = det->objects_ran;
    }
    assert_true(ran[0]);
    assert_false(ran[1]);
    assert_false(ran[4]);
    assert_true(ran[5]);
    assert_false(ran[6]);
    assert_int_equal(stream.frame_index, 7);

    assert_int_equal(detector_process_jpeg(d, jpeg, len, &stream,
                                           DETECTOR_OBJECTS_NOW, det),
                     0);
    assert_true(det->objects_ran);
    assert_true(det->ms_objects > 0.0);
    assert_true(det->ms_total >= det->ms_faces);
    free(jpeg);

    /* The face count rises to 3 on frame 8: objects run at once. */
    jpeg = read_photo("three_faces.jpg", &len);
    assert_int_equal(detector_process_jpeg(d, jpeg, len, &stream, 0, det),
                     0);
    assert_int_equal(det->n_faces, 3);
    assert_true(det->objects_ran);
    assert_int_equal(detector_process_jpeg(d, jpeg, len, &stream,
                                           DETECTOR_NO_OBJECTS, det),
                     0);
    assert_false(det->objects_ran);
    free(jpeg);

    detector_free(d);
    free(det);
}

static void test_detector__dark_frame_differs_from_empty(void **state)
{
    struct detector *d = NULL;
    struct detection *det = xmalloc(sizeof(*det));
    char err[256];
    size_t len;
    uint8_t *jpeg;

    (void)state;
    assert_int_equal(detector_new(model_dir(), NN_BACKEND_XNNPACK, 1, NULL,
                                  &d, err, sizeof(err)),
                     0);

    jpeg = encode_flat(640, 480, 8, &len);
    assert_int_equal(detector_process_jpeg(d, jpeg, len, NULL, 0, det), 0);
    assert_int_equal(det->n_faces, 0);
    assert_true(det->too_dark);
    assert_true(det->brightness.mean_luma < 12.0f);
    assert_false(det->objects_ran);
    tjFree(jpeg);

    /* An empty, lit room: no face, but not dark. */
    jpeg = read_photo("building_home.jpg", &len);
    assert_int_equal(detector_process_jpeg(d, jpeg, len, NULL, 0, det), 0);
    assert_int_equal(det->n_faces, 0);
    assert_false(det->too_dark);
    free(jpeg);

    detector_free(d);
    free(det);
}

static void test_detector__corrupt_frame_rejected(void **state)
{
    struct detector *d = NULL;
    struct detection *det = xmalloc(sizeof(*det));
    char err[256];
    size_t len;
    uint8_t *jpeg;

    (void)state;
    assert_int_equal(detector_new(model_dir(), NN_BACKEND_XNNPACK, 1, NULL,
                                  &d, err, sizeof(err)),
                     0);
    jpeg = read_photo("astronaut.jpg", &len);
    assert_int_equal(detector_process_jpeg(d, jpeg, len / 3, NULL, 0, det),
                     ERR_CORRUPT);
    assert_int_equal(detector_process_jpeg(d, (const uint8_t *)"hello", 5,
                                           NULL, 0, det),
                     ERR_CORRUPT);
    free(jpeg);
    detector_free(d);
    free(det);
}

static void test_models__missing_file_named(void **state)
{
    char err[512];
    char *path = (char *)"unchanged";
    struct face_detector *d = NULL;

    (void)state;
    assert_int_equal(models_locate("/nonexistent-dir", MODELS_CENTERNET_BIN,
                                   &path, err, sizeof(err)),
                     ERR_NOT_FOUND);
    assert_null(path);
    assert_non_null(strstr(err, "/nonexistent-dir/centernet.bin"));
    assert_non_null(strstr(err, "not found"));
    assert_non_null(strstr(err, MODELS_FETCH_COMMAND));

    assert_int_equal(face_detector_new("/nonexistent-dir",
                                       NN_BACKEND_REFERENCE, 1, &d, err,
                                       sizeof(err)),
                     ERR_NOT_FOUND);
    assert_null(d);
    assert_non_null(strstr(err, "face_detection_full_range.tflite"));
}

static void test_models__altered_file_rejected(void **state)
{
    char dir[] = "/tmp/pw-models-test-XXXXXX";
    char err[512];
    char *path = NULL, *file;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    file = xasprintf("%s/centernet.json", dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("{\"format\": \"graph-model\"}\n", fp);
    fclose(fp);

    assert_int_equal(models_locate(dir, MODELS_CENTERNET_JSON, &path, err,
                                   sizeof(err)),
                     ERR_CORRUPT);
    assert_null(path);
    assert_non_null(strstr(err, "centernet.json"));
    assert_non_null(strstr(err, "SHA-256"));

    remove(file);
    rmdir(dir);
    free(file);
}

static void test_models__sha256_of_known_text(void **state)
{
    char dir[] = "/tmp/pw-models-test-XXXXXX";
    char hex[65];
    char *file;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    file = xasprintf("%s/abc", dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("abc", fp);
    fclose(fp);

    /* FIPS 180-2 test vector for "abc". */
    assert_int_equal(models_sha256_file(file, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    remove(file);
    rmdir(dir);
    free(file);
}

static void test_models__digests_match_sha256sums(void **state)
{
    char *path = xasprintf("%s/models/SHA256SUMS", source_dir());
    FILE *fp = fopen(path, "r");
    char hex[65], name[128];
    int matched = 0;

    (void)state;
    assert_non_null(fp);
    while (fscanf(fp, "%64s %127s", hex, name) == 2) {
        for (int f = 0; f < MODELS_FILE_COUNT; f++) {
            if (strcmp(name, models_file_name((enum models_file)f)) != 0)
                continue;
            assert_string_equal(hex, models_file_sha256((enum models_file)f));
            matched++;
        }
    }
    fclose(fp);
    free(path);
    assert_int_equal(matched, MODELS_FILE_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models__missing_file_named),
        cmocka_unit_test(test_models__altered_file_rejected),
        cmocka_unit_test(test_models__sha256_of_known_text),
        cmocka_unit_test(test_models__digests_match_sha256sums),
        cmocka_unit_test(test_faces__counts_reference),
        cmocka_unit_test(test_faces__counts_xnnpack),
        cmocka_unit_test(test_faces__windows_find_small_face),
        cmocka_unit_test(test_objects__phone_found_reference),
        cmocka_unit_test(test_objects__labels_xnnpack),
        cmocka_unit_test(test_detector__schedules_objects),
        cmocka_unit_test(test_detector__dark_frame_differs_from_empty),
        cmocka_unit_test(test_detector__corrupt_frame_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
