/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The evidence retention job: delete the snapshots of anomalies created
 * before a cut-off from the blob store and forget their keys, so that a
 * proctoring photo is kept no longer than the retention setting.  The
 * anomaly rows and their detection records stay.
 */
#ifndef PW_JOBS_PURGE_H
#define PW_JOBS_PURGE_H

#include "core/base.h"

struct store;
struct blob_store;

/*
 * Delete every evidence snapshot of an anomaly created before before_ms
 * (UTC ms) from bs, then clear its key in st (both borrowed).  A blob
 * already missing counts as deleted.  Returns 0 with the number deleted
 * in *deleted, or the first store or blob error (snapshots deleted up to
 * then stay deleted and are counted).
 */
int purge_evidence(struct store *st, struct blob_store *bs, int64_t before_ms,
                   int64_t *deleted);

#endif
