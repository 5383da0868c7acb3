ALTER TABLE quota_ledger DROP INDEX IF EXISTS ix_quota_ledger_kind_created;
ALTER TABLE tasks DROP INDEX IF EXISTS ix_tasks_finished;
DROP TABLE IF EXISTS alert_states;
DROP TABLE IF EXISTS alert_rule_versions;
