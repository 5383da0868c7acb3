"""Loopback sinks of the alert notifiers, so a developer (and the tests) see alerts arrive:

- **webhook sink**: `POST /dingtalk` checks the request as DingTalk does (a `timestamp`
  within an hour and its `sign`, with the robot secret given) and answers DingTalk's
  `{"errcode": 0}` or `310000 sign not match`; `POST /wecom` takes WeCom's markdown body.
  Each accepted message is appended to `<dir>/webhooks.jsonl`.
- **SMTP sink**: aiosmtpd on loopback, each message appended to `<dir>/mail/<n>.eml`.

`scripts/run` starts both (`alert_sinks`) and points the RETOUCH_ALERTS_* settings, and the
account mail's RETOUCH_MAIL_SMTP_* (`mail_env`), at them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scripts.local.servers import free_port, serving_app

#: DingTalk refuses a `timestamp` further than this from its clock.
SIGN_WINDOW_MS = 3600 * 1000


def dingtalk_signature_ok(timestamp: str, sign: str, secret: str, *, now_ms: int) -> bool:
    """DingTalk's check of a signed request: the timestamp is recent and `sign` (already
    URL-decoded) is Base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > SIGN_WINDOW_MS:
        return False
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


@dataclass
class WebhookSink:
    """What reached the webhook sink: accepted messages and refusals, by channel."""

    url: str = ""
    secret: str = ""
    log: Path | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failing: bool = False  # answer every request 502 (a notifier outage)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m["body"] for m in self.received if m["channel"] == channel]

    def _keep(self, channel: str, body: Any) -> None:
        entry = {"channel": channel, "body": body, "at": time.time()}
        with self.lock:
            self.received.append(entry)
            if self.log:
                with self.log.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(entry, ensure_ascii=False) + "\n")


def webhook_app(sink: WebhookSink) -> Starlette:
    async def dingtalk(request: Request) -> JSONResponse:
        if sink.failing:
            return JSONResponse({}, status_code=502)
        query = request.query_params
        signed = dingtalk_signature_ok(
            query.get("timestamp", ""),
            query.get("sign", ""),
            sink.secret,
            now_ms=int(time.time() * 1000),
        )
        if sink.secret and not signed:
            sink.refused.append("dingtalk")
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        sink._keep("dingtalk", await request.json())
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def wecom(request: Request) -> JSONResponse:
        if sink.failing:
            return JSONResponse({}, status_code=502)
        sink._keep("wecom", await request.json())
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    return Starlette(
        routes=[
            Route("/dingtalk", dingtalk, methods=["POST"]),
            Route("/wecom", wecom, methods=["POST"]),
        ]
    )


@contextmanager
def webhook_sink(secret: str, log: Path | None = None) -> Iterator[WebhookSink]:
    """Serve the webhook sink on a free loopback port."""
    sink = WebhookSink(secret=secret, log=log)
    with serving_app(webhook_app(sink)) as url:
        sink.url = url
        yield sink


@dataclass
class MailSink:
    """What reached the SMTP sink, parsed."""

    host: str = "127.0.0.1"
    port: int = 0
    folder: Path | None = None
    messages: list[EmailMessage] = field(default_factory=list)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        self._sink.messages.append(parsed)
        if self._sink.folder:
            self._sink.folder.mkdir(parents=True, exist_ok=True)
            (self._sink.folder / f"{len(self._sink.messages):04d}.eml").write_bytes(raw)
        return "250 OK"


@contextmanager
def smtp_sink(folder: Path | None = None) -> Iterator[MailSink]:
    """aiosmtpd on a free loopback port (plain SMTP: RETOUCH_ALERTS_SMTP_SECURITY=none)."""
    from aiosmtpd.controller import Controller

    sink = MailSink(port=free_port(), folder=folder)
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def alert_env(webhooks: WebhookSink, mail: MailSink) -> dict[str, str]:
    """The settings that point the notifiers at these sinks (the webhooks and the signing
    secret go through the secrets port's `env:` references, as secrets do)."""
    return {
        "RETOUCH_SECRET_ALERTS_DINGTALK_WEBHOOK": f"{webhooks.url}/dingtalk?access_token=local",
        "RETOUCH_SECRET_ALERTS_DINGTALK_SIGN": webhooks.secret,
        "RETOUCH_SECRET_ALERTS_WECOM_WEBHOOK": f"{webhooks.url}/wecom?key=local",
        "RETOUCH_ALERTS_DINGTALK_WEBHOOK_SECRET": "env:RETOUCH_SECRET_ALERTS_DINGTALK_WEBHOOK",
        "RETOUCH_ALERTS_DINGTALK_SIGN_SECRET": "env:RETOUCH_SECRET_ALERTS_DINGTALK_SIGN",
        "RETOUCH_ALERTS_WECOM_WEBHOOK_SECRET": "env:RETOUCH_SECRET_ALERTS_WECOM_WEBHOOK",
        "RETOUCH_ALERTS_SMTP_HOST": mail.host,
        "RETOUCH_ALERTS_SMTP_PORT": str(mail.port),
        "RETOUCH_ALERTS_SMTP_SECURITY": "none",
        "RETOUCH_ALERTS_EMAIL_FROM": "alerts@retouch.local",
        "RETOUCH_ALERTS_EMAIL_TO": "ops@retouch.local",
    }


def mail_env(mail: MailSink) -> dict[str, str]:
    """The settings that send account mail (`retouch.notify.mailer`) to the SMTP sink."""
    return {
        "RETOUCH_MAIL_SMTP_HOST": mail.host,
        "RETOUCH_MAIL_SMTP_PORT": str(mail.port),
        "RETOUCH_MAIL_SMTP_SECURITY": "none",
    }
