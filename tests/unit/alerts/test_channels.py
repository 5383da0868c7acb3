"""Which notifiers a deploy gets: a channel is on when its settings name where to send; a
secret that cannot be read makes that channel fail (its messages stay owed), not the others."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from retouch.alerts.channels import UnreadableChannel, build_notifiers
from retouch.core.secrets import forget_secrets
from retouch.core.settings import Settings
from retouch.notify.mail import EmailNotifier
from retouch.notify.messages import AlertMessage, NotifierError
from retouch.notify.robots import DingTalkNotifier, WeComNotifier

BASE = {
    "db_host": "127.0.0.1",
    "db_user": "u",
    "db_name": "u",
    "redis_url": "redis://127.0.0.1:9/0",
}


def settings(**values: object) -> Settings:
    return Settings.model_validate({**BASE, **values})


@pytest.fixture
def client() -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))


def test_nothing_configured_means_no_channel(client: httpx.Client) -> None:
    assert build_notifiers(settings(), client) == {}


def test_each_configured_channel_is_built_from_its_secrets(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_SECRET_DT", "https://oapi.dingtalk.com/robot/send?access_token=t")
    monkeypatch.setenv(
        "RETOUCH_SECRET_WC", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    )
    forget_secrets()
    notifiers = build_notifiers(
        settings(
            alerts_dingtalk_webhook_secret="env:RETOUCH_SECRET_DT",
            alerts_wecom_webhook_secret="env:RETOUCH_SECRET_WC",
            alerts_smtp_host="smtp.example.com",
            alerts_email_to="ops@example.com",
        ),
        client,
    )
    assert {k: type(v) for k, v in notifiers.items()} == {
        "dingtalk": DingTalkNotifier,
        "wecom": WeComNotifier,
        "email": EmailNotifier,
    }


def test_an_unreadable_secret_fails_its_channel_only(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETOUCH_SECRET_MISSING", raising=False)
    monkeypatch.setenv(
        "RETOUCH_SECRET_WC", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    )
    forget_secrets()
    notifiers = build_notifiers(
        settings(
            alerts_dingtalk_webhook_secret="env:RETOUCH_SECRET_MISSING",
            alerts_wecom_webhook_secret="env:RETOUCH_SECRET_WC",
        ),
        client,
    )
    assert isinstance(notifiers["dingtalk"], UnreadableChannel)
    assert isinstance(notifiers["wecom"], WeComNotifier)
    message = AlertMessage(
        phase="firing",
        rule="r",
        summary="s",
        subject="",
        value=1,
        threshold=1,
        severity="warning",
        since=datetime(2026, 12, 5, tzinfo=timezone.utc),
    )
    with pytest.raises(NotifierError, match="dingtalk: secret unavailable"):
        notifiers["dingtalk"].send(message)
