-- Membership plans are configuration (DESIGN §4): the seed loads them, operators change them.
CREATE TABLE IF NOT EXISTS plans (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    code             VARCHAR(32)     NOT NULL,
    name             VARCHAR(64)     NOT NULL,
    monthly_credits  INT UNSIGNED    NOT NULL,
    features         JSON            NOT NULL,
    priority         SMALLINT        NOT NULL DEFAULT 0,
    created_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                     ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_plans_code (code),
    CHECK (JSON_VALID(features))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
