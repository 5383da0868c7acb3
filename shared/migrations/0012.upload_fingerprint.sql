-- depends: 0011.idempotency_operation
-- What was inspected is what the pipeline reads (DESIGN §6): the upload trigger records the
-- SHA-256 of the bytes it inspected (with their size, actual_size). `prepare` compares the
-- bytes it reads with it before decoding anything, and a later object-created event for the
-- upload re-inspects: a replaced object rejects the upload (reject_reason 'changed').
-- NULL for uploads checked before this migration (prepare then inspects the header again).
ALTER TABLE uploads ADD COLUMN sha256 CHAR(64) NULL AFTER actual_size;
