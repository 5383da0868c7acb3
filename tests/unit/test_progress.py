"""tests/progress.py: a batch may take as long as it needs while it progresses, and fails once
nothing finished for `stall_s`, saying how many finished and how long since the last."""

from __future__ import annotations

import pytest

from tests.progress import Stalled, wait_while_progressing


class SlowBatch:
    """`left` unfinished items, one finishing every `every_s` seconds of a fake clock, until
    `stops_at` are left (then nothing more finishes)."""

    def __init__(self, left: int, every_s: float, stops_at: int = 0) -> None:
        self.left, self.every_s, self.stops_at = left, every_s, stops_at
        self.now = 0.0
        self._since_last = 0.0

    def clock(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += 1.0
        self._since_last += 1.0
        if self._since_last >= self.every_s and self.left > self.stops_at:
            self.left -= 1
            self._since_last = 0.0

    def unfinished(self) -> int:
        return self.left


def run(batch: SlowBatch, stall_s: float) -> float:
    return wait_while_progressing(
        batch.unfinished, total=200, stall_s=stall_s, step=batch.step, clock=batch.clock
    )


def test_a_slow_batch_that_keeps_finishing_is_waited_for_well_past_any_fixed_deadline() -> None:
    # GIVEN 200 items, one finishing every 20 s: 4,000 s in all
    batch = SlowBatch(200, every_s=20)

    # WHEN we wait with a stall limit of 30 s
    took = run(batch, stall_s=30)

    # THEN every item finished
    assert (batch.left, took) == (0, 4000.0)


def test_a_batch_that_stops_finishing_fails_after_the_stall_limit_saying_where_it_stood() -> None:
    # GIVEN 200 items, one finishing every 2 s, that stop with 135 left
    batch = SlowBatch(200, every_s=2, stops_at=135)

    # WHEN we wait with a stall limit of 30 s
    with pytest.raises(Stalled) as stalled:
        run(batch, stall_s=30)

    # THEN it fails 30 s after the last item finished, naming both figures
    assert (stalled.value.finished, stalled.value.since_progress_s) == (65, 30.0)
    assert str(stalled.value) == (
        "65 of 200 tasks finished; no progress in the last 30 s (160 s in all)"
    )


def test_a_finished_batch_returns_at_once_without_a_step() -> None:
    steps: list[None] = []
    clock = iter([5.0, 5.0]).__next__  # two readings, no more

    took = wait_while_progressing(lambda: 0, total=3, step=lambda: steps.append(None), clock=clock)

    assert (took, steps) == (0.0, [])


def test_a_finer_count_of_work_keeps_a_batch_alive_while_no_item_has_finished_yet() -> None:
    # GIVEN 3 items that all finish at t = 100 s, while their steps finish one every 10 s
    now = [0.0]

    def tick() -> None:
        now[0] += 1.0

    # WHEN we wait with a stall limit of 30 s, counting steps as progress
    took = wait_while_progressing(
        lambda: 3 if now[0] < 100 else 0,
        total=3,
        work_done=lambda: int(now[0] // 10),
        stall_s=30,
        step=tick,
        clock=lambda: now[0],
    )

    # THEN it waited for them
    assert took == 100.0
