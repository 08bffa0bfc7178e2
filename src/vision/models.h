/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pretrained model files the detectors load, located in a model
 * directory and checked against their SHA-256 digests before use, so a
 * truncated download or a swapped file fails with a message that names the
 * file and the command that fetches it, instead of as a wrong detection.
 */
#ifndef PW_VISION_MODELS_H
#define PW_VISION_MODELS_H

#include "core/base.h"

enum models_file {
    MODELS_FACE_FULL_RANGE,  /* BlazeFace full range, TFLite */
    MODELS_FACE_SHORT_RANGE, /* BlazeFace short range, TFLite */
    MODELS_CENTERNET_JSON,   /* CenterNet TF.js graph */
    MODELS_CENTERNET_BIN,    /* CenterNet TF.js weights */
    MODELS_FILE_COUNT,
};

/* The command that fills a model directory, for error messages. */
#define MODELS_FETCH_COMMAND "scripts/fetch-models.sh"

/* Returns the file name of f (a static string), e.g. "centernet.bin". */
const char *models_file_name(enum models_file f);

/* Returns the expected SHA-256 of f as 64 lowercase hex digits (static). */
const char *models_file_sha256(enum models_file f);

/*
 * Builds the path of f in dir, checks that the file exists and that its
 * SHA-256 matches, and returns 0 with a new string in *path that the caller
 * frees with free().  On failure *path is NULL, the status is ERR_NOT_FOUND
 * (missing), ERR_CORRUPT (digest differs) or ERR_IO (unreadable), and err
 * (err_size bytes, may be NULL) receives a one-line message naming the file
 * and the fetch command.  Thread-safe.
 */
int models_locate(const char *dir, enum models_file f, char **path,
                  char *err, size_t err_size);

/*
 * Computes the SHA-256 of the file at path into hex (65 bytes: 64 digits and
 * a NUL).  Returns 0, ERR_NOT_FOUND or ERR_IO.
 */
int models_sha256_file(const char *path, char hex[65]);

#endif
