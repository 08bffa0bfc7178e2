/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model file lookup and SHA-256 verification with libsodium.  The digests
 * here are the ones in models/SHA256SUMS, which scripts/fetch-models.sh
 * checks at download time; checking again at load time catches a file that
 * changed on disk since.
 */
#include "core/base.h"
#include "vision/models.h"

#include <sodium.h>

#include "core/err.h"

static const struct {
    const char *name;
    const char *sha256;
} files[MODELS_FILE_COUNT] = {
    [MODELS_FACE_FULL_RANGE] = {
        "face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"},
    [MODELS_FACE_SHORT_RANGE] = {
        "face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"},
    [MODELS_CENTERNET_JSON] = {
        "centernet.json",
        "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"},
    [MODELS_CENTERNET_BIN] = {
        "centernet.bin",
        "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"},
};

const char *models_file_name(enum models_file f)
{
    assert(f >= 0);
    assert(f < MODELS_FILE_COUNT);
    return files[f].name;
}

const char *models_file_sha256(enum models_file f)
{
    assert(f >= 0);
    assert(f < MODELS_FILE_COUNT);
    return files[f].sha256;
}

int models_sha256_file(const char *path, char hex[65])
{
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    unsigned char buf[65536];
    size_t n;
    int rc = 0;
    FILE *fp;

    /* sodium_init() is idempotent and thread-safe; -1 means no entropy. */
    if (sodium_init() < 0)
        return ERR_INTERNAL;

    fp = fopen(path, "rb");
    if (!fp)
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;

    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        crypto_hash_sha256_update(&st, buf, n);
    if (ferror(fp)) {
        rc = ERR_IO;
        goto out_close;
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof(digest));

out_close:
    fclose(fp);
    return rc;
}

int models_locate(const char *dir, enum models_file f, char **path,
                  char *err, size_t err_size)
{
    char hex[65];
    char *p = xasprintf("%s/%s", dir, models_file_name(f));
    int rc = models_sha256_file(p, hex);

    *path = NULL;
    if (rc == 0 && strcmp(hex, models_file_sha256(f)) != 0)
        rc = ERR_CORRUPT;

    if (rc && err && err_size) {
        const char *what = rc == ERR_NOT_FOUND ? "not found"
                           : rc == ERR_CORRUPT ? "has an unexpected SHA-256 "
                                                 "(altered or incomplete)"
                                               : "cannot be read";

        snprintf(err, err_size, "model file '%s' %s: run '%s %s'", p, what,
                 MODELS_FETCH_COMMAND, dir);
    }
    if (rc) {
        free(p);
        return rc;
    }
    *path = p;
    return 0;
}
