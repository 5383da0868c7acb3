"""The OWASP API Security Top 10 (2023) suite's stack: the local gateway over every HTTP
function of template.yaml (the same handlers, event shapes and Mangum adapters the clouds
run), served by uvicorn on 127.0.0.1 over the test run's MariaDB and Redis, and spoken to with
plain httpx — every attack crosses a real socket.

Each test calls from a loopback address of its own (`127.x.y.z`: Linux routes all of
127.0.0.0/8 to lo), so per-IP and per-account+IP limits of one test never touch another's.
Accounts come from `identity_support.new_account` (rows written as an operator would, with
real tokens), ready uploads from `task_support.new_upload`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from retouch.bootstrap.clients import reset_clients
from scripts.local.alert_sinks import MailSink
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import serving_app
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.task_support import new_upload

#: The one browser origin the served stack allows (API8's CORS probes).
ALLOWED_ORIGIN = "https://app.retouch.example"


@dataclass(frozen=True)
class Served:
    """The served gateway: its base URL and the Starlette app (its loaded functions)."""

    url: str
    app: Any


@pytest.fixture(scope="package")
def served(
    stack: Stack, account_mail: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The gateway on a free port for the whole package; its settings are those of the test
    run plus one CORS origin and a local storage folder, restored afterwards. Account mail
    reaches `account_mail`."""
    objects: Path = tmp_path_factory.mktemp("security-objects")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETOUCH_CORS_ORIGINS", ALLOWED_ORIGIN)
        patch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(objects))
        patch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", secrets.token_hex(24))
        reset_clients()
        app = create_gateway(load_template())
        with serving_app(app) as url:
            yield Served(url=url, app=app)
    reset_clients()


def new_loopback_address() -> str:
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def client_for(served: Served, address: str | None = None) -> httpx.Client:
    """An httpx client of the served stack calling from `address` (a fresh one by default)."""
    transport = httpx.HTTPTransport(local_address=address or new_loopback_address())
    return httpx.Client(base_url=served.url, transport=transport, timeout=30)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    """A client of the served stack from a loopback address of this test alone."""
    with client_for(served) as client:
        yield client


def account(role: str = "user") -> tuple[str, dict[str, str]]:
    """A new account with `role`: its public id and an Authorization header."""
    fields, headers = new_account(role)
    return str(fields["id"]), headers


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is a problem+json refusal with `status` and `code`; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def same_refusal(first: httpx.Response, second: httpx.Response) -> None:
    """The two answers cannot be told apart: status, code, title and detail."""
    fields = ("status", "code", "title", "detail")
    assert first.status_code == second.status_code
    assert {k: first.json()[k] for k in fields} == {k: second.json()[k] for k in fields}


def create_task(
    http: httpx.Client, headers: dict[str, str], owner: str, *, key: str | None = None
) -> httpx.Response:
    """`POST /v1/tasks` for a cutout of a fresh ready upload of `owner`."""
    body = {"feature": "cutout", "inputs": {"image": new_upload(owner)}}
    sent = {**headers, "Idempotency-Key": key or secrets.token_hex(8)}
    return http.post("/v1/tasks", json=body, headers=sent)


def second_ledger_page(http: httpx.Client, headers: dict[str, str], owner: str) -> str:
    """The cursor of the second page of `owner`'s ledger (their grant, then a task's
    reservation: one row a page)."""
    assert create_task(http, headers, owner).status_code == 202
    page = http.get("/v1/me/quota/ledger", params={"limit": 1}, headers=headers).json()
    cursor: str = page["next_cursor"]
    assert cursor
    return cursor
