-- depends: 0002.users
-- Refresh tokens: opaque random strings, stored only as their SHA-256. A family is one sign-in
-- (register or login): each refresh spends its token (used_at) and issues the child; revoking
-- the family ends the session. The tokens themselves never leave the client.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    token_hash  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    family_id   VARCHAR(40)     NOT NULL,
    parent_id   BIGINT UNSIGNED NULL,
    user_id     BIGINT UNSIGNED NOT NULL,
    issued_at   DATETIME(3)     NOT NULL,
    expires_at  DATETIME(3)     NOT NULL,
    used_at     DATETIME(3)     NULL,
    revoked_at  DATETIME(3)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_refresh_tokens_hash (token_hash),
    -- a token is rotated at most once: a second child cannot exist
    UNIQUE KEY uq_refresh_tokens_parent (parent_id),
    KEY ix_refresh_tokens_family (family_id),
    KEY ix_refresh_tokens_user (user_id, revoked_at),
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every admin write: who (actor), what (action on target), the state before and after, and
-- the request id that joins it to the logs. Written in the same transaction as the change.
CREATE TABLE IF NOT EXISTS audit_logs (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    actor_user_id  BIGINT UNSIGNED NULL,
    action         VARCHAR(64)     NOT NULL,
    target_type    VARCHAR(32)     NOT NULL,
    target_id      VARCHAR(64)     NOT NULL,
    before_state   JSON            NULL,
    after_state    JSON            NULL,
    request_id     VARCHAR(128)    NULL,
    created_at     DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_audit_logs_created (created_at, id),
    KEY ix_audit_logs_target (target_type, target_id, created_at, id),
    KEY ix_audit_logs_actor (actor_user_id, created_at, id),
    CONSTRAINT fk_audit_logs_actor FOREIGN KEY (actor_user_id) REFERENCES users (id),
    CHECK (before_state IS NULL OR JSON_VALID(before_state)),
    CHECK (after_state IS NULL OR JSON_VALID(after_state))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
