UPDATE users SET status = 'disabled' WHERE status IN ('deleting', 'deleted');
ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_status;
ALTER TABLE users
    DROP COLUMN IF EXISTS deletion_requested_at,
    ADD CONSTRAINT ck_users_status CHECK (status IN ('active', 'disabled'));
