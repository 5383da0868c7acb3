-- depends: 0013.callback_tokens
-- Audit rows of issue 13: `request_id` is the server's own id of the request (the one in its
-- log lines); the id a client sent in X-Request-ID is kept beside it, never in its place.
-- `actor_user_id` was nullable already: anonymous events (a failed sign-in, a reused refresh
-- token) have no actor. The admin list (`GET /v1/admin/audit`) filters by action, newest
-- first: its index; the actor, target and time filters have theirs since 0003.
ALTER TABLE audit_logs
    ADD COLUMN client_request_id VARCHAR(128) NULL AFTER request_id,
    ADD KEY ix_audit_logs_action (action, created_at, id);
