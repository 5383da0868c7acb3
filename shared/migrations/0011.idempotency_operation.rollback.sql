-- Keys are per user again: only the `POST /v1/tasks` keys can stay.
DELETE FROM idempotency_keys WHERE operation <> 'tasks_create';

ALTER TABLE idempotency_keys
    ADD UNIQUE KEY uq_idempotency_keys_user_key (user_id, idempotency_key),
    DROP INDEX uq_idempotency_keys_user_operation_key,
    DROP COLUMN operation;
