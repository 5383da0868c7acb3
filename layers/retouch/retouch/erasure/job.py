"""The erasure, run by the hourly retention job (`retention.handlers`): accounts deleted at
least `RETOUCH_ERASURE_GRACE_S` ago lose their objects, then their rows.

Per account, objects go first — every key its uploads and tasks name, each deleted (a key
already gone is no failure) — and then the rows, in one transaction (`ErasureRepository
.erase`). Until that commits the account stays `deleting` with every row that names its
objects, so a run stopped anywhere (storage down, a crash, a timeout) is finished by the next
one: it deletes the same keys again and erases the rows. One account's failure does not stop
the others; the run reports it and raises at its end, so the schedule's failure alarm sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import Database
from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.erasure.repository import ErasureRepository
from retouch.storage import Storage


class ErasureFailed(RuntimeError):
    """At least one account could not be erased this run; it stays `deleting` for the next."""


@dataclass
class ErasureRun:
    """What a run did: accounts erased, objects deleted, accounts left for the next run."""

    erased: int = 0
    objects_deleted: int = 0
    failed: int = 0
    kept_as: list[str] = field(default_factory=list)


def erase_deleted_accounts(
    *, database: Database, storage: Storage, settings: Settings, clock: Clock = utc_now
) -> dict[str, object]:
    """Erase every account deleted before the grace, up to `RETOUCH_ERASURE_BATCH`; raises
    ErasureFailed after the others when one could not be."""
    run = ErasureRun()
    before = clock() - timedelta(seconds=settings.erasure_grace_s)
    with database.read_only() as uow:
        pending = ErasureRepository(uow).pending(
            requested_before=before, limit=settings.erasure_batch
        )
    for user_id in pending:
        try:
            _erase(database, storage, user_id, run, clock=clock)
        except Exception:  # noqa: BLE001 - the account waits for the next run, whole
            logger.exception("account erasure failed; it is retried by the next run")
            run.failed += 1
    emit("AccountsErased", run.erased)
    emit("AccountErasureFailures", run.failed)
    report: dict[str, object] = asdict(run)
    logger.info("erasure run", extra={"erasure": report})
    if run.failed:
        raise ErasureFailed(f"{run.failed} deleted account(s) not erased; retried next run")
    return report


def _erase(
    database: Database, storage: Storage, user_id: int, run: ErasureRun, *, clock: Clock
) -> None:
    with database.read_only() as uow:
        keys = sorted(ErasureRepository(uow).object_keys(user_id))
    for key in keys:
        storage.delete(key)
    run.objects_deleted += len(keys)
    # imported here: the task endings load the queue and Redis, which the hourly retention
    # job that runs this needs only when an account is erased
    from retouch.erasure.service import ERASED, cancel_active_tasks

    now = clock()
    with database.unit_of_work() as uow:
        erasure = ErasureRepository(uow)
        public_id = erasure.locked_pending(user_id)
        if public_id is None:
            return  # erased by a concurrent run
        # A task made in the instant before the deletion committed: ended like the others.
        cancel_active_tasks(uow, user_id, now=now)
        if erasure.object_keys(user_id) - set(keys):
            return  # it named new objects meanwhile: the next run deletes them first
        kept = erasure.erase(user_id, public_id=public_id, now=now)
        MySQLAuditRepository(uow).add(
            AuditEntry(
                actor_user_id=None,
                action=ERASED,
                target_type="user",
                target_id=kept,
                after={"objects_deleted": len(keys)},
            )
        )
        uow.commit()
    run.erased += 1
    run.kept_as.append(kept)
    logger.info("account erased", extra={"kept_as": kept, "objects_deleted": len(keys)})
