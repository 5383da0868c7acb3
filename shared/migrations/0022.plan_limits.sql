-- depends: 0001.plans
-- Plans carry what the catalogue shows and what task creation enforces (retouch.quota,
-- docs/accounts-plans.md): the price as displayed, and the limits. NULL: no limit.
ALTER TABLE plans
    ADD COLUMN IF NOT EXISTS price_display        VARCHAR(64)       NULL AFTER priority,
    ADD COLUMN IF NOT EXISTS max_concurrent_tasks SMALLINT UNSIGNED NULL AFTER price_display,
    ADD COLUMN IF NOT EXISTS max_input_pixels     INT UNSIGNED      NULL AFTER max_concurrent_tasks;
