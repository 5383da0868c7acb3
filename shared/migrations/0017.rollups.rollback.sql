ALTER TABLE uploads
    DROP INDEX ix_uploads_created;
ALTER TABLE quota_ledger
    DROP INDEX ix_quota_ledger_created;
ALTER TABLE tasks
    DROP INDEX ix_tasks_status,
    DROP INDEX ix_tasks_finished,
    DROP INDEX ix_tasks_created;
DROP TABLE IF EXISTS rollups;
