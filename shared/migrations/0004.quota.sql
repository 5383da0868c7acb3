-- depends: 0002.users
-- Membership and credits (DESIGN §4). Amounts are whole credits. Times are UTC.

-- Who holds which plan when. A user may hold several at once (the open-ended default plan
-- plus a paid one that expires); the current plan is the highest-priority one in force.
CREATE TABLE IF NOT EXISTS memberships (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id     BIGINT UNSIGNED NOT NULL,
    plan_code   VARCHAR(32)     NOT NULL,
    starts_at   DATETIME(3)     NOT NULL,
    expires_at  DATETIME(3)     NULL,          -- NULL: open-ended
    created_at  DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    -- "the current membership of a user": the user's rows, newest start first
    KEY ix_memberships_user_starts (user_id, starts_at),
    KEY ix_memberships_plan (plan_code),
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_memberships_plan FOREIGN KEY (plan_code) REFERENCES plans (code),
    CONSTRAINT ck_memberships_period CHECK (expires_at IS NULL OR expires_at > starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per user. `balance` is what the user can spend now; `reserved` is held by
-- unfinished tasks. The ledger sums to `balance`.
CREATE TABLE IF NOT EXISTS quota_accounts (
    user_id       BIGINT UNSIGNED NOT NULL,
    balance       BIGINT          NOT NULL,
    reserved      BIGINT          NOT NULL DEFAULT 0,
    period_start  DATETIME(3)     NOT NULL,
    period_end    DATETIME(3)     NOT NULL,
    created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                  ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id),
    CONSTRAINT fk_quota_accounts_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_quota_accounts_balance CHECK (balance >= 0),
    CONSTRAINT ck_quota_accounts_reserved CHECK (reserved >= 0),
    CONSTRAINT ck_quota_accounts_period CHECK (period_end > period_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every change of a balance, signed: period_grant +n, grant +n, reserve -n, refund +n,
-- charge 0 (the credits already left the balance when they were reserved). `ref` names what
-- caused the row (a task ref, a period, an admin grant); (ref, kind) is written once, so a
-- retried operation cannot count twice.
-- Rows are always written after the account row is updated in the same transaction: the
-- foreign key then only re-reads a row the transaction already holds exclusively.
CREATE TABLE IF NOT EXISTS quota_ledger (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id        BIGINT UNSIGNED NOT NULL,
    kind           VARCHAR(16)     NOT NULL,
    amount         BIGINT          NOT NULL,
    balance_after  BIGINT          NOT NULL,
    ref            VARCHAR(128)    NOT NULL,
    reason         VARCHAR(255)    NULL,
    created_at     DATETIME(3)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_quota_ledger_ref_kind (ref, kind),
    -- keyset pagination of a user's ledger, newest first
    KEY ix_quota_ledger_user (user_id, id),
    CONSTRAINT fk_quota_ledger_account FOREIGN KEY (user_id) REFERENCES quota_accounts (user_id),
    CONSTRAINT ck_quota_ledger_kind
        CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund')),
    CONSTRAINT ck_quota_ledger_balance CHECK (balance_after >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Credits held for one task until it is charged or refunded, exactly once: settling is
-- `UPDATE ... WHERE task_ref = ? AND status = 'reserved'`, and the row count decides.
-- No foreign key on purpose: reserve inserts this row before it updates the account, and a
-- shared lock taken on the account here would have to be upgraded (a deadlock under load).
CREATE TABLE IF NOT EXISTS quota_reservations (
    task_ref    VARCHAR(128)    NOT NULL,
    user_id     BIGINT UNSIGNED NOT NULL,
    amount      BIGINT          NOT NULL,
    status      VARCHAR(16)     NOT NULL DEFAULT 'reserved',
    created_at  DATETIME(3)     NOT NULL,
    settled_at  DATETIME(3)     NULL,
    PRIMARY KEY (task_ref),
    KEY ix_quota_reservations_user (user_id, status),
    CONSTRAINT ck_quota_reservations_amount CHECK (amount > 0),
    CONSTRAINT ck_quota_reservations_status CHECK (status IN ('reserved', 'charged', 'refunded'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
