-- depends: 0007.tasks
-- Idempotency-Keys per user AND per operation (retouch.idempotency, DESIGN §3): every
-- credit-spending POST takes a key, and one key sent to two operations names two requests.
-- A column in the unique key rather than an "<operation>:<key>" prefix: the key keeps its
-- full 255 characters, and the rows written before this migration (all of `POST /v1/tasks`)
-- take that operation and keep answering as they did. The default serves those rows only.
ALTER TABLE idempotency_keys
    ADD COLUMN operation VARCHAR(64) NOT NULL DEFAULT 'tasks_create' AFTER user_id,
    ADD UNIQUE KEY uq_idempotency_keys_user_operation_key (user_id, operation, idempotency_key),
    DROP INDEX uq_idempotency_keys_user_key;

ALTER TABLE idempotency_keys ALTER COLUMN operation DROP DEFAULT;
