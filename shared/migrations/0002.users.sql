-- depends: 0001.plans
-- Accounts. Internal numeric ids never leave the server; clients see public_id (usr_...).
CREATE TABLE IF NOT EXISTS users (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id      VARCHAR(40)     NOT NULL,
    email          VARCHAR(254)    NOT NULL,
    password_hash  VARCHAR(255)    NOT NULL,
    role           VARCHAR(16)     NOT NULL DEFAULT 'user',
    status         VARCHAR(16)     NOT NULL DEFAULT 'active',
    created_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                   ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_public_id (public_id),
    UNIQUE KEY uq_users_email (email),
    -- keyset pagination of the admin user list, newest first, optionally filtered
    KEY ix_users_created (created_at, id),
    KEY ix_users_role_created (role, created_at, id),
    KEY ix_users_status_created (status, created_at, id),
    CONSTRAINT ck_users_role CHECK (role IN ('user', 'operator', 'admin')),
    CONSTRAINT ck_users_status CHECK (status IN ('active', 'disabled'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
