-- The durable task queue: declared queues, tasks, every failed attempt, recurring schedules.
-- Times are milliseconds since the Unix epoch.
CREATE TABLE foundation_queues (
    name        TEXT PRIMARY KEY,
    paused      BIGINT NOT NULL DEFAULT 0,
    concurrency BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE foundation_tasks (
    id               BIGSERIAL PRIMARY KEY,
    queue            TEXT NOT NULL REFERENCES foundation_queues (name),
    state            TEXT NOT NULL,
    priority         BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    run_at           BIGINT NOT NULL,
    attempt          BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    timeout_ms       BIGINT,
    backoff          TEXT NOT NULL,
    unique_key       TEXT,
    tags             TEXT NOT NULL,
    trace_context    TEXT,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    enqueued_at      BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);

-- At most one task per queue and unique key that is waiting, running or completed (until the
-- completed one is pruned); a cancelled or dead task frees its key.
CREATE UNIQUE INDEX foundation_tasks_unique
    ON foundation_tasks (queue, unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'completed');
CREATE INDEX foundation_tasks_fetch
    ON foundation_tasks (queue, priority, run_at, id) WHERE state = 'available';
CREATE INDEX foundation_tasks_leases
    ON foundation_tasks (queue, lease_expires_at) WHERE state = 'running';
CREATE INDEX foundation_tasks_finished
    ON foundation_tasks (state, finished_at);

-- Every failed attempt of a task, kept across requeues until the task is pruned or discarded.
CREATE TABLE foundation_task_attempts (
    id          BIGSERIAL PRIMARY KEY,
    task_id     BIGINT NOT NULL REFERENCES foundation_tasks (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    error       TEXT NOT NULL,
    worker      TEXT,
    failed_at   BIGINT NOT NULL
);
CREATE INDEX foundation_task_attempts_task ON foundation_task_attempts (task_id, id);

CREATE TABLE foundation_cron (
    name        TEXT PRIMARY KEY,
    queue       TEXT NOT NULL REFERENCES foundation_queues (name),
    schedule    TEXT NOT NULL,
    template    TEXT NOT NULL,
    next_run_at BIGINT NOT NULL
);
