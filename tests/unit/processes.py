"""Interpreters a test module runs, started together: the tests that each need a fresh
process (what a cold import loads, a pytest run of its own) then overlap on the machine's
cores instead of queueing, and each test reads its own result."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Command:
    """One interpreter to start: its arguments, environment and folder."""

    args: Sequence[str]
    env: Mapping[str, str]
    cwd: Path


class Started:
    """Processes started at once by name; `result(name)` waits for that one only."""

    def __init__(self, commands: Mapping[str, Command], *, timeout_s: float = 120) -> None:
        self._timeout_s = timeout_s
        self._results: dict[str, subprocess.CompletedProcess[str]] = {}
        self._running = {
            name: subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                list(command.args),
                env=dict(command.env),
                cwd=command.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, command in commands.items()
        }

    def result(self, name: str) -> subprocess.CompletedProcess[str]:
        if name not in self._results:
            process = self._running[name]
            stdout, stderr = process.communicate(timeout=self._timeout_s)
            self._results[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
        return self._results[name]

    def stop(self) -> None:
        for process in self._running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@contextmanager
def started(commands: Mapping[str, Command]) -> Iterator[Started]:
    """`Started` for the length of a `with` block (a module fixture): none outlives it."""
    processes = Started(commands)
    try:
        yield processes
    finally:
        processes.stop()
