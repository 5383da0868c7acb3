"""Interpreters the unit tests read, started early and together: the tests that each need a
fresh process (what a cold import loads, a pytest run of its own, cfn-lint) declare it at
import (`declare`); the session's first unit test starts them all (`background` fixture), so
they run on the second core beside the rest of the suite, and each test reads its own
result."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
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


# --- declared at import, started at the session's first unit test ---------------------------

#: name → (declaring module, how to build the command in a fresh folder of its own)
_DECLARED: dict[str, tuple[str, Callable[[Path], Command]]] = {}


def declare(name: str, build: Callable[[Path], Command], *, module: str) -> None:
    """Declare, at a test module's import, an interpreter its tests read (`background`
    fixture, `tests/unit/conftest.py`): `build(folder)` gives the command, `folder` a new
    temporary folder of its own. Started with the session's first unit test, so it runs
    beside every other test instead of holding up its own."""
    _DECLARED[name] = (module, build)


def declared(modules: Collection[str], folder: Callable[[str], Path]) -> dict[str, Command]:
    """The commands declared by `modules` (those with tests in this session)."""
    return {
        name: build(folder(name))
        for name, (module, build) in _DECLARED.items()
        if module in modules
    }
