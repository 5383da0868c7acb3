"""Scheduled work of the queue package: the `outbox-relay` job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.core.units import Transactions
from retouch.queue.factory import get_queue
from retouch.queue.metrics import gauge_outbox_backlog
from retouch.queue.outbox import RelayReport, purge_published, relay
from retouch.queue.repository import OutboxRepository


def relay_outbox() -> dict[str, Any]:
    """Publish what a crash left in the outbox, then purge rows published long ago. With the
    scf backend, also send the delayed messages that are due (SCF has no delays of its own).
    Each run reports the backlog it left (`OutboxBacklog`; the template alarms on it)."""
    settings = get_settings()
    database = get_database("job")
    report = RelayReport(published=0, failed=0)
    # A run with nothing due (most runs) never loads the queue's client library (redis-py,
    # boto3): one count instead of the relay's claim and count (docs/performance.md, issue 20).
    if _due(database, min_age_s=settings.outbox_relay_min_age_s):
        report = relay(
            database=database,
            queue=get_queue(),
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

        result["released"] = cast(ScfInvokeQueue, get_queue()).release_due()
    return result


def _due(database: Transactions, *, min_age_s: float) -> int:
    """How many unpublished messages are older than `min_age_s`: the relay's to publish."""
    with database.unit_of_work() as uow:
        return uow.repository(OutboxRepository).count_unpublished(
            created_before=utc_now() - timedelta(seconds=min_age_s)
        )
