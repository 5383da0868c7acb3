"""Scheduled work of the queue package: the `outbox-relay` job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.queue.factory import get_queue
from retouch.queue.metrics import gauge_outbox_backlog
from retouch.queue.outbox import purge_published, relay


def relay_outbox() -> dict[str, Any]:
    """Publish what a crash left in the outbox, then purge rows published long ago. With the
    scf backend, also send the delayed messages that are due (SCF has no delays of its own).
    Each run reports the backlog it left (`OutboxBacklog`; the template alarms on it)."""
    settings = get_settings()
    database = get_database("job")
    queue = get_queue()
    report = relay(
        database=database,
        queue=queue,
        min_age_s=settings.outbox_relay_min_age_s,
        batch=settings.outbox_relay_batch,
    )
    purged = purge_published(
        database=database,
        older_than=utc_now() - timedelta(seconds=settings.outbox_retention_s),
    )
    gauge_outbox_backlog(report.backlog)
    result = {
        "published": report.published,
        "failed": report.failed,
        "backlog": report.backlog,
        "purged": purged,
    }
    if settings.queue_backend == "scf":
        # Only here: the SCF adapter loads the Redis client, which no other backend's run needs.
        from retouch.queue.scf_invoke import ScfInvokeQueue

        result["released"] = cast(ScfInvokeQueue, queue).release_due()
    return result
