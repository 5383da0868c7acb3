ALTER TABLE audit_logs
    DROP INDEX ix_audit_logs_target_type;
