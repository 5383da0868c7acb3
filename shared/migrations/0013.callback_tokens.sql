-- depends: 0012.upload_fingerprint
-- Callbacks a caller cannot forge or flood (issue 13, item 3). Each vendor job is submitted
-- with a callback URL that carries a fresh secret token; only its SHA-256 is kept, with the
-- job's handle, and a callback is heard only when its token matches. `prompted_at` is when a
-- callback last sent the waiting step a poll: a conditional update on it lets through one
-- prompt per job per RETOUCH_CALLBACK_PROMPT_INTERVAL_S, however many callbacks arrive.
ALTER TABLE task_steps
    ADD COLUMN IF NOT EXISTS callback_token_hash CHAR(64) NULL AFTER vendor_handle,
    ADD COLUMN IF NOT EXISTS prompted_at DATETIME(3) NULL AFTER submitted_at;
