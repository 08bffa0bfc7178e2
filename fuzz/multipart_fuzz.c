/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for multipart bodies: the first input line is the
 * Content-Type header value, the rest is the body.  Every part found must
 * lie inside the body; no input may crash or read past it.
 */
#include "core/base.h"
#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"image/jpeg", "text/plain"};
    const uint8_t *nl = memchr(data, '\n', size), *body, *part;
    size_t body_len, part_len;
    uint8_t *copy;
    char *ct;

    if (!nl)
        return 0;
    ct = xstrndup((const char *)data, (size_t)(nl - data));
    body_len = size - (size_t)(nl + 1 - data);

    /* An exact-size copy, so ASan reports a read one byte past the body. */
    copy = xmalloc(body_len ? body_len : 1);
    memcpy(copy, nl + 1, body_len);
    body = copy;
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        if (multipart_find(ct, body, body_len, types[i], &part,
                           &part_len) != 0)
            continue;
        if (part < body || part_len > body_len ||
            (size_t)(part - body) > body_len - part_len)
            BUG("part at %td+%zu outside a body of %zu", part - body,
                part_len, body_len);
    }
    free(copy);
    free(ct);
    return 0;
}
