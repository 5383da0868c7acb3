DELETE FROM quota_ledger WHERE kind = 'refund_purchase';
ALTER TABLE quota_ledger DROP CONSTRAINT IF EXISTS ck_quota_ledger_kind;
ALTER TABLE quota_ledger ADD CONSTRAINT ck_quota_ledger_kind
    CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund', 'top_up'));
ALTER TABLE plans
    DROP COLUMN IF EXISTS edited_at,
    DROP COLUMN IF EXISTS archived,
    DROP COLUMN IF EXISTS version;
ALTER TABLE memberships
    DROP INDEX IF EXISTS ix_memberships_expiry,
    DROP COLUMN IF EXISTS expiry_handled_at;
UPDATE orders SET status = 'paid' WHERE status IN ('refunding', 'refunded');
ALTER TABLE orders DROP CONSTRAINT IF EXISTS ck_orders_status;
ALTER TABLE orders ADD CONSTRAINT ck_orders_status CHECK (status IN ('created', 'paid'));
ALTER TABLE orders
    DROP INDEX IF EXISTS ix_orders_user_id,
    DROP INDEX IF EXISTS uq_orders_refund_no,
    DROP COLUMN IF EXISTS refund_shortfall,
    DROP COLUMN IF EXISTS refunded_at,
    DROP COLUMN IF EXISTS refund_requested_at,
    DROP COLUMN IF EXISTS refund_txn,
    DROP COLUMN IF EXISTS refund_no;
