ALTER TABLE audit_logs
    DROP INDEX ix_audit_logs_action,
    DROP COLUMN client_request_id;
