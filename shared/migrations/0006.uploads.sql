-- depends: 0002.users
-- Uploads (DESIGN §3, §6): one row per presigned upload. The upload trigger reads the object
-- and moves the row from `pending` to `ready` (with the real dimensions) or `rejected`.
-- Clients see public_id (upl_...), never id or user_id.
CREATE TABLE IF NOT EXISTS uploads (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    public_id         VARCHAR(40)     NOT NULL,
    user_id           BIGINT UNSIGNED NOT NULL,
    object_key        VARCHAR(512)    NOT NULL,
    content_type      VARCHAR(64)     NOT NULL,           -- as declared when presigned
    declared_size     BIGINT UNSIGNED NOT NULL,           -- as declared when presigned
    status            VARCHAR(16)     NOT NULL DEFAULT 'pending',
    width             INT UNSIGNED    NULL,
    height            INT UNSIGNED    NULL,
    actual_size       BIGINT UNSIGNED NULL,               -- bytes the trigger read
    reject_reason     VARCHAR(64)     NULL,
    created_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                      ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_uploads_public_id (public_id),
    UNIQUE KEY uq_uploads_object_key (object_key),
    -- a user's uploads, newest first (keyset pagination)
    KEY ix_uploads_user_created (user_id, created_at, id),
    CONSTRAINT fk_uploads_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT ck_uploads_status CHECK (status IN ('pending', 'ready', 'rejected'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
