"""Imports run one way (STYLE): the pipeline asks the tasks domain to start and end a task,
so the tasks domain never imports the pipeline (the step queues' names are
`retouch.queue.steps`)."""

from __future__ import annotations

import ast
from pathlib import Path

TASKS = Path(__file__).resolve().parents[3] / "layers" / "retouch" / "retouch" / "tasks"


def imported_by(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_tasks_domain_never_imports_the_pipeline() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(TASKS.glob("*.py"))
        for name in imported_by(path)
        if name == "retouch.pipeline" or name.startswith("retouch.pipeline.")
    }

    assert offenders == set()
