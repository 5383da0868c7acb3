"""One retention run: every table's rule in turn, each in bounded batches, under one lock.

A run takes the database lock `retouch.retention` (`GET_LOCK`, not waited for): a second run
started meanwhile (an overlapping schedule, a manual invocation) returns at once. Each table
is deleted oldest first, at most RETOUCH_RETENTION_MAX_BATCHES batches of
RETOUCH_RETENTION_BATCH_ROWS rows, each batch its own transaction; the next run takes the
rest. One table's failure (object storage down while archiving audit rows) leaves that
table's rows in place, the other tables are still purged, and the run then fails so that
the platform reports it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.idempotency import purge_expired_keys
from retouch.pipeline.handlers import purge_provider_events
from retouch.retention.archive import CONTENT_TYPE, archive_body, archive_key
from retouch.retention.repository import (
    AUDIT_LOGS,
    EMAIL_VERIFICATIONS,
    OUTBOX,
    PASSWORD_RESETS,
    REFRESH_TOKENS,
    RetentionRepository,
    Rule,
)
from retouch.storage import Storage

LOCK = "retouch.retention"
DAY_S = 86_400.0


class RetentionFailed(RuntimeError):
    """A table's rule failed; its rows were left in place, the other tables were purged."""


@dataclass
class Purged:
    """What one table's rule did in a run; `longest_batch_ms` is the longest a delete
    transaction held its row locks."""

    deleted: int = 0
    batches: int = 0
    longest_batch_ms: float = 0.0
    seconds: float = 0.0

    def batch(self, deleted: int, started: float) -> None:
        self.deleted += deleted
        self.batches += 1
        held_ms = (time.perf_counter() - started) * 1000
        self.longest_batch_ms = max(self.longest_batch_ms, round(held_ms, 2))


def run_retention(
    *, database: Transactions, storage: Storage, settings: Settings, clock: Clock = utc_now
) -> dict[str, Any]:
    """Apply every table's rule once (see the module docstring); what each did."""
    with database.read_only() as uow:
        if not uow.repository(RetentionRepository).try_lock(LOCK):
            logger.info("retention already running elsewhere")
            return {"skipped": "locked"}
    try:
        return _run_rules(database=database, storage=storage, settings=settings, now=clock())
    finally:
        with database.read_only() as uow:
            uow.repository(RetentionRepository).release_lock(LOCK)


def _run_rules(
    *, database: Transactions, storage: Storage, settings: Settings, now: datetime
) -> dict[str, Any]:
    batch, batches = settings.retention_batch_rows, settings.retention_max_batches

    def days_ago(days: float) -> datetime:
        return now - timedelta(seconds=days * DAY_S)

    rules: dict[str, Callable[[Purged], None]] = {
        "provider_events": lambda purged: _purge_events(database, settings, now, purged),
        "idempotency_keys": lambda purged: _purge_keys(database, now, batch, batches, purged),
        "outbox": lambda purged: _purge(
            database, OUTBOX, days_ago(settings.retention_outbox_days), batch, batches, purged
        ),
    }
    tokens = {
        REFRESH_TOKENS: settings.retention_refresh_tokens_days,
        EMAIL_VERIFICATIONS: settings.retention_email_verifications_days,
        PASSWORD_RESETS: settings.retention_password_resets_days,
    }
    for token_rule, days in tokens.items():
        rules[token_rule.table] = functools.partial(
            _purge, database, token_rule, days_ago(days), batch, batches
        )
    rules["audit_logs"] = lambda purged: _archive_audit(
        database, storage, days_ago(settings.retention_audit_days), batch, batches, purged
    )
    results: dict[str, Any] = {}
    failed: list[str] = []
    for table, rule in rules.items():
        purged, started = Purged(), time.perf_counter()
        try:
            rule(purged)
        except Exception:  # noqa: BLE001 - one table's failure does not stop the others
            logger.exception("retention rule failed", extra={"table": table})
            emit("RetentionFailures", 1, table=table)
            failed.append(table)
        purged.seconds = round(time.perf_counter() - started, 3)
        results[table] = asdict(purged)
        emit("RetentionRowsDeleted", purged.deleted, table=table)
    logger.info("retention run", extra={"tables": results})
    if failed:
        raise RetentionFailed(f"retention failed for {', '.join(failed)}; rows left in place")
    return results


def _purge(
    database: Transactions, rule: Rule, before: datetime, batch: int, batches: int, purged: Purged
) -> None:
    """Delete `rule`'s rows expired `before`: ids read in autocommit, then deleted by id."""
    for _ in range(batches):
        with database.read_only() as uow:
            ids = uow.repository(RetentionRepository).expired_ids(rule, before=before, limit=batch)
        if not ids:
            return
        _delete(database, rule, ids, before, purged)
        if len(ids) < batch:
            return


def _delete(
    database: Transactions, rule: Rule, ids: list[int], before: datetime, purged: Purged
) -> None:
    """One batch: `ids` deleted in a transaction of their own, its duration recorded."""
    started = time.perf_counter()
    with database.unit_of_work() as uow:
        deleted = uow.repository(RetentionRepository).delete(rule, ids, before=before)
        uow.commit()
    purged.batch(deleted, started)


def _archive_audit(
    database: Transactions,
    storage: Storage,
    before: datetime,
    batch: int,
    batches: int,
    purged: Purged,
) -> None:
    """Archive, then delete, audit rows created `before`, a batch at a time; a failed write
    raises before its batch is deleted."""
    for _ in range(batches):
        with database.read_only() as uow:
            rows = uow.repository(RetentionRepository).audit_rows(before=before, limit=batch)
        if not rows:
            return
        storage.put(archive_key(rows), archive_body(rows), CONTENT_TYPE)
        _delete(database, AUDIT_LOGS, [int(row["id"]) for row in rows], before, purged)
        if len(rows) < batch:
            return


def _purge_events(
    database: Transactions, settings: Settings, now: datetime, purged: Purged
) -> None:
    """Callback events past RETOUCH_PROVIDER_EVENTS_RETENTION_S (the reaper's rule, which
    also runs it every minute in small batches)."""
    started = time.perf_counter()
    deleted = purge_provider_events(
        database=database,
        retention_s=settings.provider_events_retention_s,
        clock=lambda: now,
        batch=settings.retention_batch_rows,
        max_batches=settings.retention_max_batches,
    )
    purged.batch(deleted, started)


def _purge_keys(
    database: Transactions, now: datetime, batch: int, batches: int, purged: Purged
) -> None:
    """Idempotency-Keys past their expiry (the reaper's rule as well)."""
    for _ in range(batches):
        started = time.perf_counter()
        deleted = purge_expired_keys(database=database, limit=batch, clock=lambda: now)
        purged.batch(deleted, started)
        if deleted < batch:
            return
