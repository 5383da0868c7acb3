DELETE FROM quota_ledger WHERE kind = 'top_up';
ALTER TABLE quota_ledger DROP CONSTRAINT IF EXISTS ck_quota_ledger_kind;
ALTER TABLE quota_ledger ADD CONSTRAINT ck_quota_ledger_kind
    CHECK (kind IN ('period_grant', 'grant', 'reserve', 'charge', 'refund'));
DROP TABLE IF EXISTS payment_notifications;
DROP TABLE IF EXISTS orders;
ALTER TABLE plans
    DROP COLUMN IF EXISTS max_input_pixels,
    DROP COLUMN IF EXISTS max_concurrent_tasks,
    DROP COLUMN IF EXISTS price_display;
