DROP TABLE IF EXISTS email_verifications;
ALTER TABLE quota_accounts DROP COLUMN IF EXISTS period_grants;
ALTER TABLE users DROP COLUMN IF EXISTS email_verified_at;
