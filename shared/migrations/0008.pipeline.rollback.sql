DROP TABLE IF EXISTS provider_events;
DROP TABLE IF EXISTS task_steps;
