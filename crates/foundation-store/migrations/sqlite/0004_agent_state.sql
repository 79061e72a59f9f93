-- Persistent agent state: one row per key, with a version for optimistic concurrency.
CREATE TABLE foundation_agent_state (
    key        TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
