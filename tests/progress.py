"""Deadlines that follow progress, not the wall clock: a batch of work may take as long as it
needs while it keeps finishing things, and fails only once nothing has finished for a while.
A busy machine (another suite on the same cores) slows the work down; it does not stop it."""

from __future__ import annotations

import time
from collections.abc import Callable


class Stalled(AssertionError):
    """Nothing of a batch finished for `stall_s` seconds while some of it was still unfinished."""

    def __init__(
        self, *, what: str, finished: int, total: int, since_progress_s: float, elapsed_s: float
    ) -> None:
        super().__init__(
            f"{finished} of {total} {what} finished; none finished in the last "
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
    stall_s: float = 30.0,
    step: Callable[[], None] = lambda: time.sleep(0.2),
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Run `step` until `unfinished()` reads 0; raise `Stalled` when its lowest reading has not
    dropped for `stall_s` seconds. Returns the seconds it took."""
    start = last_progress = clock()
    lowest = unfinished()
    while lowest > 0:
        step()
        left = unfinished()
        now = clock()
        if left < lowest:
            lowest, last_progress = left, now
        elif now - last_progress >= stall_s:
            raise Stalled(
                what=what,
                finished=total - left,
                total=total,
                since_progress_s=now - last_progress,
                elapsed_s=now - start,
            )
    return clock() - start
