"""Unit tests run without servers and cannot reach the network: settings point at a closed
port, and every socket but a Unix one is refused (pytest-socket) from each test's set-up on."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from pytest_socket import disable_socket

from tests.unit.processes import Command, Started, declare, declared, started

ROOT = Path(__file__).resolve().parents[2]

UNIT_ENV = {
    "RETOUCH_STAGE": "test",
    # The seed's simulator listens on loopback (retouch.providers.destinations).
    "RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK": "true",
    "RETOUCH_DB_HOST": "127.0.0.1",
    "RETOUCH_DB_PORT": "9",
    "RETOUCH_DB_USER": "unit",
    "RETOUCH_DB_NAME": "unit",
    "RETOUCH_REDIS_URL": "redis://127.0.0.1:9/0",
    "RETOUCH_MAX_BODY_BYTES": "4096",
    "RETOUCH_JWT_KEYS": '{"unit-1": "unit-test-signing-key-0123456789abcdef"}',
    "POWERTOOLS_SERVICE_NAME": "retouch-unit",
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Block sockets for the unit tests alone (this conftest's hooks see only tests/unit), before
    their fixtures run; pytest-socket lifts the block at teardown. Unix sockets stay allowed:
    asyncio's event loop (and so Starlette's TestClient) wakes itself through a socketpair."""
    disable_socket(allow_unix_socket=True)


@pytest.fixture(scope="session")
def background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Started]:
    """The interpreters declared by the modules of this session's tests (`processes.declare`),
    started together."""
    modules = {item.module.__name__ for item in request.session.items if hasattr(item, "module")}
    commands = declared(modules, lambda name: tmp_path_factory.mktemp(name.replace(":", "-")))
    with started(commands) as processes:
        yield processes


@pytest.fixture(scope="session", autouse=True)
def _background_started(background: Started) -> None:
    """Start the declared interpreters with the first unit test."""


@pytest.fixture(autouse=True)
def unit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in UNIT_ENV.items():
        monkeypatch.setenv(name, value)


def declare_isolated(
    name: str, code: str, *, module: str, env: Mapping[str, str] | None = None
) -> None:
    """`code` run by our interpreter in a fresh process (the unit settings, the layer on its
    path: what importing a module really loads), declared at a test module's import and
    started with the session's first unit test (`processes.declare`): read its result with
    `background.result(name)`."""
    environment = {**UNIT_ENV, "PYTHONPATH": "layers/retouch"} if env is None else dict(env)
    command = Command(args=[sys.executable, "-c", code], env=environment, cwd=ROOT)
    declare(name, lambda _: command, module=module)
