-- depends: 0014.audit_requests
-- The client a refresh token was issued to: a keyed digest (HMAC-SHA256, hex) of the
-- client's address and User-Agent, never the address itself. Within the reuse grace window
-- a spent token presented again by the client its child was issued to gets that child back;
-- presented by any other client, it revokes the family (retouch.auth.refresh). NULL on rows
-- issued before this migration: they match no client.
ALTER TABLE refresh_tokens
    ADD COLUMN client_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER user_id;
