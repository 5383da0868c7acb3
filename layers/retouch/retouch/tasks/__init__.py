"""Tasks: what a user asked a feature to do, from `POST /v1/tasks` to its terminal status.

Creating a task (`service`) validates the inputs against the feature's form, checks the named
uploads, reserves the credits and writes the task with its first step message in one
transaction (the outbox); the pipeline runs it (and starts it: `prepare`). The task's one
ending, with its credits settled, and its status announcement are `lifecycle`; the owner's
cancel and delete `cancel`; reading `views` (and `caller_read`, the task read with the
caller). `repository` is the one writer of `tasks`. Clients only ever see `TaskRead`.
"""
