ALTER TABLE plans
    DROP COLUMN IF EXISTS max_input_pixels,
    DROP COLUMN IF EXISTS max_concurrent_tasks,
    DROP COLUMN IF EXISTS price_display;
