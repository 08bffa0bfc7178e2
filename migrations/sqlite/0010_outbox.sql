-- Transactional outbox: events written in the same transaction as the state
-- change they announce, for the bus to deliver at least once.
CREATE TABLE outbox_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    event_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_events_pending ON outbox_events (published_at, seq);
