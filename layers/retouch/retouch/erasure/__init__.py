"""Account deletion: the owner's `DELETE /v1/me` (`retouch.erasure.service`) and the job that
erases the account's data (`retouch.erasure.job`; docs/accounts.md, "Deleting an account").

Nothing is imported here: the hourly retention job imports the job alone, without the task
endings (queue, Redis) that only an account with tasks in flight needs."""
