"""Fixtures of the local-runtime tests: the gateway over the real functions or an echo function."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from scripts.local.alert_sinks import MailSink
from scripts.local.gateway import create_gateway
from scripts.local.sam import Template, load_template
from tests.conftest import Stack
from tests.integration.identity_support import Api, apps, new_client_ip
from tests.integration.local_runtime import (
    ECHO_APP,
    ECHO_TEMPLATE,
)
from tests.integration.runninghub_fake import API_KEY, FakeRunningHub, fake_runninghub
from tests.integration.sqs_support import MotoSqs, moto_sqs


@pytest.fixture(scope="session")
def sqs() -> Iterator[MotoSqs]:
    """moto's SQS server on a free loopback port, shared by the session."""
    with moto_sqs() as server:
        yield server


@pytest.fixture
def echo_template(tmp_path: Path) -> Template:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(ECHO_APP)
    (tmp_path / "template.yaml").write_text(ECHO_TEMPLATE)
    return load_template(tmp_path / "template.yaml")


@pytest.fixture
def echo_client(stack: Stack, echo_template: Template) -> Iterator[TestClient]:
    with TestClient(create_gateway(echo_template), client=("198.51.100.9", 50000)) as client:
        yield client


@pytest.fixture(scope="module")
def health_client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_gateway(load_template())) as client:
        yield client


@pytest.fixture(scope="module")
def identity_apps(stack: Stack) -> tuple[Any, Any]:
    """The auth and users functions' apps, loaded once per module."""
    return apps()


@pytest.fixture
def api(identity_apps: tuple[Any, Any], account_mail: MailSink) -> Iterator[Api]:
    """Clients of the auth and users functions, calling from an address of this test alone;
    account mail reaches `account_mail`."""
    auth, users = identity_apps
    client = (new_client_ip(), 50000)
    with (
        TestClient(auth, client=client, raise_server_exceptions=False) as auth_client,
        TestClient(users, client=client, raise_server_exceptions=False) as users_client,
    ):
        yield Api(auth=auth_client, users=users_client, mail=account_mail)


@pytest.fixture
def runninghub() -> Iterator[FakeRunningHub]:
    """A fake of RunningHub's open API on a free loopback port that accepts `API_KEY`."""
    with fake_runninghub(API_KEY) as fake:
        yield fake
