"""Live task updates: one Redis pub/sub channel per task (DESIGN §5).

Status changes are published after they commit; `GET /v1/tasks/{id}/events` relays them as
server-sent events. Pub/sub is best effort by nature: a subscriber that was not listening
misses the message, so every stream starts from the task's stored state and clients poll
where the runtime cannot stream.
"""

from retouch.notify.channels import publish_task_event, publish_task_events, task_channel

__all__ = ["publish_task_event", "publish_task_events", "task_channel"]
