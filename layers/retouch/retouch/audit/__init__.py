"""The audit log: every admin write, recorded in the transaction of the write itself, and the
sign-in events (failed logins, refresh-token reuse, sign-outs); read by admins through
`GET /v1/admin/audit`."""
