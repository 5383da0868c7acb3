ALTER TABLE users
    DROP INDEX IF EXISTS ix_users_unverified;
