-- depends: 0022.plans_orders
-- Email verification (retouch.auth.verification). A new account is unverified until its
-- owner uses the mailed token; every account made before this migration counts as verified
-- from its creation. An unverified account's credit account takes no period grants
-- (quota_accounts.period_grants = 0) until verification opens them with the first grant.
-- Tokens: 256 random bits mailed to the address, stored only as their SHA-256, spent once
-- (used_at) and refused after expires_at, as password_resets. The same mail carries a short
-- code, typed with the address instead of opening the link: stored as a keyed HMAC of the user
-- id and the code (code_hash), its guesses limited per address.
ALTER TABLE users ADD COLUMN IF NOT EXISTS email_verified_at DATETIME(3) NULL AFTER status;
UPDATE users SET email_verified_at = created_at WHERE email_verified_at IS NULL;
ALTER TABLE quota_accounts
    ADD COLUMN IF NOT EXISTS period_grants TINYINT(1) NOT NULL DEFAULT 1 AFTER period_end;
CREATE TABLE IF NOT EXISTS email_verifications (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    token_hash  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id     BIGINT UNSIGNED NOT NULL,
    created_at  DATETIME(3)     NOT NULL,
    expires_at  DATETIME(3)     NOT NULL,
    used_at     DATETIME(3)     NULL,
    code_hash   CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_email_verifications_hash (token_hash),
    KEY ix_email_verifications_code (code_hash),
    KEY ix_email_verifications_user (user_id, used_at),
    KEY ix_email_verifications_expires (expires_at),
    CONSTRAINT fk_email_verifications_user FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
