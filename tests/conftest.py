"""Shared fixtures: the real MariaDB and Redis of this test run, events and contexts.

The servers start once per session in a temporary folder on free ports and stop at the end,
whatever happens (fixture finalizer, plus an atexit guard for an interrupted run).
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from retouch.bootstrap.clients import reset_clients
from scripts.local.lambda_runtime import FakeLambdaContext, load_function
from scripts.local.servers import MariaDBServer, RedisServer

if TYPE_CHECKING:
    from scripts.local.alert_sinks import MailSink

# Every JSON body the suite receives is scanned for leaks at the end (DESIGN §3), and every
# line the retouch logger writes for secrets (§8); every SQL statement is held to the
# catalogue the plans test explains (tests/integration/plans).
pytest_plugins = [
    "tests.leak_scan_plugin",
    "tests.log_scan_plugin",
    "tests.sql_catalogue_plugin",
]

# Re-exported: tests import these helpers from here.
__all__ = ["FakeLambdaContext", "Stack", "load_event", "load_function"]

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

TEST_JWT_KID = "test-1"

# Settings every test process sees; servers add their own addresses.
BASE_ENV = {
    "RETOUCH_STAGE": "test",
    # The vendor fakes and the simulator listen on loopback.
    "RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK": "true",
    # No test is refused by the per-IP limit by accident; rate-limit tests set their own.
    "RETOUCH_RATE_LIMIT_PER_IP_PER_MIN": "100000",
    "RETOUCH_RATE_LIMIT_REGISTER_PER_IP_PER_HOUR": "100000",
    "RETOUCH_RATE_LIMIT_REGISTER_PER_NETWORK_PER_HOUR": "100000",
    "RETOUCH_RATE_LIMIT_REGISTER_GLOBAL_PER_MIN": "100000",
    "RETOUCH_RATE_LIMIT_PASSWORD_RESET_PER_IP_PER_HOUR": "100000",
    "RETOUCH_RATE_LIMIT_VERIFICATION_RESEND_PER_IP_PER_HOUR": "100000",
    "RETOUCH_RATE_LIMIT_VERIFICATION_CODE_PER_EMAIL_PER_HOUR": "100000",
    # Concurrency tests register dozens at once; the hashing cap's tests set their own.
    "RETOUCH_PASSWORD_HASH_WAIT_MS": "10000",
    # A random signing key per test run: no token outlives the run.
    "RETOUCH_JWT_KEYS": json.dumps({TEST_JWT_KID: secrets.token_urlsafe(32)}),
    # Likewise the backup manifests' signing key (read as env:RETOUCH_SECRET_BACKUP_SIGNING_KEYS).
    "RETOUCH_SECRET_BACKUP_SIGNING_KEYS": json.dumps({"test-1": secrets.token_urlsafe(32)}),
    # Hundreds of threads connect at once in the concurrency tests on a 2-core machine; a
    # stopped server refuses at once, so fault tests do not wait for this.
    "RETOUCH_DB_CONNECT_TIMEOUT_S": "10",
    "POWERTOOLS_SERVICE_NAME": "retouch-test",
    "POWERTOOLS_METRICS_NAMESPACE": "RetouchTest",
}


@dataclass
class Stack:
    """The running servers and the environment that points at them."""

    mariadb: MariaDBServer
    redis: RedisServer

    def env(self) -> dict[str, str]:
        return {**BASE_ENV, **self.mariadb.env(), **self.redis.env()}


@contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    """Start MariaDB + Redis under `root`, point the environment at them, migrate and seed;
    stop both and restore the environment on the way out, whatever happened."""
    from retouch.core.settings import get_settings
    from scripts.local.migrate import apply_migrations, load_seed

    mariadb, redis = MariaDBServer(root / "mariadb"), RedisServer(root / "redis")
    atexit.register(mariadb.stop)
    atexit.register(redis.stop)
    running = Stack(mariadb=mariadb, redis=redis)
    try:
        mariadb.start()
        redis.start()
        with environment(running.env()):
            reset_clients()
            apply_migrations(get_settings())
            load_seed()
            reset_clients()
            yield running
    finally:
        reset_clients()
        redis.stop()
        mariadb.stop()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in the environment for the block; what was there before, after it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """MariaDB + Redis shared by the whole session; tests must not stop them."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def account_mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    """The loopback SMTP sink account mail goes to for the rest of the session (a sign-up's
    verification link is read from it, as its recipient would); each mail is also a file in
    its `folder`, as `scripts/run` writes them."""
    from scripts.local.alert_sinks import mail_env, smtp_sink

    folder = tmp_path_factory.mktemp("account-mail")
    with smtp_sink(folder) as sink, environment(mail_env(sink)):
        yield sink


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """MariaDB + Redis of one test module, which may stop and restart them."""
    with running_stack(tmp_path_factory.mktemp("private-stack")) as running:
        yield running


class LogLines:
    """JSON log lines written by the retouch logger during a test, parsed."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line]

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.all() if line.get("message") == message]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Observe the structured log through an extra handler using the Powertools formatter."""
    from retouch.core.logging import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    underlying.addHandler(handler)
    try:
        yield LogLines(stream)
    finally:
        underlying.removeHandler(handler)


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test starts with no cached settings or clients."""
    reset_clients()
    yield
    reset_clients()


def load_event(name: str) -> dict[str, Any]:
    """A canonical event from events/ by file name."""
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
