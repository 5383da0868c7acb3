ALTER TABLE provider_configs DROP COLUMN IF EXISTS options;
