"""Outbox marks deferred to the end of a batch: a step function publishes each step's
messages the moment its transaction commits, as always, but marks them published together,
in one statement, when its batch of messages ends (`DeferredMarks.flush`, from the step
handler), instead of one transaction per message.

Until the mark, the relay could take such a row for lost, but only once it is older than its
minimum age (RETOUCH_OUTBOX_RELAY_MIN_AGE_S, seconds): pending marks older than `max_age_s`
(well under it) are written at once, whatever the batch. A mark that never lands (a crash, the
database gone) costs one more delivery of a message already sent, by the relay; the engine's
steps are idempotent under redelivery, so it changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from retouch.core.logging import logger
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.queue.repository import OutboxRepository

#: Pending marks older than this are written at once, without waiting for the batch's end.
MAX_AGE_S = 1.0


class _Pending(threading.local):
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.since = 0.0  # time.monotonic() of the oldest pending mark


class DeferredMarks:
    """Published outbox rows waiting for their mark, per thread (each consumer thread of the
    local runtime runs its own batches)."""

    def __init__(self, max_age_s: float = MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._pending = _Pending()

    @property
    def pending(self) -> list[int]:
        """This thread's rows published and not yet marked."""
        return list(self._pending.ids)

    def add(
        self, outbox_ids: Sequence[int], *, database: Transactions, clock: Clock = utc_now
    ) -> None:
        """Keep the marks of `outbox_ids` for the batch's end; all of this thread's pending
        marks are written now when the oldest is `max_age_s` old."""
        pending = self._pending
        if outbox_ids and not pending.ids:
            pending.since = time.monotonic()
        pending.ids.extend(outbox_ids)
        if pending.ids and time.monotonic() - pending.since >= self.max_age_s:
            self.flush(database=database, clock=clock)

    def flush(self, *, database: Transactions, clock: Clock = utc_now) -> int:
        """Mark this thread's pending rows published, in one statement; how many it marked.
        A failure is logged: the relay sends those messages once more."""
        ids, self._pending.ids = self._pending.ids, []
        if not ids:
            return 0
        try:
            with database.unit_of_work() as uow:
                marked = uow.repository(OutboxRepository).mark_all_published(ids, now=clock())
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - a lost mark is one more delivery, no loss
            logger.warning(
                "outbox marks not written; the relay will send those messages again",
                extra={"messages": len(ids), "error": repr(exc)[:200]},
            )
            return 0
        return marked
