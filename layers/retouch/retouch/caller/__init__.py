"""The caller of a request and their sessions: the access token verified, the one lookup of
the account, its session's revocation and its membership (with a read another domain may
attach to it), and the FastAPI dependencies every protected route uses (`current_user`,
`require_permission`). Sessions are refresh-token families (`refresh_tokens`); the sign-in
use cases that start, rotate and end them are in `retouch.auth`."""
