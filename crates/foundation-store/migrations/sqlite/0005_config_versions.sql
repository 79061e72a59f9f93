-- Config version history: every applied change of a named config, numbered 1, 2, 3, … per
-- name. The primary key is what makes appending race-free: two writers cannot both add the
-- same version.
CREATE TABLE foundation_config_versions (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    author     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    layers     TEXT NOT NULL,
    diff       TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
