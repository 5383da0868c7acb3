-- depends: 0024.account_erasure 0023.email_verification
-- Never-verified accounts expire (retouch.erasure.unverified, docs/accounts.md "Accounts
-- never verified"): the hourly retention run looks for active accounts whose address was
-- never verified and that signed up before the cut-off, oldest first. This index holds
-- exactly those at its front (NULL verification, then status), in sign-up order, so the
-- look-up reads the accounts it expires and no verified one.
ALTER TABLE users
    ADD INDEX IF NOT EXISTS ix_users_unverified (email_verified_at, status, created_at, id);
