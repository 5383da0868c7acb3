"""Throwaway MariaDB and Redis processes for the local stack and the test suite.

Each server runs as a child process with its data in a folder of ours, bound to 127.0.0.1,
never the system service. `stop()` is safe to call twice and after a crash.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import redis

DB_NAME = "retouch"
DB_USER = "retouch"
DB_PASSWORD = "retouch-local"  # noqa: S105 - a throwaway local server on loopback


def slow_log_threshold_s() -> float:
    """The slow query log's threshold: RETOUCH_DB_SLOW_MS (its default when unset), in
    seconds; 0 keeps the log off."""
    from retouch.core.settings import Settings

    value = os.environ.get("RETOUCH_DB_SLOW_MS")
    default = Settings.model_fields["db_slow_ms"].default
    return float(value if value is not None else default) / 1000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_app(app: Any, *, port: int = 0, timeout_s: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:`port` (0: a free one) in a daemon thread
    (its lifespan runs); yields the base URL without a trailing slash and stops the server on
    the way out."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the app on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()),
            None,
        )
        if found:
            return found
    raise RuntimeError(f"none of {names} is installed (run scripts/setup)")


def _wait(
    check: Callable[[], object], what: str, timeout_s: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - keep polling until ready or timed out
            last_error = exc
            time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout_s}s: {last_error}")


@dataclass
class MariaDBServer:
    """A private mariadbd: `start()` initialises the data folder on first use."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_options: list[str] = field(default_factory=list)
    slow_log_s: float = field(default_factory=slow_log_threshold_s)

    @property
    def slow_log_path(self) -> Path:
        """The slow query log (statements over RETOUCH_DB_SLOW_MS): `scripts/slow-queries`."""
        return self.data_dir / "slow.log"

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "mysqld.sock"

    def env(self) -> dict[str, str]:
        return {
            "RETOUCH_DB_HOST": "127.0.0.1",
            "RETOUCH_DB_PORT": str(self.port),
            "RETOUCH_DB_USER": DB_USER,
            "RETOUCH_DB_PASSWORD": DB_PASSWORD,
            "RETOUCH_DB_NAME": DB_NAME,
        }

    @property
    def temporary_dir(self) -> Path:
        # Beside the data folder (a folder inside it would show up as a database). A private
        # one: bootstraps sharing /tmp fail now and then when several run at once
        # ("Unknown table 'mysql.tmp_user_sys'"), as with parallel test runs.
        return self.data_dir.with_name(f"{self.data_dir.name}-tmp")

    def start(self) -> MariaDBServer:
        fresh = not (self.data_dir / "mysql").exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.temporary_dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            subprocess.run(  # noqa: S603 - fixed arguments, our own binary
                [
                    _binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={self.data_dir}",
                    f"--tmpdir={self.temporary_dir}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--user=root",
                ],
                check=True,
                capture_output=True,
            )
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(  # noqa: S603
            [
                _binary("mariadbd", "mysqld"),
                "--no-defaults",
                f"--datadir={self.data_dir}",
                f"--tmpdir={self.temporary_dir}",
                f"--socket={self.socket_path}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=2",
                f"--pid-file={self.data_dir / 'mysqld.pid'}",
                f"--slow-query-log={int(self.slow_log_s > 0)}",
                f"--slow-query-log-file={self.slow_log_path}",
                f"--long-query-time={self.slow_log_s:g}",
                *self.extra_options,
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        _wait(self._root_ping, "mariadbd", 60, self.process)
        self._create_app_database()
        return self

    def _root_connection(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            unix_socket=str(self.socket_path), user="root", connect_timeout=2, ssl_disabled=True
        )

    def _root_ping(self) -> None:
        self._root_connection().close()

    def _create_app_database(self) -> None:
        connection = self._root_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{DB_NAME}` CHARACTER SET utf8mb4")
                cursor.execute(
                    "CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s",
                    (DB_USER, DB_PASSWORD),
                )
                cursor.execute(f"GRANT ALL ON `{DB_NAME}`.* TO %s@'127.0.0.1'", (DB_USER,))
                # Restores and the verify job's scratch database (docs/operations.md).
                cursor.execute(f"GRANT ALL ON `{DB_NAME}\\_%%`.* TO %s@'127.0.0.1'", (DB_USER,))
            connection.commit()
        finally:
            connection.close()

    def stop(self) -> None:
        _terminate(self.process, timeout_s=30)
        self.process = None


@dataclass
class RedisServer:
    """A private redis-server with no persistence (the cache is disposable)."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {"RETOUCH_REDIS_URL": self.url}

    def start(self) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(  # noqa: S603
            [
                _binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        _wait(client.ping, "redis-server", 20, self.process)
        client.close()
        return self

    def stop(self) -> None:
        _terminate(self.process, timeout_s=10)
        self.process = None


def _terminate(process: subprocess.Popen[bytes] | None, *, timeout_s: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def temporary_servers(
    prefix: str, mariadb_options: Sequence[str] = ()
) -> Iterator[tuple[MariaDBServer, RedisServer, Path]]:
    """MariaDB and Redis in a temporary folder on free ports (benchmarks), stopped and removed
    on the way out whatever happened; yields both and the folder for other scratch files.
    `mariadb_options` go to mariadbd after ours (a later option wins)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as temp:
        work = Path(temp)
        mariadb = MariaDBServer(work / "mariadb", extra_options=list(mariadb_options))
        redis = RedisServer(work / "redis")
        try:
            print("starting MariaDB and Redis …", file=sys.stderr)
            mariadb.start()
            redis.start()
            yield mariadb, redis, work
        finally:
            redis.stop()
            mariadb.stop()
