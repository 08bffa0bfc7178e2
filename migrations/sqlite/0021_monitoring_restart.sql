-- SPDX-License-Identifier: Apache-2.0
-- What a restarted monitoring process needs to close the episodes its
-- predecessor left open.  updated_at is the server time (UTC ms) of the
-- last write of an open episode, including the one a clean shutdown
-- makes, so it is the latest time that process knew the episode still
-- held; NULL on rows written before this migration.  closed_by is
-- 'restart' for an episode a restarted process closed, and NULL for one
-- the rules engine closed.

ALTER TABLE monitoring_anomalies ADD COLUMN updated_at BIGINT;
ALTER TABLE monitoring_anomalies ADD COLUMN closed_by VARCHAR(16)
    CHECK (closed_by IN ('restart'));
