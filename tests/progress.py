"""Deadlines that follow progress, not the wall clock: a batch of work may take as long as it
needs while it keeps finishing things, and fails only once nothing has finished for a while.
A busy machine (another suite on the same cores) slows the work down; it does not stop it."""

from __future__ import annotations

import time
from collections.abc import Callable


class Stalled(AssertionError):
    """A batch made no progress for `stall_s` seconds while some of it was still unfinished."""

    def __init__(
        self, *, what: str, finished: int, total: int, since_progress_s: float, elapsed_s: float
    ) -> None:
        super().__init__(
            f"{finished} of {total} {what} finished; no progress in the last "
            f"{since_progress_s:.0f} s ({elapsed_s:.0f} s in all)"
        )
        self.finished = finished
        self.total = total
        self.since_progress_s = since_progress_s


def wait_while_progressing(
    unfinished: Callable[[], int],
    *,
    total: int,
    what: str = "tasks",
    work_done: Callable[[], int] | None = None,
    stall_s: float = 30.0,
    step: Callable[[], None] = lambda: time.sleep(0.2),
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Run `step` until `unfinished()` reads 0; raise `Stalled` once there was no progress for
    `stall_s` seconds. Progress is a new high of `work_done()` when given (a finer count, such
    as steps finished: tasks interleaved on a queue may all finish late), else a new low of
    `unfinished()`. Returns the seconds it took."""
    progress = work_done or (lambda: -unfinished())
    start = last_progress = clock()
    best = progress()
    while unfinished() > 0:
        step()
        now, reading = clock(), progress()
        if reading > best:
            best, last_progress = reading, now
        elif now - last_progress >= stall_s:
            raise Stalled(
                what=what,
                finished=total - unfinished(),
                total=total,
                since_progress_s=now - last_progress,
                elapsed_s=now - start,
            )
    return clock() - start
