/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob store for evidence snapshots, reports and exports: named byte
 * objects behind one interface.  The local back end keeps each blob as a
 * file under a root directory; a WebHDFS back end is meant to fit behind
 * the same functions.  Keys are relative paths of safe segments
 * ("evidence/2026/12/04/<id>.jpg"); anything that could leave the root is
 * rejected.  Thread-safe: callers may share one struct blob_store.
 */
#ifndef PW_BLOB_BLOB_H
#define PW_BLOB_BLOB_H

#include "core/base.h"

struct blob_store;

/*
 * Open a blob store from url: "file:DIR" or a bare DIR for the local back
 * end (the directory is created if missing).  Other schemes return
 * ERR_UNSUPPORTED.  Returns 0 and a new store in *out, freed with
 * blob_store_free(), or ERR_IO / ERR_INVALID.
 */
int blob_store_open(const char *url, struct blob_store **out);
void blob_store_free(struct blob_store *bs);

/*
 * Store len bytes of data under key, replacing any blob of that key.  The
 * write is atomic: a reader sees the old blob or the whole new one, and a
 * blob acknowledged by a 0 return is on stable storage (fsync).  Returns 0,
 * ERR_INVALID for a bad key, or ERR_IO.
 */
int blob_put(struct blob_store *bs, const char *key, const void *data,
             size_t len);

/*
 * Read blob key into a new buffer the caller frees with free(); at most
 * max_len bytes (ERR_TOO_BIG beyond).  Returns 0, ERR_NOT_FOUND,
 * ERR_INVALID for a bad key, or ERR_IO.
 */
int blob_get(struct blob_store *bs, const char *key, size_t max_len,
             void **data, size_t *len);

/* Delete blob key; a missing blob is not an error.  0, ERR_INVALID, ERR_IO. */
int blob_delete(struct blob_store *bs, const char *key);

/* Whether key has the form blob functions accept. */
bool blob_key_is_valid(const char *key);

#endif
