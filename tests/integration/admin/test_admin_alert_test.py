"""`POST /v1/admin/alerts/test` against the real admin function and the loopback sinks of
`scripts/local/alert_sinks.py`: a test message reaches DingTalk (signed, checked by the sink),
WeCom and the SMTP sink; a channel this deploy does not configure is a 409, one that refuses
is a 502 and the attempt is still audited; only admins may send; a bad channel is a 422."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from scripts.local.alert_sinks import MailSink, WebhookSink, alert_env, smtp_sink, webhook_sink
from tests.conftest import Stack
from tests.integration.admin_support import admin_client
from tests.integration.identity_support import audit_rows, new_account

pytestmark = pytest.mark.integration

SIGNING = "SEC-test-robot-secret-0123456789abcdef"


@pytest.fixture
def sinks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WebhookSink, MailSink]]:
    with webhook_sink(SIGNING) as webhooks, smtp_sink() as mail:
        for name, value in alert_env(webhooks, mail).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RETOUCH_ALERTS_LANGUAGE", "en")
        reset_clients()
        yield webhooks, mail
    monkeypatch.undo()
    reset_clients()


@pytest.fixture
def client(stack: Stack) -> Iterator[Any]:
    with admin_client() as test_client:
        yield test_client


def test_a_test_message_reaches_each_channel_and_is_audited(
    client: Any, sinks: tuple[WebhookSink, MailSink]
) -> None:
    webhooks, mail = sinks
    actor, admin = new_account("admin")

    answers = {
        channel: client.post("/v1/admin/alerts/test", json={"channel": channel}, headers=admin)
        for channel in ("dingtalk", "wecom", "email")
    }

    assert {c: (a.status_code, a.json()) for c, a in answers.items()} == {
        c: (200, {"channel": c, "delivered": True}) for c in ("dingtalk", "wecom", "email")
    }
    assert webhooks.refused == []  # DingTalk's signature check passed
    (dingtalk,) = webhooks.of("dingtalk")
    assert "Test notification" in dingtalk["markdown"]["title"]
    assert len(webhooks.of("wecom")) == 1
    (email,) = mail.messages
    assert "Test notification" in str(email["Subject"])
    rows = [r for r in audit_rows("dingtalk") if r["actor"] == actor["id"]]
    assert [(r["action"], r["after_state"]) for r in rows] == [("alerts.test", {"delivered": True})]


def test_a_refusing_channel_is_a_502_and_still_audited(
    client: Any, sinks: tuple[WebhookSink, MailSink]
) -> None:
    webhooks, _ = sinks
    webhooks.failing = True  # the robot answers 502
    actor, admin = new_account("admin")

    response = client.post("/v1/admin/alerts/test", json={"channel": "wecom"}, headers=admin)

    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "ALERT_NOT_DELIVERED"
    rows = [r for r in audit_rows("wecom") if r["actor"] == actor["id"]]
    assert [r["after_state"] for r in rows] == [{"delivered": False}]


def test_an_unconfigured_channel_is_a_409(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETOUCH_ALERTS_SMTP_HOST", "RETOUCH_ALERTS_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    reset_clients()
    _, admin = new_account("admin")

    response = client.post("/v1/admin/alerts/test", json={"channel": "email"}, headers=admin)

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "ALERT_CHANNEL_UNCONFIGURED"


@pytest.mark.parametrize(
    "body", [{"channel": "sms"}, {}, {"channel": "email", "to": "x@example.com"}, {"channel": 1}]
)
def test_a_bad_body_is_a_422(client: Any, body: Any) -> None:
    _, admin = new_account("admin")
    response = client.post("/v1/admin/alerts/test", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_an_operator_may_not_send(client: Any) -> None:
    _, operator = new_account("operator")
    response = client.post("/v1/admin/alerts/test", json={"channel": "email"}, headers=operator)
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
