-- SPDX-License-Identifier: Apache-2.0
-- Proctoring sessions, the browser events they received and the anomaly
-- episodes the rules engine raised.  Times are UTC milliseconds since the
-- epoch from the server clock; client_at keeps the browser's own clock,
-- stored for the record and never trusted.  exam_id and reservation_id are
-- opaque references until the exam catalog exists.

CREATE TABLE monitoring_sessions (
    id CHAR(26) NOT NULL PRIMARY KEY,
    exam_id VARCHAR(64) NOT NULL,
    user_id CHAR(26) NOT NULL,
    reservation_id VARCHAR(64),
    status VARCHAR(16) NOT NULL CHECK (status IN ('active', 'ended')),
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    frames_received BIGINT NOT NULL DEFAULT 0,
    frames_analysed BIGINT NOT NULL DEFAULT 0,
    frames_one_face BIGINT NOT NULL DEFAULT 0,
    frames_dropped BIGINT NOT NULL DEFAULT 0
);

-- One active session per student and exam: the partial index makes a
-- second concurrent start fail with a unique violation.
CREATE UNIQUE INDEX monitoring_sessions_active
    ON monitoring_sessions (user_id, exam_id) WHERE status = 'active';
CREATE INDEX monitoring_sessions_exam ON monitoring_sessions (exam_id, id);
CREATE INDEX monitoring_sessions_status ON monitoring_sessions (status, id);

CREATE TABLE monitoring_events (
    id INTEGER PRIMARY KEY,
    session_id CHAR(26) NOT NULL REFERENCES monitoring_sessions (id),
    type VARCHAR(32) NOT NULL,
    client_at BIGINT,
    received_at BIGINT NOT NULL
);
CREATE INDEX monitoring_events_session ON monitoring_events (session_id, id);

-- One row per episode.  evidence is the JSON list of detections and
-- events the episode rests on; evidence_key names the JPEG of the frame
-- that opened it in the blob store, NULL when none was stored or once the
-- retention job deleted it.
CREATE TABLE monitoring_anomalies (
    id CHAR(26) NOT NULL PRIMARY KEY,
    session_id CHAR(26) NOT NULL REFERENCES monitoring_sessions (id),
    exam_id VARCHAR(64) NOT NULL,
    user_id CHAR(26) NOT NULL,
    episode BIGINT NOT NULL,
    type VARCHAR(32) NOT NULL,
    label VARCHAR(24) NOT NULL DEFAULT '',
    severity VARCHAR(16) NOT NULL
        CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    confidence DOUBLE NOT NULL,
    frame_count INTEGER NOT NULL,
    opening_frame_seq BIGINT,
    evidence TEXT NOT NULL,
    evidence_key VARCHAR(200),
    review VARCHAR(16) NOT NULL DEFAULT 'pending'
        CHECK (review IN ('pending', 'confirmed', 'dismissed')),
    review_comment TEXT,
    reviewed_by CHAR(26),
    reviewed_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (session_id, episode)
);
CREATE INDEX monitoring_anomalies_evidence
    ON monitoring_anomalies (created_at) WHERE evidence_key IS NOT NULL;
