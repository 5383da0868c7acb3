-- depends: 0001.plans
-- The feature catalog (DESIGN §4, §5): features, their versioned input forms and pipelines,
-- and the vendor settings the pipelines name. Operators change all of it at run time.
-- Columns are `feature_key` / `provider_key` because `key` is a reserved word in MySQL.

-- One row per feature. `form_version` / `pipeline_version` select the current version of
-- each; older versions stay in their tables, so a task can always read the exact form and
-- pipeline it was created with. NULL only while a feature is being created.
CREATE TABLE IF NOT EXISTS feature_definitions (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    feature_key       VARCHAR(32)     NOT NULL,
    name_zh           VARCHAR(64)     NOT NULL,
    name_en           VARCHAR(64)     NOT NULL,
    description_zh    VARCHAR(512)    NOT NULL,
    description_en    VARCHAR(512)    NOT NULL,
    cost              INT UNSIGNED    NOT NULL,           -- credits per task
    enabled           BOOLEAN         NOT NULL DEFAULT TRUE,
    allowed_plans     JSON            NOT NULL,           -- list of plan codes
    form_version      INT UNSIGNED    NULL,
    pipeline_version  INT UNSIGNED    NULL,
    created_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                      ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_feature_definitions_key (feature_key),
    CONSTRAINT ck_feature_definitions_plans CHECK (JSON_VALID(allowed_plans))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- JSON Schema of a feature's task inputs, one row per version; rows are never updated.
CREATE TABLE IF NOT EXISTS form_schemas (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    feature_key  VARCHAR(32)     NOT NULL,
    version      INT UNSIGNED    NOT NULL,
    json_schema  JSON            NOT NULL,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    created_by   BIGINT UNSIGNED NULL,                    -- users.id; NULL: the seed
    PRIMARY KEY (id),
    UNIQUE KEY uq_form_schemas_feature_version (feature_key, version),
    CONSTRAINT fk_form_schemas_feature
        FOREIGN KEY (feature_key) REFERENCES feature_definitions (feature_key),
    CONSTRAINT ck_form_schemas_json CHECK (JSON_VALID(json_schema)),
    CONSTRAINT ck_form_schemas_version CHECK (version >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Ordered steps of a feature's pipeline, one row per version; rows are never updated.
-- steps: [{step, providers?, timeout_s?, retries?}, ...]; `finalize` is implicit.
CREATE TABLE IF NOT EXISTS pipeline_schemas (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    feature_key  VARCHAR(32)     NOT NULL,
    version      INT UNSIGNED    NOT NULL,
    steps        JSON            NOT NULL,
    created_at   DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    created_by   BIGINT UNSIGNED NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_pipeline_schemas_feature_version (feature_key, version),
    CONSTRAINT fk_pipeline_schemas_feature
        FOREIGN KEY (feature_key) REFERENCES feature_definitions (feature_key),
    CONSTRAINT ck_pipeline_schemas_json CHECK (JSON_VALID(steps)),
    CONSTRAINT ck_pipeline_schemas_version CHECK (version >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A feature can only point at versions that exist.
ALTER TABLE feature_definitions
    ADD CONSTRAINT fk_feature_definitions_form FOREIGN KEY (feature_key, form_version)
        REFERENCES form_schemas (feature_key, version),
    ADD CONSTRAINT fk_feature_definitions_pipeline FOREIGN KEY (feature_key, pipeline_version)
        REFERENCES pipeline_schemas (feature_key, version);

-- Vendor settings. `credential_ref` names where the secret lives
-- (`secretsmanager:<name>`, `ssm:<path>`, `env:RETOUCH_...`); the secret itself is never here.
CREATE TABLE IF NOT EXISTS provider_configs (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    provider_key       VARCHAR(32)     NOT NULL,
    kind               VARCHAR(16)     NOT NULL,
    endpoint           VARCHAR(512)    NULL,
    credential_ref     VARCHAR(255)    NULL,
    weight             INT UNSIGNED    NOT NULL DEFAULT 100,
    concurrency_limit  INT UNSIGNED    NOT NULL,
    enabled            BOOLEAN         NOT NULL DEFAULT TRUE,
    created_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at         DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                       ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_provider_configs_key (provider_key),
    CONSTRAINT ck_provider_configs_kind
        CHECK (kind IN ('runninghub', 'hunyuan', 'tencent', 'local', 'simulator')),
    CONSTRAINT ck_provider_configs_concurrency CHECK (concurrency_limit >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
