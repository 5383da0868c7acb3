-- depends: 0009.provider_options
-- When the vendor accepted the job a `generate` step waits on: its latency, submit to
-- result, is measured from here (provider health).
ALTER TABLE task_steps ADD COLUMN IF NOT EXISTS submitted_at DATETIME(3) NULL AFTER deadline_at;
