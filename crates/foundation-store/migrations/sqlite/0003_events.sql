-- The event store: streams, events with a gapless global position, subscription checkpoints.
-- Times are milliseconds since the Unix epoch.

-- One row holding the last global position handed out. Every append locks it (SQLite: the
-- write lock of BEGIN IMMEDIATE), so positions are assigned 1, 2, 3, … and commit in that
-- order; positions of events removed by retention are never reused.
CREATE TABLE foundation_event_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
INSERT INTO foundation_event_head (id, position) VALUES (1, 0);

-- One row per stream ever written: its last version (the first event is version 0), the
-- version below which events were truncated, and whether it was deleted (a tombstone).
CREATE TABLE foundation_event_streams (
    stream           TEXT PRIMARY KEY,
    version          INTEGER NOT NULL,
    truncated_before INTEGER NOT NULL DEFAULT 0,
    deleted          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE foundation_events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    stream         TEXT NOT NULL,
    version        INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data           TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    agent_id       TEXT,
    recorded_at    INTEGER NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX foundation_events_type ON foundation_events (event_type, position);
CREATE INDEX foundation_events_correlation ON foundation_events (correlation_id, position)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX foundation_events_agent ON foundation_events (agent_id, position)
    WHERE agent_id IS NOT NULL;
CREATE INDEX foundation_events_time ON foundation_events (recorded_at, position);

-- The last position each persistent subscription (consumer) has processed.
CREATE TABLE foundation_event_checkpoints (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
