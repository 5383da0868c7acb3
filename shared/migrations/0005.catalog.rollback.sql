ALTER TABLE feature_definitions DROP FOREIGN KEY fk_feature_definitions_form;
ALTER TABLE feature_definitions DROP FOREIGN KEY fk_feature_definitions_pipeline;
DROP TABLE IF EXISTS pipeline_schemas;
DROP TABLE IF EXISTS form_schemas;
DROP TABLE IF EXISTS feature_definitions;
DROP TABLE IF EXISTS provider_configs;
