ALTER TABLE task_steps DROP COLUMN IF EXISTS submitted_at;
