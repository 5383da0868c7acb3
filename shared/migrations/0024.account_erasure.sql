-- depends: 0022.plans_orders 0021.password_resets
-- Account deletion (retouch.erasure, docs/accounts.md "Deleting an account"). `DELETE /v1/me`
-- marks the account `deleting` at once (the caller read refuses any status but `active`) and
-- records when; the erasure then removes the account's rows and objects and leaves one
-- `deleted` row, with a random placeholder address and no password, that the anonymised
-- ledger and orders are moved to.
ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_status;
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS deletion_requested_at DATETIME(3) NULL AFTER status,
    ADD CONSTRAINT ck_users_status CHECK (status IN ('active', 'disabled', 'deleting', 'deleted'));
