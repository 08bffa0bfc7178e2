/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.h.  The buffer grows as data arrives instead of trusting a size
 * from stat(), so a file that grows while it is read still stops at max.
 */
#include "core/base.h"
#include "core/file.h"

#include "core/err.h"

int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
    FILE *f;
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    int err = 0;

    *out = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    for (;;) {
        size_t got;

        if (size == cap) {
            uint8_t *grown;

            if (cap > max) {
                err = ERR_TOO_BIG;
                goto out_close;
            }
            cap = cap ? cap * 2 : 1 << 16;
            grown = realloc(data, cap);
            if (!grown) {
                err = ERR_NOMEM;
                goto out_close;
            }
            data = grown;
        }
        got = fread(data + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        err = ERR_IO;
    else if (size > max)
        err = ERR_TOO_BIG;

out_close:
    fclose(f);
    if (err < 0) {
        free(data);
        return err;
    }
    *out = data;
    *len = size;
    return 0;
}
