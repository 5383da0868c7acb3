-- depends: 0007.tasks
-- The pipeline engine (DESIGN §5): one row per step a task has reached, holding what the
-- step needs to resume after any crash or redelivery (the vendor's handle is saved before
-- anything else happens), and the provider events already applied (callback replays).
-- Internal only: nothing here reaches a client.
CREATE TABLE IF NOT EXISTS task_steps (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    task_id           BIGINT UNSIGNED NOT NULL,
    step_index        SMALLINT UNSIGNED NOT NULL,         -- position in the pipeline version
    step              VARCHAR(16)     NOT NULL,           -- prepare | generate | store
    status            VARCHAR(16)     NOT NULL DEFAULT 'running',
    provider_index    SMALLINT UNSIGNED NOT NULL DEFAULT 0,  -- generate: place in the chain
    provider_key      VARCHAR(32)     NULL,
    attempt           SMALLINT UNSIGNED NOT NULL DEFAULT 0,  -- attempts at this provider
    vendor_handle     VARCHAR(255)    NULL,               -- the vendor's job id (internal)
    polls             SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    deadline_at       DATETIME(3)     NULL,               -- generate: the step's deadline
    state             JSON            NULL,               -- what the step produced
    fallbacks         JSON            NULL,               -- [{provider, code, detail}]
    error_code        VARCHAR(64)     NULL,
    error_detail      VARCHAR(1024)   NULL,
    started_at        DATETIME(3)     NOT NULL,
    finished_at       DATETIME(3)     NULL,
    redriven_at       DATETIME(3)     NULL,               -- the reaper re-sent its message
    updated_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                      ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_task_steps_task_index (task_id, step_index),
    -- a callback names the vendor's job: find its step
    KEY ix_task_steps_handle (provider_key, vendor_handle),
    -- the reaper: unfinished steps nobody touched for a while
    KEY ix_task_steps_stale (status, updated_at),
    CONSTRAINT fk_task_steps_task FOREIGN KEY (task_id) REFERENCES tasks (id),
    CONSTRAINT ck_task_steps_status
        CHECK (status IN ('running', 'waiting', 'succeeded', 'failed')),
    CONSTRAINT ck_task_steps_state CHECK (state IS NULL OR JSON_VALID(state)),
    CONSTRAINT ck_task_steps_fallbacks CHECK (fallbacks IS NULL OR JSON_VALID(fallbacks))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Provider callbacks already applied, by the vendor's event id: a replay changes nothing.
CREATE TABLE IF NOT EXISTS provider_events (
    provider_key      VARCHAR(32)     NOT NULL,
    event_id          VARCHAR(128)    NOT NULL,
    received_at       DATETIME(3)     NOT NULL,
    PRIMARY KEY (provider_key, event_id),
    KEY ix_provider_events_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
