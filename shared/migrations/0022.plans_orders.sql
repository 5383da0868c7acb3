-- depends: 0001.plans 0004.quota
-- Plans carry what the catalogue shows and what task creation enforces (retouch.quota,
-- docs/accounts-plans.md): the price as displayed, and the limits. NULL: no limit.
ALTER TABLE plans
    ADD COLUMN IF NOT EXISTS price_display        VARCHAR(64)       NULL AFTER priority,
    ADD COLUMN IF NOT EXISTS max_concurrent_tasks SMALLINT UNSIGNED NULL AFTER price_display,
    ADD COLUMN IF NOT EXISTS max_input_pixels     INT UNSIGNED      NULL AFTER max_concurrent_tasks;

-- Orders (retouch.payments, docs/payments.md): a plan or a credit pack bought through a
-- payment provider. `created` until the provider's verified notification marks it `paid`,
-- once: the update is guarded by the status and applies the product in the same transaction.
CREATE TABLE IF NOT EXISTS orders (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id     VARCHAR(32)     NOT NULL,
    user_id       BIGINT UNSIGNED NOT NULL,
    product       VARCHAR(32)     NOT NULL,
    amount_cents  INT UNSIGNED    NOT NULL,
    currency      CHAR(3)         NOT NULL,
    provider      VARCHAR(32)     NOT NULL,
    status        VARCHAR(16)     NOT NULL DEFAULT 'created',
    provider_txn  VARCHAR(64)     NULL,
    created_at    DATETIME(3)     NOT NULL,
    paid_at       DATETIME(3)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_orders_public_id (public_id),
    UNIQUE KEY uq_orders_provider_txn (provider, provider_txn),
    KEY ix_orders_user_created (user_id, created_at),
    CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_orders_status CHECK (status IN ('created', 'paid'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every notification nonce a provider sent, with the digest of its body: the same nonce with
-- another body is a replay and refused; the same nonce and body is the provider retrying.
CREATE TABLE IF NOT EXISTS payment_notifications (
    provider     VARCHAR(32)  NOT NULL,
    nonce        VARCHAR(64)  NOT NULL,
    body_sha256  CHAR(64)     NOT NULL,
    received_at  DATETIME(3)  NOT NULL,
    PRIMARY KEY (provider, nonce)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Purchased credits are their own ledger kind (`top_up`), apart from plan and admin grants.
ALTER TABLE quota_ledger DROP CONSTRAINT IF EXISTS ck_quota_ledger_kind;
ALTER TABLE quota_ledger ADD CONSTRAINT ck_quota_ledger_kind
    CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund', 'top_up'));
