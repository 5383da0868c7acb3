-- depends: 0006.uploads 0005.catalog
-- Tasks (DESIGN §3, §5): one row per task a user asked for, the idempotency keys of
-- `POST /v1/tasks`, and the transactional outbox that carries each task's first step message.
-- Clients see public_id (tsk_...), never id or user_id.
CREATE TABLE IF NOT EXISTS tasks (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id         VARCHAR(40)     NOT NULL,
    user_id           BIGINT UNSIGNED NOT NULL,
    feature_key       VARCHAR(32)     NOT NULL,
    form_version      INT UNSIGNED    NOT NULL,           -- the form the inputs satisfied
    pipeline_version  INT UNSIGNED    NOT NULL,           -- the pipeline the task runs
    status            VARCHAR(16)     NOT NULL DEFAULT 'queued',
    inputs            JSON            NOT NULL,           -- as the client sent them
    output            JSON            NULL,               -- {images: [{key, width, height}]}
    error_code        VARCHAR(64)     NULL,               -- a registry code
    error_detail      VARCHAR(1024)   NULL,               -- internal: operators only
    cost              INT UNSIGNED    NOT NULL,           -- credits reserved at creation
    hidden            BOOLEAN         NOT NULL DEFAULT FALSE,  -- deleted by its owner
    revision          INT UNSIGNED    NOT NULL DEFAULT 1, -- +1 on every change (the ETag)
    created_at        DATETIME(3)     NOT NULL,
    started_at        DATETIME(3)     NULL,
    finished_at       DATETIME(3)     NULL,
    deadline_at       DATETIME(3)     NULL,
    updated_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                      ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_tasks_public_id (public_id),
    -- A user's visible tasks newest first, optionally by status or by feature: each list
    -- reads one of these indexes in order (keyset pagination on (created_at, public_id): no sort, no
    -- OFFSET, and no internal id in a cursor).
    KEY ix_tasks_user_list (user_id, hidden, created_at, public_id),
    KEY ix_tasks_user_status (user_id, hidden, status, created_at, public_id),
    KEY ix_tasks_user_feature (user_id, hidden, feature_key, created_at, public_id),
    -- the reaper: unfinished tasks by deadline
    KEY ix_tasks_status_deadline (status, deadline_at),
    CONSTRAINT fk_tasks_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_tasks_feature FOREIGN KEY (feature_key)
        REFERENCES feature_definitions (feature_key),
    CONSTRAINT ck_tasks_status
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    CONSTRAINT ck_tasks_inputs CHECK (JSON_VALID(inputs)),
    CONSTRAINT ck_tasks_output CHECK (output IS NULL OR JSON_VALID(output))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- `Idempotency-Key` of POST /v1/tasks, per user, for 24 h (DESIGN §3). A request claims its
-- key (`in_flight`, with a lease so a crashed request frees it) before any work, and the
-- transaction that creates the task marks it `done` with the response, so a key is done
-- exactly when its task exists.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id           BIGINT UNSIGNED NOT NULL,
    idempotency_key   VARCHAR(255)    NOT NULL,
    request_hash      CHAR(64)        NOT NULL,           -- sha256 of the canonical body
    state             VARCHAR(16)     NOT NULL DEFAULT 'in_flight',
    claim             CHAR(32)        NOT NULL,           -- who holds an in-flight key
    lease_until       DATETIME(3)     NOT NULL,
    task_id           BIGINT UNSIGNED NULL,
    response_status   SMALLINT UNSIGNED NULL,
    response_body     JSON            NULL,
    created_at        DATETIME(3)     NOT NULL,
    expires_at        DATETIME(3)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_idempotency_keys_user_key (user_id, idempotency_key),
    KEY ix_idempotency_keys_expires (expires_at),
    CONSTRAINT fk_idempotency_keys_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_idempotency_keys_task FOREIGN KEY (task_id) REFERENCES tasks (id),
    CONSTRAINT ck_idempotency_keys_state CHECK (state IN ('in_flight', 'done'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Transactional outbox (DESIGN §5): messages written in the transaction that makes them
-- true, published right after commit, and by the `outbox-relay` schedule if a crash came
-- between the two. Rows are kept a while after publishing for operators, then purged.
CREATE TABLE IF NOT EXISTS outbox (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    queue_name        VARCHAR(80)     NOT NULL,
    body              JSON            NOT NULL,
    delay_s           INT UNSIGNED    NOT NULL DEFAULT 0,
    created_at        DATETIME(3)     NOT NULL,
    published_at      DATETIME(3)     NULL,
    attempts          INT UNSIGNED    NOT NULL DEFAULT 0,
    last_error        VARCHAR(255)    NULL,
    PRIMARY KEY (id),
    -- the relay's scan: unpublished rows, oldest first
    KEY ix_outbox_unpublished (published_at, id),
    CONSTRAINT ck_outbox_body CHECK (JSON_VALID(body))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
