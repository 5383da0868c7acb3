DROP TABLE IF EXISTS audit_logs;
DROP TABLE IF EXISTS refresh_tokens;
