-- The schema-version ledger and the store-wide key/value metadata table.
CREATE TABLE IF NOT EXISTS foundation_schema_version (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS foundation_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
