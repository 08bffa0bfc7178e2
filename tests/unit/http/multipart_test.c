/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multipart parsing: boundary parameters, bodies as curl -F and browsers'
 * FormData send them, preambles, padding, boundaries inside data, empty
 * parts and malformed bodies.  Each body is copied into a buffer of its
 * exact size, so the sanitizer build catches any read past its end.
 */
#include "core/base.h"
#include "http/multipart.h"

#include "core/err.h"

#include <setjmp.h>
#include <cmocka.h>

#define JPEG_BYTES "\xff\xd8\xff\xe0 jpeg \xff\xd9"

struct found {
    int ret;
    char *data;   /* owned copy of the part, NUL-terminated */
    size_t len;
};

/* Run multipart_find() over an exact-size copy of body. */
static struct found find(const char *content_type, const char *body,
                         size_t len, const char *type)
{
    uint8_t *copy = xmalloc(len ? len : 1);
    struct found f = {0, NULL, 0};
    const uint8_t *part = NULL;

    memcpy(copy, body, len);
    f.ret = multipart_find(content_type, copy, len, type, &part, &f.len);
    if (f.ret == 0) {
        assert_true(part >= copy && part + f.len <= copy + len);
        f.data = xstrndup((const char *)part, f.len);
    }
    free(copy);
    return f;
}

#define FIND(ct, body, type) find(ct, body, sizeof(body) - 1, type)

static void test_boundary__forms(void **state)
{
    char b[MULTIPART_MAX_BOUNDARY + 1];

    (void)state;
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc",
                                        b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(multipart_boundary("Multipart/Form-Data;BOUNDARY=x-1",
                                        b), 0);
    assert_string_equal(b, "x-1");
    assert_int_equal(multipart_boundary("multipart/mixed; charset=utf-8; "
                                        "boundary=\"a b:c\"", b), 0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "boundary=\"q\\\"\"; x=1", b),
                     ERR_INVALID); /* '"' is not a bchar */
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "boundary=\"tail\" ; a=\"b;c\"", b),
                     0);
    assert_string_equal(b, "tail");
}

static void test_boundary__rejects(void **state)
{
    char b[MULTIPART_MAX_BOUNDARY + 1];
    char *seventy = xasprintf("multipart/form-data; boundary=%070d", 7);
    char *seventy_one = xasprintf("multipart/form-data; boundary=%071d", 7);

    (void)state;
    assert_int_equal(multipart_boundary(seventy, b), 0);
    assert_int_equal(strlen(b), 70);
    assert_int_equal(multipart_boundary(seventy_one, b), ERR_INVALID);
    assert_int_equal(multipart_boundary("image/jpeg; boundary=a", b),
                     ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data", b),
                     ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "xboundary=a", b), ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=", b),
                     ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=a; "
                                        "boundary=b", b), ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "boundary=\"ends \"", b),
                     ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "boundary=\"open", b), ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data; "
                                        "boundary=a<b", b), ERR_INVALID);
    assert_int_equal(multipart_boundary("multipart/form-data boundary=a", b),
                     ERR_INVALID);
    free(seventy);
    free(seventy_one);
}

/* As `curl -F frame=@f.jpg;type=image/jpeg` (curl 7.88) sends it. */
static void test_find__curl_form(void **state)
{
    static const char body[] =
        "--------------------------d74496d66958873e\r\n"
        "Content-Disposition: form-data; name=\"frame\"; "
        "filename=\"f.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n"
        "\r\n" JPEG_BYTES "\r\n"
        "--------------------------d74496d66958873e--\r\n";
    struct found f = FIND("multipart/form-data; boundary="
                          "------------------------d74496d66958873e",
                          body, "image/jpeg");

    (void)state;
    assert_int_equal(f.ret, 0);
    assert_int_equal(f.len, sizeof(JPEG_BYTES) - 1);
    assert_memory_equal(f.data, JPEG_BYTES, f.len);
    free(f.data);
}

/* As Chromium's FormData sends a text field, then a Blob. */
static void test_find__browser_form(void **state)
{
    static const char body[] =
        "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
        "Content-Disposition: form-data; name=\"seq\"\r\n"
        "\r\n"
        "17\r\n"
        "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
        "Content-Disposition: form-data; name=\"frame\"; "
        "filename=\"blob\"\r\n"
        "Content-Type: image/jpeg\r\n"
        "\r\n" JPEG_BYTES "\r\n"
        "------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n";
    const char *ct = "multipart/form-data; "
                     "boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";
    struct found f = FIND(ct, body, "image/jpeg");

    (void)state;
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, JPEG_BYTES);
    free(f.data);

    /* The field without Content-Type is text/plain. */
    f = FIND(ct, body, "text/plain");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "17");
    free(f.data);
}

static void test_find__preamble_and_padding(void **state)
{
    static const char body[] =
        "This is the preamble; --b is not a delimiter here.\r\n"
        "--b \t\r\n"
        "content-TYPE :  IMAGE/JPEG; q=1\r\n"
        "X-Folded: a\r\n"
        " b\r\n"
        "\r\n"
        "pixels\r\n"
        "--b--";

    (void)state;
    struct found f = FIND("multipart/form-data; boundary=b", body,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "pixels");
    free(f.data);
}

static void test_find__third_of_several(void **state)
{
    static const char body[] =
        "--xyz\r\nContent-Type: text/plain\r\n\r\none\r\n"
        "--xyz\r\nContent-Type: image/png\r\n\r\ntwo\r\n"
        "--xyz\r\nContent-Type: image/jpeg\r\n\r\nthree\r\n"
        "--xyz\r\nContent-Type: image/jpeg\r\n\r\nfour\r\n"
        "--xyz--\r\n";

    (void)state;
    struct found f = FIND("multipart/mixed; boundary=xyz", body,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "three");
    free(f.data);
    f = FIND("multipart/mixed; boundary=xyz", body, "image/gif");
    assert_int_equal(f.ret, ERR_UNSUPPORTED);
}

static void test_find__quoted_boundary(void **state)
{
    static const char body[] =
        "--a b?c\r\nContent-Type: image/jpeg\r\n\r\nok\r\n--a b?c--\r\n";

    (void)state;
    struct found f = FIND("multipart/form-data; boundary=\"a b?c\"", body,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "ok");
    free(f.data);
}

static void test_find__missing_close(void **state)
{
    static const char found_first[] =
        "--b\r\nContent-Type: image/jpeg\r\n\r\nok\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nnever closed";
    static const char unterminated[] =
        "--b\r\nContent-Type: image/jpeg\r\n\r\ncut off";
    static const char no_part_after[] = "--b\r\n";
    static const char nothing_after[] = "--b";

    (void)state;
    /* The match is complete before the damage, so it is returned. */
    struct found f = FIND("multipart/form-data; boundary=b", found_first,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "ok");
    free(f.data);

    assert_int_equal(FIND("multipart/form-data; boundary=b", found_first,
                          "image/png").ret, ERR_INVALID);
    assert_int_equal(FIND("multipart/form-data; boundary=b", unterminated,
                          "image/jpeg").ret, ERR_INVALID);
    assert_int_equal(FIND("multipart/form-data; boundary=b", no_part_after,
                          "image/jpeg").ret, ERR_INVALID);
    assert_int_equal(FIND("multipart/form-data; boundary=b", nothing_after,
                          "image/jpeg").ret, ERR_INVALID);
}

static void test_find__boundary_inside_data(void **state)
{
    /* "--b" mid-line, and "--b" after CRLF followed by other bytes. */
    static const char body[] =
        "--b\r\nContent-Type: image/jpeg\r\n\r\n"
        "x--b\r\n--bb\r\n--b-x\r\n--b\tq\r\nend\r\n--b--\r\n";

    (void)state;
    struct found f = FIND("multipart/form-data; boundary=b", body,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "x--b\r\n--bb\r\n--b-x\r\n--b\tq\r\nend");
    free(f.data);
}

static void test_find__empty_parts(void **state)
{
    static const char empty_data[] =
        "--b\r\nContent-Type: image/jpeg\r\n\r\n\r\n--b--\r\n";
    static const char no_headers[] =
        "--b\r\n\r\nfield\r\n--b\r\nContent-Type: image/jpeg\r\n\r\nj\r\n"
        "--b--";
    static const char only_close[] = "--b--\r\n";

    (void)state;
    struct found f = FIND("multipart/form-data; boundary=b", empty_data,
                          "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_int_equal(f.len, 0);
    free(f.data);

    f = FIND("multipart/form-data; boundary=b", no_headers, "text/plain");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "field");
    free(f.data);
    f = FIND("multipart/form-data; boundary=b", no_headers, "image/jpeg");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "j");
    free(f.data);

    assert_int_equal(FIND("multipart/form-data; boundary=b", only_close,
                          "image/jpeg").ret, ERR_UNSUPPORTED);
    assert_int_equal(find("multipart/form-data; boundary=b", "", 0,
                          "image/jpeg").ret, ERR_INVALID);
}

/* Bare LF line ends are rejected: RFC 2046 and 7578 require CRLF. */
static void test_find__lf_only_rejected(void **state)
{
    static const char body[] =
        "--b\nContent-Type: image/jpeg\n\nok\n--b--\n";

    (void)state;
    assert_int_equal(FIND("multipart/form-data; boundary=b", body,
                          "image/jpeg").ret, ERR_INVALID);
}

static void test_find__malformed_headers(void **state)
{
    static const char no_colon[] =
        "--b\r\nContent-Type image/jpeg\r\n\r\nok\r\n--b--\r\n";
    static const char no_blank_line[] =
        "--b\r\nContent-Type: image/jpeg\r\nok\r\n--b--\r\n";

    (void)state;
    assert_int_equal(FIND("multipart/form-data; boundary=b", no_colon,
                          "image/jpeg").ret, ERR_INVALID);
    assert_int_equal(FIND("multipart/form-data; boundary=b", no_blank_line,
                          "image/jpeg").ret, ERR_INVALID);
}

static void test_find__part_cap(void **state)
{
    struct {
        char *s;
        size_t len;
    } t = {NULL, 0};
    const char *ct = "multipart/form-data; boundary=b";

    (void)state;
    /* MULTIPART_MAX_PARTS text parts, then the JPEG: one too many. */
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++) {
        const char *type = i < MULTIPART_MAX_PARTS ? "text/plain"
                                                   : "image/jpeg";
        char *part = xasprintf("--b\r\nContent-Type: %s\r\n\r\n%d\r\n", type,
                               i);
        size_t n = strlen(part);

        t.s = xrealloc(t.s, t.len + n + 8);
        memcpy(t.s + t.len, part, n);
        t.len += n;
        free(part);
    }
    memcpy(t.s + t.len, "--b--\r\n", 7);
    t.len += 7;
    assert_int_equal(find(ct, t.s, t.len, "image/jpeg").ret, ERR_TOO_BIG);

    /* A part before the cap is still found. */
    struct found f = find(ct, t.s, t.len, "text/plain");
    assert_int_equal(f.ret, 0);
    assert_string_equal(f.data, "0");
    free(f.data);
    free(t.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary__forms),
        cmocka_unit_test(test_boundary__rejects),
        cmocka_unit_test(test_find__curl_form),
        cmocka_unit_test(test_find__browser_form),
        cmocka_unit_test(test_find__preamble_and_padding),
        cmocka_unit_test(test_find__third_of_several),
        cmocka_unit_test(test_find__quoted_boundary),
        cmocka_unit_test(test_find__missing_close),
        cmocka_unit_test(test_find__boundary_inside_data),
        cmocka_unit_test(test_find__empty_parts),
        cmocka_unit_test(test_find__lf_only_rejected),
        cmocka_unit_test(test_find__malformed_headers),
        cmocka_unit_test(test_find__part_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
