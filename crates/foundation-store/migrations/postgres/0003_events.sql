-- The event store: streams, events with a gapless global position, subscription checkpoints.
-- Times are milliseconds since the Unix epoch.

-- One row holding the last global position handed out. Every append locks it
-- (SELECT … FOR UPDATE), so positions are assigned 1, 2, 3, … and commit in that order
-- (a sequence would not do: it leaves gaps on rollback and its values commit out of order).
-- Positions of events removed by retention are never reused.
CREATE TABLE foundation_event_head (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL
);
INSERT INTO foundation_event_head (id, position) VALUES (1, 0);

-- One row per stream ever written: its last version (the first event is version 0), the
-- version below which events were truncated, and whether it was deleted (a tombstone).
CREATE TABLE foundation_event_streams (
    stream           TEXT PRIMARY KEY,
    version          BIGINT NOT NULL,
    truncated_before BIGINT NOT NULL DEFAULT 0,
    deleted          BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE foundation_events (
    position       BIGINT PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    stream         TEXT NOT NULL,
    version        BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    data           TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    agent_id       TEXT,
    recorded_at    BIGINT NOT NULL,
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
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
