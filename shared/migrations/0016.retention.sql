-- depends: 0015.refresh_client
-- The retention job finds expired refresh tokens oldest first through this index (InnoDB
-- appends the primary key: ORDER BY expires_at, id reads it in order, no filesort).
ALTER TABLE refresh_tokens
    ADD KEY ix_refresh_tokens_expires (expires_at);
