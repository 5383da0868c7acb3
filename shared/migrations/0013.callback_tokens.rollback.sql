ALTER TABLE task_steps
    DROP COLUMN IF EXISTS prompted_at,
    DROP COLUMN IF EXISTS callback_token_hash;
