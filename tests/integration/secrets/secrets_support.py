"""The Tencent SSM fake wired into the settings: `tencent_ssm` points the secrets reader at it
with the SCF role's keys (those the fake checks), and forgets every cached secret around a
test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retouch.bootstrap.clients import reset_clients
from tests.conftest import Stack
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY
from tests.integration.tencent_ssm_fake import FakeSsm, running_fake_ssm

REGION = "ap-guangzhou"
ROLE_TOKEN = "scf-role-session-token"


@pytest.fixture
def tencent_ssm(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> Iterator[FakeSsm]:
    with running_fake_ssm() as fake:
        monkeypatch.setenv("RETOUCH_SECRETS_TENCENT_ENDPOINT", fake.url)
        monkeypatch.setenv("RETOUCH_SECRETS_TENCENT_REGION", REGION)
        monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
        monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
        monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", ROLE_TOKEN)
        reset_clients()
        yield fake
        monkeypatch.undo()
        reset_clients()
