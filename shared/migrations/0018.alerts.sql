-- depends: 0015.refresh_client 0008.pipeline
-- Alerts (retouch.alerts, the `monitor` job): the rules, versioned like the catalog (every
-- change is a new version; the highest is in force), and one state row per rule and subject.

CREATE TABLE IF NOT EXISTS alert_rule_versions (
    version     INT UNSIGNED    NOT NULL,
    rules       JSON            NOT NULL,                 -- [{key, kind, threshold, ...}]
    created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    created_by  BIGINT UNSIGNED NULL,                     -- users.id; NULL: the seed
    PRIMARY KEY (version),
    CONSTRAINT ck_alert_rule_versions_json CHECK (JSON_VALID(rules)),
    CONSTRAINT ck_alert_rule_versions_version CHECK (version >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Firing or ok since when, what was last sent, and what is still owed. Every change is a
-- conditional UPDATE on `revision`, so of two concurrent monitor runs one wins and notifies.
-- `pending` lists the channels a notification (`pending_phase`) has not reached yet: they
-- are retried by the next run once `claimed_until` has passed.
CREATE TABLE IF NOT EXISTS alert_states (
    rule_key       VARCHAR(64)     NOT NULL,
    subject        VARCHAR(128)    NOT NULL DEFAULT '',
    status         VARCHAR(8)      NOT NULL,
    since          DATETIME(3)     NOT NULL,
    value          DOUBLE          NULL,
    fingerprint    CHAR(64)        NOT NULL,
    last_sent_at   DATETIME(3)     NULL,
    pending_phase  VARCHAR(8)      NULL,
    pending        VARCHAR(64)     NULL,                  -- comma-separated channels
    claimed_until  DATETIME(3)     NULL,
    revision       INT UNSIGNED    NOT NULL DEFAULT 1,
    updated_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                   ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (rule_key, subject),
    CONSTRAINT ck_alert_states_status CHECK (status IN ('firing', 'ok')),
    CONSTRAINT ck_alert_states_phase
        CHECK (pending_phase IS NULL OR pending_phase IN ('firing', 'repeat', 'resolved'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The failure rate per feature reads the tasks that finished in the last minutes: a range
-- on this index, never a scan of `tasks`.
ALTER TABLE tasks ADD INDEX IF NOT EXISTS ix_tasks_finished (finished_at, feature_key, status);

-- The credit anomaly sums the charges of an hour now and a week ago: two ranges on this index.
ALTER TABLE quota_ledger ADD INDEX IF NOT EXISTS ix_quota_ledger_kind_created (kind, created_at);
