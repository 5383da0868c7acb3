ALTER TABLE refresh_tokens
    DROP KEY ix_refresh_tokens_expires;
