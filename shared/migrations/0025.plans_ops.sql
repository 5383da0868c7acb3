-- depends: 0022.plans_orders
-- Refunds (retouch.payments.refunds, docs/payments.md): an admin asks the provider to refund
-- a paid order (`paid` → `refunding`, the refund numbered once so a retry asks again for
-- the same refund); the provider's verified refund notification makes it `refunded`, once.
-- `refund_shortfall`: purchased credits the user had already spent when the refund arrived.
ALTER TABLE orders
    ADD COLUMN IF NOT EXISTS refund_no           VARCHAR(32)  NULL AFTER paid_at,
    ADD COLUMN IF NOT EXISTS refund_txn          VARCHAR(64)  NULL AFTER refund_no,
    ADD COLUMN IF NOT EXISTS refund_requested_at DATETIME(3)  NULL AFTER refund_txn,
    ADD COLUMN IF NOT EXISTS refunded_at         DATETIME(3)  NULL AFTER refund_requested_at,
    ADD COLUMN IF NOT EXISTS refund_shortfall    INT UNSIGNED NULL AFTER refunded_at,
    ADD UNIQUE KEY IF NOT EXISTS uq_orders_refund_no (refund_no),
    -- a user's orders, newest first (keyset on the row id)
    ADD KEY IF NOT EXISTS ix_orders_user_id (user_id, id);
ALTER TABLE orders DROP CONSTRAINT IF EXISTS ck_orders_status;
ALTER TABLE orders ADD CONSTRAINT ck_orders_status
    CHECK (status IN ('created', 'paid', 'refunding', 'refunded'));

-- Purchased credits taken back by a refund are their own ledger kind, apart from the
-- `refund` that returns a failed task's credits.
ALTER TABLE quota_ledger DROP CONSTRAINT IF EXISTS ck_quota_ledger_kind;
ALTER TABLE quota_ledger ADD CONSTRAINT ck_quota_ledger_kind
    CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund', 'top_up',
                    'refund_purchase'));
