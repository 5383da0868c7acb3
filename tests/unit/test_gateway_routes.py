"""The local gateway's route table: the candidates it tries never change API Gateway's answer."""

from __future__ import annotations

from typing import cast

import pytest

from retouch.core.errors import MethodNotAllowed, NotFound
from scripts.local.gateway import LoadedFunction, RouteTable, RouteTarget, compile_path
from scripts.local.sam import Route

ROUTES = [
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/health/{check}"),
    ("GET", "/v1/tasks"),
    ("POST", "/v1/tasks"),
    ("GET", "/v1/tasks/{task_id}"),
    ("DELETE", "/v1/tasks/{task_id}"),
    ("GET", "/v1/tasks/{task_id}/events"),
    ("GET", "/v1/me"),
    ("GET", "/v1/features/{key}"),
    ("GET", "/{tenant}/tasks"),
    ("ANY", "/files/{proxy+}"),
    ("ANY", "/{proxy+}"),
]
PATHS = [
    "/",
    "/health",
    "/health/",
    "/health/db",
    "/health/db/x",
    "/v1/tasks",
    "/v1/tasks/",
    "/v1/tasks/tsk_1",
    "/v1/tasks/tsk_1/events",
    "/v1/tasks/a\nb",
    "/v1/me",
    "/v1/me/x",
    "/v1/features/upscale",
    "/acme/tasks",
    "/files/a/b/c.png",
    "/files",
    "//v1/tasks",
    "/v1//tasks",
    "/nowhere/at/all",
]
METHODS = ["GET", "POST", "DELETE", "PUT"]


def _table(routes: list[tuple[str, str]]) -> RouteTable:
    function = cast(LoadedFunction, object())
    targets = [
        RouteTarget(Route(method, path, "Api", f"E{number}"), function, compile_path(path))
        for number, (method, path) in enumerate(routes)
    ]
    return RouteTable(sorted(targets, key=lambda target: target.specificity))


def _every_target_tried(table: RouteTable, method: str, path: str) -> object:
    """The same match over every target: what the table answered before it kept candidates."""
    allowed = []
    for target in table.targets:
        found = target.pattern.fullmatch(path)
        if found is None:
            continue
        if target.matches_method(method):
            return target.route, found.groupdict()
        allowed.append(target.route.method)
    return ("405", sorted(set(allowed))) if allowed else "404"


def _answer(result: object) -> object:
    if isinstance(result, MethodNotAllowed):
        return ("405", sorted(result.headers["Allow"].split(", ")))
    if isinstance(result, NotFound):
        return "404"
    target, parameters = cast(tuple[RouteTarget, dict[str, str]], result)
    return target.route, parameters


@pytest.mark.parametrize("with_catch_all", [True, False])
def test_the_candidates_answer_every_path_as_trying_every_route_does(with_catch_all: bool) -> None:
    table = _table(ROUTES if with_catch_all else ROUTES[:-1])

    for path in PATHS:
        for method in METHODS:
            # asked twice: the second answer comes from the remembered candidates
            for _ in range(2):
                assert _answer(table.match(method, path)) == _every_target_tried(
                    table, method, path
                ), (method, path)


def test_a_static_route_still_beats_a_parameter_among_the_candidates() -> None:
    table = _table([("GET", "/v1/tasks/{task_id}"), ("GET", "/v1/tasks/stats")])

    target, parameters = cast(
        tuple[RouteTarget, dict[str, str]], table.match("GET", "/v1/tasks/stats")
    )

    assert target.route.path == "/v1/tasks/stats"
    assert parameters == {}


def test_paths_no_route_knows_are_not_remembered_past_the_bound() -> None:
    table = _table(ROUTES[:-1])

    for number in range(1000):
        assert isinstance(table.match("GET", f"/junk{number}/x"), NotFound)

    assert len(table._candidates) <= 256
