/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WebSocket layer without sockets: SHA-1 and the handshake key against
 * published vectors, and detached connections fed masked client frames to
 * check what the server parses, sends back and rejects.
 */
#include "core/base.h"

#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/ws.h"
#include "http/ws_int.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_sha1(const char *data, size_t len, const char *expected)
{
    uint8_t digest[20];
    char text[41];

    ws__sha1(data, len, digest);
    hex(digest, sizeof(digest), text);
    assert_string_equal(text, expected);
}

static void test_sha1__fips_vectors(void **state UNUSED)
{
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

/* Lengths around the 55/56 and 64-byte padding boundaries. */
static void test_sha1__block_boundaries(void **state UNUSED)
{
    static const struct {
        size_t len;
        const char *digest;
    } cases[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char a[128];

    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        check_sha1(a, cases[i].len, cases[i].digest);
}

static void test_sha1__million_a(void **state UNUSED)
{
    char *a = xmalloc(1000000);

    memset(a, 'a', 1000000);
    check_sha1(a, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(a);
}

/* The example handshake of RFC 6455 section 1.3. */
static void test_accept_key__rfc_example(void **state UNUSED)
{
    char out[WS_ACCEPT_SIZE];

    ws__accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/*
 * A client frame: FIN and opcode, masked with a fixed key as RFC 6455
 * requires.
 */
static size_t client_frame(uint8_t *out, bool fin, uint8_t opcode,
                           const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t n = 0;

    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[n++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(out + n, key, 4);
    n += 4;
    for (size_t i = 0; i < len; i++)
        out[n + i] = ((const uint8_t *)payload)[i] ^ key[i % 4];
    return n + len;
}

struct recorder {
    int texts;
    int binaries;
    char last[256];
    size_t last_len;
    int close_code;
    int closes;
    bool echo;
};

static struct recorder rec;

static void rec_text(struct ws *ws, const char *data, size_t len)
{
    rec.texts++;
    rec.last_len = len;
    memcpy(rec.last, data, MIN(len, sizeof(rec.last)));
    if (rec.echo)
        assert_int_equal(ws_send_text(ws, data, len), 0);
}

static void rec_binary(struct ws *ws UNUSED, const uint8_t *data, size_t len)
{
    rec.binaries++;
    rec.last_len = len;
    memcpy(rec.last, data, MIN(len, sizeof(rec.last)));
}

static void rec_close(struct ws *ws UNUSED, int code)
{
    rec.closes++;
    rec.close_code = code;
}

static const struct ws_callbacks rec_callbacks = {
    .on_text = rec_text,
    .on_binary = rec_binary,
    .on_close = rec_close,
};

static struct ws *new_conn(size_t queue_cap, size_t max_message)
{
    memset(&rec, 0, sizeof(rec));
    return ws__new_detached(&rec_callbacks, NULL, NULL, queue_cap,
                            max_message);
}

/* The status code of the close frame at out[off], or -1 when there is none. */
static int close_code_at(const struct buf *out, size_t off)
{
    const uint8_t *d = (const uint8_t *)out->data;

    if (out->len < off + 4 || d[off] != 0x88)
        return -1;
    return d[off + 2] << 8 | d[off + 3];
}

static void test_feed__text_reaches_callback(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frame[64];
    size_t n = client_frame(frame, true, 0x1, "hello", 5);

    assert_int_equal(ws__feed(ws, frame, n), 0);
    assert_int_equal(rec.texts, 1);
    assert_int_equal(rec.last_len, 5);
    assert_memory_equal(rec.last, "hello", 5);
    ws_unref(ws);
    assert_int_equal(rec.closes, 1);
    assert_int_equal(rec.close_code, 1006);
}

static void test_feed__byte_by_byte(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frame[64];
    size_t n = client_frame(frame, true, 0x2, "\x00\x01\x02", 3);

    for (size_t i = 0; i < n; i++)
        assert_int_equal(ws__feed(ws, frame + i, 1), 0);
    assert_int_equal(rec.binaries, 1);
    assert_memory_equal(rec.last, "\x00\x01\x02", 3);
    ws_unref(ws);
}

static void test_feed__fragments_joined(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frames[64];
    size_t n = client_frame(frames, false, 0x1, "hel", 3);

    n += client_frame(frames + n, true, 0x0, "lo", 2);
    assert_int_equal(ws__feed(ws, frames, n), 0);
    assert_int_equal(rec.texts, 1);
    assert_int_equal(rec.last_len, 5);
    assert_memory_equal(rec.last, "hello", 5);
    ws_unref(ws);
}

static void test_feed__echo_written_unmasked(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frame[64];
    size_t n = client_frame(frame, true, 0x1, "ping me", 7);

    rec.echo = true;
    assert_int_equal(ws__feed(ws, frame, n), 0);
    const struct buf *out = ws__output(ws);
    assert_int_equal(out->len, 9);
    assert_int_equal((uint8_t)out->data[0], 0x81); /* FIN, text */
    assert_int_equal((uint8_t)out->data[1], 7);    /* no mask bit */
    assert_memory_equal(out->data + 2, "ping me", 7);
    ws_unref(ws);
}

static void test_feed__invalid_utf8_closes_1007(void **state UNUSED)
{
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong "/" */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "ok\xc3",           /* truncated */
        "\xff",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct ws *ws = new_conn(4096, 1024);
        uint8_t frame[64];
        size_t n = client_frame(frame, true, 0x1, bad[i], strlen(bad[i]));

        /* A protocol failure ends the connection after the close frame. */
        assert_int_equal(ws__feed(ws, frame, n), ERR_IO);
        assert_int_equal(rec.texts, 0);
        assert_int_equal(close_code_at(ws__output(ws), 0), 1007);
        ws_unref(ws);
    }
}

static void test_feed__utf8_text_accepted(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    const char *text = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    uint8_t frame[64];
    size_t n = client_frame(frame, true, 0x1, text, strlen(text));

    assert_int_equal(ws__feed(ws, frame, n), 0);
    assert_int_equal(rec.texts, 1);
    assert_memory_equal(rec.last, text, strlen(text));
    ws_unref(ws);
}

static void test_feed__too_big_closes_1009(void **state UNUSED)
{
    struct ws *ws = new_conn(8192, 1024);
    uint8_t *payload = xcalloc(1, 2000);
    uint8_t *frame = xmalloc(2100);
    size_t n = client_frame(frame, true, 0x2, payload, 2000);

    assert_int_equal(ws__feed(ws, frame, n), ERR_IO);
    assert_int_equal(rec.binaries, 0);
    assert_int_equal(close_code_at(ws__output(ws), 0), 1009);
    free(payload);
    free(frame);
    ws_unref(ws);
}

static void test_feed__ping_answered_with_pong(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frame[64];
    size_t n = client_frame(frame, true, 0x9, "xy", 2);

    assert_int_equal(ws__feed(ws, frame, n), 0);
    const struct buf *out = ws__output(ws);
    assert_int_equal(out->len, 4);
    assert_int_equal((uint8_t)out->data[0], 0x8a); /* FIN, pong */
    assert_memory_equal(out->data + 2, "xy", 2);
    ws_unref(ws);
}

static void test_feed__close_handshake_ends(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    uint8_t frame[64];
    uint8_t payload[2] = {0x03, 0xe8}; /* 1000 */
    size_t n = client_frame(frame, true, 0x8, payload, 2);

    assert_int_equal(ws__feed(ws, frame, n), ERR_IO);
    assert_int_equal(close_code_at(ws__output(ws), 0), 1000);
    assert_int_equal(rec.closes, 1);
    assert_int_equal(rec.close_code, 1000);
    assert_int_equal(ws_send_text(ws, "late", 4), ERR_CONFLICT);
    ws_unref(ws);
    assert_int_equal(rec.closes, 1);
}

static void test_feed__unmasked_frame_rejected(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    const uint8_t frame[] = {0x81, 0x02, 'h', 'i'};

    assert_int_equal(ws__feed(ws, frame, sizeof(frame)), ERR_IO);
    assert_int_equal(rec.texts, 0);
    assert_int_equal(close_code_at(ws__output(ws), 0), 1002);
    ws_unref(ws);
}

static void test_close__sent_after_queued_messages(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);

    assert_int_equal(ws_send_text(ws, "last", 4), 0);
    ws_close(ws, WS_CLOSE_TOKEN_EXPIRED, "token expired");
    ws_close(ws, 1000, "second call ignored");
    assert_int_equal(ws_send_text(ws, "after", 5), ERR_CONFLICT);
    assert_int_equal(ws__feed(ws, NULL, 0), 0);

    const struct buf *out = ws__output(ws);
    assert_int_equal((uint8_t)out->data[0], 0x81);
    assert_memory_equal(out->data + 2, "last", 4);
    assert_int_equal(close_code_at(out, 6), 4001);
    assert_int_equal((uint8_t)out->data[7], 2 + strlen("token expired"));
    assert_memory_equal(out->data + 10, "token expired", 13);
    ws_unref(ws);
}

static void test_queue__over_cap_closes_1008(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    char block[1000];

    memset(block, 'x', sizeof(block));
    for (int i = 0; i < 4; i++)
        assert_int_equal(ws_send_text(ws, block, sizeof(block)), 0);
    assert_int_equal(ws_send_text(ws, block, sizeof(block)), ERR_BUSY);
    assert_int_equal(ws__close_requested(ws), WS_CLOSE_POLICY);
    assert_int_equal(ws_send_text(ws, "x", 1), ERR_CONFLICT);

    /* The queue is dropped and the close goes out at once. */
    assert_int_equal(ws__feed(ws, NULL, 0), 0);
    assert_int_equal(close_code_at(ws__output(ws), 0), 1008);
    ws_unref(ws);
}

static void test_queue__message_over_cap_rejected(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    char *big = xcalloc(1, 5000);

    assert_int_equal(ws_send_binary(ws, big, 5000), ERR_TOO_BIG);
    assert_int_equal(ws__close_requested(ws), 0);
    free(big);
    ws_unref(ws);
}

static void test_queue__pop_in_order(void **state UNUSED)
{
    struct ws *ws = new_conn(4096, 1024);
    size_t len;
    bool binary;

    assert_int_equal(ws_send_text(ws, "one", 3), 0);
    assert_int_equal(ws_send_binary(ws, "two", 3), 0);
    char *m = ws__pop(ws, &len, &binary);
    assert_string_equal(m, "one");
    assert_false(binary);
    free(m);
    m = ws__pop(ws, &len, &binary);
    assert_string_equal(m, "two");
    assert_true(binary);
    free(m);
    assert_null(ws__pop(ws, &len, &binary));
    ws_unref(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1__fips_vectors),
        cmocka_unit_test(test_sha1__block_boundaries),
        cmocka_unit_test(test_sha1__million_a),
        cmocka_unit_test(test_accept_key__rfc_example),
        cmocka_unit_test(test_feed__text_reaches_callback),
        cmocka_unit_test(test_feed__byte_by_byte),
        cmocka_unit_test(test_feed__fragments_joined),
        cmocka_unit_test(test_feed__echo_written_unmasked),
        cmocka_unit_test(test_feed__invalid_utf8_closes_1007),
        cmocka_unit_test(test_feed__utf8_text_accepted),
        cmocka_unit_test(test_feed__too_big_closes_1009),
        cmocka_unit_test(test_feed__ping_answered_with_pong),
        cmocka_unit_test(test_feed__close_handshake_ends),
        cmocka_unit_test(test_feed__unmasked_frame_rejected),
        cmocka_unit_test(test_close__sent_after_queued_messages),
        cmocka_unit_test(test_queue__over_cap_closes_1008),
        cmocka_unit_test(test_queue__message_over_cap_rejected),
        cmocka_unit_test(test_queue__pop_in_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
