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

-- Plans edited by admins (PUT /v1/admin/plans/{code}): `version` counts edits (the If-Match
-- of the next one), `archived` hides a plan from the catalogue and from new memberships
-- (a plan is never deleted: memberships and orders name it), `edited_at` set: the seed no
-- longer overwrites the plan at a deploy.
ALTER TABLE plans
    ADD COLUMN IF NOT EXISTS version   INT UNSIGNED NOT NULL DEFAULT 1 AFTER max_input_pixels,
    ADD COLUMN IF NOT EXISTS archived  TINYINT(1)   NOT NULL DEFAULT 0 AFTER version,
    ADD COLUMN IF NOT EXISTS edited_at DATETIME(3)  NULL AFTER archived;

-- The plan expiry job (retouch.users.expiry): a membership that ran out by itself is marked
-- handled once and audited; one ended by a change is marked by the change. Those that ended
-- before the job existed are marked here, not audited.
ALTER TABLE memberships
    ADD COLUMN IF NOT EXISTS expiry_handled_at DATETIME(3) NULL AFTER expires_at,
    ADD KEY IF NOT EXISTS ix_memberships_expiry (expiry_handled_at, expires_at);
UPDATE memberships SET expiry_handled_at = expires_at
    WHERE expiry_handled_at IS NULL AND expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(3);

-- Purchased credits taken back by a refund are their own ledger kind, apart from the
-- `refund` that returns a failed task's credits.
ALTER TABLE quota_ledger DROP CONSTRAINT IF EXISTS ck_quota_ledger_kind;
ALTER TABLE quota_ledger ADD CONSTRAINT ck_quota_ledger_kind
    CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund', 'top_up',
                    'refund_purchase'));
