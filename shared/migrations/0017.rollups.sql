-- depends: 0015.refresh_client
-- Rollups (issue 16 item 6): hourly, daily and weekly summaries the operator views read
-- instead of aggregating `tasks` per request. One long table: a metric's value per period and
-- per feature and provider ('*' = all of them, '' = none, e.g. a task canceled before any
-- provider took it). The rollup job (functions/jobs/rollup) recomputes whole periods: it
-- deletes a period's rows and inserts them again in one transaction, so a re-run of a period
-- gives the same rows and readers see the old rows or the new ones, never a mix.
CREATE TABLE IF NOT EXISTS rollups (
    grain             VARCHAR(8)      NOT NULL,           -- hour | day | week
    period_start      DATETIME        NOT NULL,           -- UTC; a week starts on Monday
    metric            VARCHAR(40)     NOT NULL,
    feature_key       VARCHAR(32)     NOT NULL DEFAULT '*',
    provider_key      VARCHAR(32)     NOT NULL DEFAULT '*',
    value             BIGINT          NOT NULL,
    computed_at       DATETIME(3)     NOT NULL,
    -- a series: one metric of one grain over a time range, read in order
    PRIMARY KEY (grain, metric, period_start, feature_key, provider_key),
    -- the job's recompute of one period
    KEY ix_rollups_period (grain, period_start),
    CONSTRAINT ck_rollups_grain CHECK (grain IN ('hour', 'day', 'week'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The bounded ranges the job aggregates: tasks by creation (covering: the tasks created per
-- feature and the distinct users of a range are read from the index alone) and by ending,
-- ledger rows and uploads by creation. And the admin task list without a user: newest first
-- by id, of one status (`ix_tasks_status`, i.e. (status, id)) or one feature (the feature
-- key's foreign-key index, (feature_key, id)).
ALTER TABLE tasks
    ADD KEY ix_tasks_created (created_at, feature_key, user_id),
    ADD KEY ix_tasks_finished (finished_at),
    ADD KEY ix_tasks_status (status);
ALTER TABLE quota_ledger
    ADD KEY ix_quota_ledger_created (created_at);
ALTER TABLE uploads
    ADD KEY ix_uploads_created (created_at);
