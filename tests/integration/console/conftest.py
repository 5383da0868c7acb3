"""The console tests' stack: the local gateway of template.yaml on a private MariaDB and Redis
with the local metrics sink. The five features run first through the demo (with the step
consumers), the rollups are recomputed, then the gateway is served again without consumers, so
a dead letter put in a step queue's dead letters stays there until the console redrives it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.rollups import recompute_recent
from scripts.local.alert_sinks import mail_env, smtp_sink
from scripts.local.demo import run_demo
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import free_port, serving_app
from tests.conftest import Stack
from tests.integration.identity_support import PASSWORD, new_account


@dataclass(frozen=True)
class ConsoleStack:
    """The served gateway's base URL and an admin's email and password."""

    url: str
    email: str
    password: str


@pytest.fixture(scope="module")
def console_stack(
    private_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    folder = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as patch, smtp_sink(folder / "mail") as mail:
        patch.setenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", "1000000")
        patch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(folder / "objects"))
        patch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", secrets.token_hex(24))
        patch.setenv("RETOUCH_METRICS_SINK", "local")
        patch.setenv("RETOUCH_METRICS_LOCAL_PATH", str(folder / "metrics.jsonl"))
        for name, value in mail_env(mail).items():  # the demo user's verification mail
            patch.setenv(name, value)
        port = free_port()
        patch.setenv("RETOUCH_STORAGE_LOCAL_BASE_URL", f"http://127.0.0.1:{port}/_storage")
        reset_clients()
        _run_the_five_features(port, folder / "demo", folder / "mail")
        recompute_recent(database=get_database())
        admin, _ = new_account("admin")
        with serving_app(create_gateway(load_template()), port=port) as url:
            yield ConsoleStack(url=url, email=admin["email"], password=PASSWORD)
    reset_clients()


def _run_the_five_features(port: int, out: Path, mail: Path) -> None:
    gateway = create_gateway(load_template(), consumers=True)
    with serving_app(gateway, port=port) as url, httpx.Client(base_url=url, timeout=30) as client:
        run_demo(client, out, timeout_s=180, poll_s=0.2, log=lambda _message: None, mail_dir=mail)
