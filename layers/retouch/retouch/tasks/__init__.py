"""Tasks: what a user asked a feature to do, from `POST /v1/tasks` to its terminal status.

Creating a task validates the inputs against the feature's form, checks the named uploads,
reserves the credits and writes the task with its first step message in one transaction
(the outbox); the pipeline (next domain) runs it. Clients only ever see `TaskRead`.
"""
