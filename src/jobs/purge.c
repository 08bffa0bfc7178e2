/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence retention.  Batches are read, deleted from the blob store, and
 * their keys cleared one by one, so an interrupted run leaves every row
 * either with its blob or without a key, never pointing at nothing for
 * long: the blob goes first, and a key whose blob is gone reads as "no
 * snapshot" (the evidence route returns 404 either way).
 */
#include "core/base.h"
#include "jobs/purge.h"

#include "blob/blob.h"
#include "core/err.h"
#include "core/id.h"
#include "store/store.h"

/* Rows handled per query. */
#define PURGE_BATCH 256

/* Size of a stored evidence key and its NUL. */
#define KEY_SIZE 201

struct victim {
    char id[ID_SIZE];
    char key[KEY_SIZE];
};

static int read_batch(struct store_conn *c, int64_t before_ms,
                      struct victim *out, size_t *n)
{
    struct store_stmt *st = NULL;
    int ret;

    *n = 0;
    ret = store_prepare(c, "SELECT id, evidence_key FROM monitoring_anomalies"
                           " WHERE evidence_key IS NOT NULL"
                           " AND created_at < ? ORDER BY created_at LIMIT ?",
                        &st);
    if (ret)
        return ret;
    if ((ret = store_bind_int64(st, 1, before_ms)) ||
        (ret = store_bind_int64(st, 2, PURGE_BATCH)))
        goto out_finalize;
    while ((ret = store_step(st)) == STORE_ROW && *n < PURGE_BATCH) {
        const char *id = store_column_text(st, 0, NULL);
        const char *key = store_column_text(st, 1, NULL);

        strlcpy_pw(out[*n].id, id ? id : "", sizeof(out[*n].id));
        strlcpy_pw(out[*n].key, key ? key : "", sizeof(out[*n].key));
        (*n)++;
    }
    if (ret == STORE_DONE || ret == STORE_ROW)
        ret = 0;

out_finalize:
    store_finalize(st);
    return ret;
}

static int clear_key(struct store_conn *c, const char *id)
{
    struct store_stmt *st = NULL;
    int ret;

    ret = store_prepare(c, "UPDATE monitoring_anomalies SET evidence_key ="
                           " NULL WHERE id = ?", &st);
    if (ret)
        return ret;
    ret = store_bind_text(st, 1, id);
    if (!ret)
        ret = store_step(st);
    store_finalize(st);
    return ret < 0 ? ret : 0;
}

int purge_evidence(struct store *st, struct blob_store *bs, int64_t before_ms,
                   int64_t *deleted)
{
    struct victim *batch = xcalloc(PURGE_BATCH, sizeof(*batch));
    struct store_conn *c;
    size_t n;
    int ret;

    *deleted = 0;
    ret = store_conn_get(st, &c);
    while (!ret) {
        ret = read_batch(c, before_ms, batch, &n);
        if (ret || n == 0)
            break;
        for (size_t i = 0; i < n && !ret; i++) {
            /* A key the blob store rejects cannot name a blob: drop it. */
            if (blob_key_is_valid(batch[i].key))
                ret = blob_delete(bs, batch[i].key);
            if (!ret)
                ret = clear_key(c, batch[i].id);
            if (!ret)
                (*deleted)++;
        }
    }
    free(batch);
    return ret;
}
