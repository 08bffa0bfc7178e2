/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a whole file into memory with a cap on its size, for model
 * files, images given on the command line and recorded video.
 */
#ifndef PW_CORE_FILE_H
#define PW_CORE_FILE_H

#include "core/base.h"

/*
 * Read the file at path into a new buffer the caller frees with free(),
 * and its size into *len.  Returns 0, ERR_NOT_FOUND, ERR_IO, ERR_TOO_BIG
 * (the file has more than max bytes) or ERR_NOMEM; on error *out is NULL
 * and errno tells the cause of ERR_IO.
 */
int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len);

#endif
