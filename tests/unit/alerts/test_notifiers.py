"""The notifiers' wire formats: DingTalk's signed webhook and markdown body, WeCom's markdown
body, and the alert email's headers and body in both languages. The robots are called through
an in-memory httpx transport that records each request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from retouch.notify.mail import build_email
from retouch.notify.messages import AlertMessage, NotifierError
from retouch.notify.robots import DingTalkNotifier, WeComNotifier, dingtalk_sign

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=tok-123"
NOW_MS = 1_764_979_200_123
SINCE = datetime(2026, 12, 5, 22, 0, tzinfo=timezone.utc)


def message(phase: str = "firing", language: str = "zh-CN") -> AlertMessage:
    return AlertMessage(
        phase=phase,  # type: ignore[arg-type]
        rule="provider_breaker",
        summary="供应商熔断已打开" if language == "zh-CN" else "Provider breaker open",
        subject="simulator",
        value=1.0,
        threshold=1.0,
        severity="critical",
        since=SINCE,
        language=language,  # type: ignore[arg-type]
    )


def recording_client(
    answer: dict[str, object], status: int = 200
) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer)

    return httpx.Client(transport=httpx.MockTransport(respond)), seen


def test_dingtalk_request_is_signed_as_documented_and_carries_markdown() -> None:
    client, seen = recording_client({"errcode": 0, "errmsg": "ok"})
    DingTalkNotifier(client, WEBHOOK, SECRET, clock_ms=lambda: NOW_MS).send(message())

    (request,) = seen
    query = parse_qs(urlsplit(str(request.url)).query)  # percent-decoded, as DingTalk reads it
    assert query["access_token"] == ["tok-123"]
    assert query["timestamp"] == [str(NOW_MS)]
    # DingTalk's check: Base64(HMAC-SHA256(secret, "<timestamp>\n<secret>")).
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{NOW_MS}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]
    body = json.loads(request.content)
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "[告警] 供应商熔断已打开 · simulator"
    assert body["markdown"]["text"].startswith("### [告警] 供应商熔断已打开")
    assert "- **对象**: simulator" in body["markdown"]["text"]


def test_dingtalk_sign_is_url_encoded_for_the_query() -> None:
    # '+', '/' and '=' of Base64 must not reach the query raw.
    signs = [dingtalk_sign(SECRET, NOW_MS + n) for n in range(50)]
    assert all(not set(sign) & {"+", "/", "="} for sign in signs)
    assert any("%2B" in sign or "%2F" in sign or "%3D" in sign for sign in signs)


def test_wecom_request_carries_markdown_content() -> None:
    client, seen = recording_client({"errcode": 0, "errmsg": "ok"})
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"
    WeComNotifier(client, url).send(message("resolved", "en"))

    (request,) = seen
    assert str(request.url) == url
    body = json.loads(request.content)
    assert body == {
        "msgtype": "markdown",
        "markdown": {"content": message("resolved", "en").markdown()},
    }
    assert body["markdown"]["content"].startswith("### [RESOLVED] Provider breaker open")


@pytest.mark.parametrize(
    ("answer", "status"), [({"errcode": 310000, "errmsg": "sign not match"}, 200), ({}, 502)]
)
def test_a_refusing_robot_raises_without_naming_its_token(
    answer: dict[str, object], status: int
) -> None:
    client, _ = recording_client(answer, status)
    with pytest.raises(NotifierError) as raised:
        DingTalkNotifier(client, WEBHOOK, SECRET, clock_ms=lambda: NOW_MS).send(message())
    assert "tok-123" not in str(raised.value) and SECRET not in str(raised.value)
    assert "oapi.dingtalk.com" in str(raised.value)


def test_an_unreachable_robot_raises_a_notifier_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(NotifierError, match="ConnectError"):
        WeComNotifier(client, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k").send(
            message()
        )


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("zh-CN", "[告警] 供应商熔断已打开 · simulator", "对象: simulator"),
        ("en", "[ALERT] Provider breaker open · simulator", "Subject: simulator"),
    ],
)
def test_email_has_headers_and_a_utf8_body_in_its_language(
    language: str, subject: str, line: str
) -> None:
    email = build_email(
        message(language=language),
        sender="alerts@retouch.test",
        recipients=["ops@retouch.test", "oncall@retouch.test"],
    )
    parsed = message_from_bytes(email.as_bytes(), policy=policy.default)

    assert parsed["Subject"] == subject
    assert parsed["From"] == "alerts@retouch.test"
    assert parsed["To"] == "ops@retouch.test, oncall@retouch.test"
    assert parsed["Content-Language"] == language
    assert parsed["Message-ID"].endswith("@retouch.test>")
    assert parsed.get_content_charset() == "utf-8"
    body = parsed.get_content()
    assert body.startswith(subject + "\n")
    assert line in body
    assert "2026-12-05 22:00:00 UTC" in body
