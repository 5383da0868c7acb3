"""`scripts/deploy aws`: the AWS deploy with SAM CLI, from template.yaml and samconfig.toml."""
