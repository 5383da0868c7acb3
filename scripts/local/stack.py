"""The local stack (`scripts/run`): MariaDB, Redis, migrations and seed, the vendor simulator,
then every function of template.yaml behind the local gateway on http://127.0.0.1:8000, with
its schedules and a consumer per SQS event reading the queue's Redis stream
(`scripts/local/consumers.py`).

    python -m scripts.local.stack [--data-dir .local] [--host 127.0.0.1] [--port 8000]
                            [--db-port 3307] [--redis-port 6380] [--processes N] [--workers 4]
                            [--consumer-processes 1]
                            [--simulator-port 8900] [--simulator-args "--error-rate 0.3 ..."]

With `--processes N` (default: the machine's CPU count) the gateway is served by N worker
processes, each with its own connections as a function instance has, and the consumers and
schedules run in a process of their own (`scripts/local/processes.py`); `--processes 1` keeps
everything in this one process, for a debugger. `--workers` is the handler threads of each
function in each process. `--consumer-processes N` runs the queue consumers in N processes, as
a step function scales out to N instances (the schedules in the first).

Defaults can also come from STACK_DATA_DIR, STACK_HOST, STACK_PORT, STACK_DB_PORT,
STACK_REDIS_PORT, STACK_PROCESSES, STACK_CONSUMER_PROCESSES, STACK_SIMULATOR_PORT,
STACK_SIMULATOR_ARGS. The data of MariaDB
(`<data-dir>/mariadb`) survives restarts; Redis holds only disposable state. While the stack
runs, `<data-dir>/env` holds the RETOUCH_* variables that point at it (`scripts/invoke` reads
them); it is removed on a clean stop.

The simulator (`scripts/simulator/service.py`) serves on 127.0.0.1:<simulator-port> (8900,
the seed's endpoint; 0 for a free port) in a thread of the stack, with the knobs of
`--simulator-args` (its own options: `--latency-ms`, `--error-rate`, `--hang-rate`, `--burst-429`,
`--concurrency`, `--seed`, ...). The seed leaves the `simulator` provider disabled: an
operator enables it through the admin API (README).

Alerts (the `monitor` schedule) go to loopback sinks the stack starts unless a
RETOUCH_ALERTS_* variable is set: a DingTalk/WeCom webhook sink appending to
`<data-dir>/alerts/webhooks.jsonl` and an SMTP sink writing `<data-dir>/alerts/mail/*.eml`
(`scripts/local/alert_sinks.py`); the stack prints where they listen. Account mail (password
reset links) goes to another SMTP sink writing `<data-dir>/mail/*.eml`, unless
RETOUCH_MAIL_SMTP_HOST is set; the stack prints where to read it.

The stack owns the connection settings (RETOUCH_DB_HOST/PORT/USER/PASSWORD/NAME and
RETOUCH_REDIS_URL); every other RETOUCH_* variable set in the shell applies and is validated
first: an invalid one stops the stack with one line naming it (exit status 2). Unless the
shell sets them, the stack's secrets are random ones kept in the data folder, so they outlive
a restart (`LOCAL_SECRETS`): the JWT signing key, the backup manifests' signing key, and the
simulator's API key and callback secret, which the simulator and the stack's `simulator`
provider then share.

Metrics stay on, as in the cloud: each request also prints its EMF metric line, so what
CloudWatch would receive is visible. Set POWERTOOLS_METRICS_DISABLED=true for a quieter console,
or RETOUCH_METRICS_SINK=local to collect them as JSON lines in .local/metrics.jsonl instead
(docs/observability.md).

Ctrl-C or SIGTERM stops the HTTP server and the queue consumers (a batch in flight finishes),
then Redis, then MariaDB, whatever state start-up reached.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from retouch.bootstrap.clients import reset_clients
from retouch.core.settings import SettingsError, get_settings
from scripts.local.alert_sinks import alert_env, mail_env, smtp_sink, webhook_sink
from scripts.local.captcha_fake import APP_ID as CAPTCHA_APP_ID
from scripts.local.captcha_fake import SECRET as CAPTCHA_SECRET
from scripts.local.captcha_fake import SITE_KEY as CAPTCHA_SITE_KEY
from scripts.local.captcha_fake import running_fake_captcha, signed_by
from scripts.local.gateway import create_gateway
from scripts.local.lambda_runtime import ROOT, write_env_file
from scripts.local.migrate import apply_migrations, load_seed
from scripts.local.processes import serve_processes
from scripts.local.sam import load_template
from scripts.local.servers import MariaDBServer, RedisServer, serving_app
from scripts.simulator.service import SimulatorConfig, create_simulator
from scripts.simulator.service import parse_arguments as parse_simulator_arguments

#: Secrets the stack makes unless the shell sets them: variable → (file in the data folder,
#: how a new one is made).
LOCAL_SECRETS: dict[str, tuple[str, Callable[[], str]]] = {
    "RETOUCH_JWT_KEYS": (
        "jwt-keys.json",
        lambda: json.dumps({"local-1": secrets.token_urlsafe(48)}, separators=(",", ":")),
    ),
    "RETOUCH_SIMULATOR_API_KEY": ("simulator-api-key", lambda: secrets.token_urlsafe(32)),
    "RETOUCH_SIMULATOR_CALLBACK_SECRET": (
        "simulator-callback-secret",
        lambda: secrets.token_urlsafe(32),
    ),
    # The backup manifests' signing key (RETOUCH_BACKUP_SIGNING_KEYS_SECRET's default).
    "RETOUCH_SECRET_BACKUP_SIGNING_KEYS": (
        "backup-signing-keys.json",
        lambda: json.dumps({"local-1": secrets.token_urlsafe(32)}, separators=(",", ":")),
    ),
}


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: unwind and stop the servers."""


def _log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    environment = os.environ
    parser = argparse.ArgumentParser(prog="scripts/run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(environment.get("STACK_DATA_DIR", ROOT / ".local")),
        help="where MariaDB and Redis keep their data (default .local)",
    )
    parser.add_argument("--host", default=environment.get("STACK_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(environment.get("STACK_PORT", "8000")))
    parser.add_argument(
        "--db-port", type=int, default=int(environment.get("STACK_DB_PORT", "3307"))
    )
    parser.add_argument(
        "--redis-port", type=int, default=int(environment.get("STACK_REDIS_PORT", "6380"))
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=int(environment.get("STACK_PROCESSES", os.cpu_count() or 1)),
        help="HTTP worker processes (default: the CPU count); 1 runs everything in one process",
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="threads per function per process (default 4)"
    )
    parser.add_argument(
        "--consumer-processes",
        type=int,
        default=int(environment.get("STACK_CONSUMER_PROCESSES", "1")),
        help="processes running the queue consumers, with --processes > 1 (default 1)",
    )
    parser.add_argument(
        "--simulator-port",
        type=int,
        default=int(environment.get("STACK_SIMULATOR_PORT", "8900")),
        help="the vendor simulator's port (default 8900, the seed's endpoint; 0: a free one)",
    )
    parser.add_argument(
        "--simulator-args",
        default=environment.get("STACK_SIMULATOR_ARGS", ""),
        help='the simulator\'s knobs, e.g. "--error-rate 0.3 --hang-rate 0.1 --burst-429 30:5"',
    )
    return parser.parse_args(argv)


def simulator_config(arguments: str, *, api_key: str, callback_secret: str) -> SimulatorConfig:
    """The simulator's knobs from its own command-line options (`arguments`), with the
    stack's key and secret (the `simulator` provider's settings) whatever they say."""
    _, config = parse_simulator_arguments(["--port", "0", *shlex.split(arguments)])
    return replace(config, api_key=api_key, callback_secret=callback_secret)


def _raise_stop(signal_number: int, _frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signal_number).name)


def _say_still_stopping(_signal_number: int, _frame: FrameType | None) -> None:
    _log("still stopping the servers...")


def _port_in_use(host: str, port: int) -> bool:
    """Whether something listens there. SO_REUSEADDR, as the servers use it, so connections
    of a just-stopped server (TIME_WAIT) do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def local_secret(path: Path, make: Callable[[], str]) -> str:
    """A secret of the local stack: the one kept in `path` since the first start, else `make()`
    (kept by `keep_local_secret` once the settings proved valid)."""
    if path.exists():
        return path.read_text().strip()
    return make()


def keep_local_secret(path: Path, value: str) -> None:
    """Save a new local secret (mode 600); an existing file is left as it is."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value)


def start_alert_sinks(background: contextlib.ExitStack, folder: Path) -> None:
    """The loopback DingTalk/WeCom webhook sink and SMTP sink (`scripts/local/alert_sinks.py`),
    with the notifiers pointed at them, unless RETOUCH_ALERTS_* already say where to send."""
    if any(name.startswith("RETOUCH_ALERTS_") for name in os.environ):
        _log("alerts: sent where RETOUCH_ALERTS_* say; no local sinks")
        return
    folder.mkdir(parents=True, exist_ok=True)
    webhooks = background.enter_context(
        webhook_sink("SEC" + secrets.token_hex(32), log=folder / "webhooks.jsonl")
    )
    mail = background.enter_context(smtp_sink(folder / "mail"))
    os.environ.update(alert_env(webhooks, mail))
    reset_clients()
    _log(f"alert sinks: DingTalk/WeCom webhooks on {webhooks.url} -> {folder}/webhooks.jsonl; "
         f"SMTP on {mail.host}:{mail.port} -> {folder}/mail/*.eml")  # fmt: skip


def serve(app: Starlette, arguments: argparse.Namespace) -> None:
    """Serve the gateway until Ctrl-C or SIGTERM: in this process (`--processes 1`), else with
    worker processes and a background process for the consumers and schedules."""
    # uvicorn's own access log is off: it prints raw paths, and a callback's path carries
    # its job's secret token. Each function logs its request line with the route template.
    config: dict[str, Any] = {"lifespan": "on", "log_level": "info", "access_log": False}
    if arguments.processes > 1:
        reset_clients()  # the workers are spawned: no connection of this process goes along
        _log(f"{arguments.processes} worker processes, consumers and schedules in another")
        if arguments.consumer_processes > 1:
            _log(f"queue consumers in {arguments.consumer_processes} processes")
        serve_processes(
            host=arguments.host,
            port=arguments.port,
            processes=arguments.processes,
            threads=arguments.workers,
            consumer_processes=arguments.consumer_processes,
            **config,
        )
        return
    server = uvicorn.Server(uvicorn.Config(app, host=arguments.host, port=arguments.port, **config))
    # uvicorn handles the signal itself, shuts down gracefully, then raises it again,
    # which lands in _raise_stop once uvicorn has put our handler back.
    server.run()


def start_mail_sink(background: contextlib.ExitStack, folder: Path) -> None:
    """The SMTP sink of account mail (password resets), unless RETOUCH_MAIL_SMTP_HOST says
    where to send: each mail a file to read, `<data-dir>/mail/<n>.eml`."""
    if os.environ.get("RETOUCH_MAIL_SMTP_HOST"):
        _log("account mail: sent where RETOUCH_MAIL_SMTP_* say; no local sink")
        return
    mail = background.enter_context(smtp_sink(folder))
    os.environ.update(mail_env(mail))
    reset_clients()
    _log(f"account mail (password reset links): SMTP on {mail.host}:{mail.port}; "
         f"read it in {folder}/*.eml")  # fmt: skip


def start_captcha_fake(background: contextlib.ExitStack, provider: str) -> None:
    """`STACK_CAPTCHA=hcaptcha|tencent`: ask sign-ups for a CAPTCHA checked by a loopback fake
    of that provider (`scripts/local/captcha_fake.py`); `POST <fake>/solve` hands out a solved
    token, as the widget would. Unset: the CAPTCHA stays as RETOUCH_CAPTCHA_* say (off)."""
    if not provider:
        return
    if provider not in ("hcaptcha", "tencent"):
        raise RuntimeError(f"STACK_CAPTCHA={provider!r}: hcaptcha or tencent")
    keys = {"TENCENTCLOUD_SECRETID": "AKIDlocalcaptcha", "TENCENTCLOUD_SECRETKEY": "local-key"}
    fake = background.enter_context(
        running_fake_captcha(signed_by(*keys.values()))  # the keys only sign for the fake
    )
    tencent = provider == "tencent"
    os.environ.update(
        {
            "RETOUCH_CAPTCHA_PROVIDER": provider,
            "RETOUCH_CAPTCHA_SITE_KEY": str(CAPTCHA_APP_ID) if tencent else CAPTCHA_SITE_KEY,
            "RETOUCH_CAPTCHA_SECRET": "env:RETOUCH_SECRET_CAPTCHA",
            "RETOUCH_SECRET_CAPTCHA": CAPTCHA_SECRET,
            "RETOUCH_CAPTCHA_ENDPOINT": fake.tencent_url if tencent else fake.hcaptcha_url,
            **(keys if tencent else {}),
        }
    )
    reset_clients()
    get_settings()
    _log(f"captcha: {provider} checked by a fake on {fake.url}; a solved token: curl -X "
         f"POST {fake.url}/solve, sent in X-Captcha-Token (and X-Captcha-Randstr)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _raise_stop)

    data_dir: Path = arguments.data_dir.resolve()
    mariadb = MariaDBServer(data_dir / "mariadb", port=arguments.db_port)
    redis = RedisServer(data_dir / "redis", port=arguments.redis_port)
    os.environ.setdefault("RETOUCH_STAGE", "local")
    # The simulator and any vendor fake run on loopback.
    os.environ.setdefault("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "retouch")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Retouch")
    # Presigned URLs of the local storage and providers' callbacks reach this gateway, on
    # whichever port it serves.
    gateway_url = f"http://127.0.0.1:{arguments.port}"
    os.environ.setdefault("RETOUCH_STORAGE_LOCAL_BASE_URL", f"{gateway_url}/_storage")
    os.environ.setdefault("RETOUCH_CALLBACK_BASE_URL", gateway_url)
    os.environ.update({**mariadb.env(), **redis.env()})
    own_secrets: dict[str, Path] = {}
    for variable, (name, make) in LOCAL_SECRETS.items():
        if variable not in os.environ:
            own_secrets[variable] = data_dir / name
            os.environ[variable] = local_secret(data_dir / name, make)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    simulator = simulator_config(
        arguments.simulator_args,
        api_key=settings.simulator_api_key.get_secret_value(),
        callback_secret=settings.simulator_callback_secret.get_secret_value(),
    )
    ports = [
        ("HTTP", arguments.port),
        ("MariaDB", mariadb.port),
        ("Redis", redis.port),
        ("simulator", arguments.simulator_port),
    ]
    for what, port in ports:
        if port and _port_in_use(arguments.host if what == "HTTP" else "127.0.0.1", port):
            _log(f"the {what} port {port} is in use (another stack running?); choose another")
            return 1

    env_file = data_dir / "env"
    background = contextlib.ExitStack()  # the servers that run in threads of this process
    try:
        for variable, path in own_secrets.items():
            keep_local_secret(path, os.environ[variable])
        _log(f"MariaDB on 127.0.0.1:{mariadb.port}, data in {mariadb.data_dir}")
        mariadb.start()
        _log(f"Redis on 127.0.0.1:{redis.port}")
        redis.start()
        applied, seeded = apply_migrations(settings), load_seed()
        reset_clients()
        _log(f"migrations applied: {applied}; seed rows: {seeded}")
        write_env_file(
            env_file,
            {
                "RETOUCH_STAGE": settings.stage,
                "RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK": str(
                    settings.providers_allow_local_network
                ).lower(),
                "RETOUCH_JWT_KEYS": os.environ["RETOUCH_JWT_KEYS"],
                "RETOUCH_JWT_ACTIVE_KID": settings.jwt_active_kid,
                "RETOUCH_SIMULATOR_API_KEY": os.environ["RETOUCH_SIMULATOR_API_KEY"],
                "RETOUCH_SIMULATOR_CALLBACK_SECRET": os.environ[
                    "RETOUCH_SIMULATOR_CALLBACK_SECRET"
                ],
                # scripts/backup and scripts/restore sign and check manifests with it.
                "RETOUCH_SECRET_BACKUP_SIGNING_KEYS": os.environ[
                    "RETOUCH_SECRET_BACKUP_SIGNING_KEYS"
                ],
                **mariadb.env(),
                **redis.env(),
            },
        )

        simulator_url = background.enter_context(
            serving_app(create_simulator(simulator), port=arguments.simulator_port)
        )
        _log(f"simulator on {simulator_url} {simulator}; the `simulator` provider stays disabled "
             "until an operator enables it (README)")  # fmt: skip
        start_alert_sinks(background, data_dir / "alerts")
        start_mail_sink(background, data_dir / "mail")
        start_captcha_fake(background, os.environ.get("STACK_CAPTCHA", ""))
        template = load_template()
        app = create_gateway(template, workers=arguments.workers, schedules=True, consumers=True)
        gateway = app.state.gateway
        for target in sorted(gateway.targets, key=lambda item: item.route.path):
            route = target.route
            _log(f"route {route.method} {route.path} -> {target.function.spec.logical_id}")
        for job in gateway.jobs:
            _log(f"schedule {job.schedule.expression} -> {job.function.logical_id}")
        if not gateway.jobs:
            _log("schedules: none")
        for consumer in gateway.consumers:
            _log(f"queue consumer {consumer.describe()}")
        if not gateway.consumers:
            _log("queue consumers: none")
        _log(f"serving on http://{arguments.host}:{arguments.port} (API docs at /docs)")
        serve(app, arguments)
    except StopRequested as stop:
        _log(f"{stop} received")
    except RuntimeError as exc:  # a server did not come up; its log is in the data folder
        _log(f"failed: {exc}")
        return 1
    finally:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, _say_still_stopping)
        _log("stopping")
        env_file.unlink(missing_ok=True)
        background.close()
        reset_clients()
        redis.stop()
        mariadb.stop()
        _log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
