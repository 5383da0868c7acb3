"""The chat robots alerts go to: a DingTalk custom robot (signed webhook) and a WeCom group
robot, both markdown over HTTPS with `httpx`.

DingTalk signing (the robot's "加签" security setting): `timestamp` is the current time in
milliseconds; `sign` is Base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")),
URL-encoded; both are added to the webhook URL as query parameters, and DingTalk refuses a
timestamp more than an hour off. The body is `{"msgtype": "markdown", "markdown": {"title",
"text"}}`. WeCom's group robot takes `{"msgtype": "markdown", "markdown": {"content"}}` at its
webhook URL (the `key` is in the URL). Both answer HTTP 200 with `{"errcode": 0, ...}` on
success, another errcode otherwise. Sources in docs/observability.md ("Alerts").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx

from retouch.notify.messages import AlertMessage, NotifierError


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's `sign` for `timestamp_ms`, already URL-encoded for the query string."""
    text = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), text, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def dingtalk_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with `timestamp` and `sign` appended (unchanged without a secret)."""
    if not secret:
        return webhook
    separator = "&" if "?" in webhook else "?"
    return (
        f"{webhook}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    )


def dingtalk_payload(message: AlertMessage) -> dict[str, Any]:
    """The markdown message DingTalk's robot takes."""
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}


def wecom_payload(message: AlertMessage) -> dict[str, Any]:
    """The markdown message WeCom's group robot takes."""
    return {"msgtype": "markdown", "markdown": {"content": message.markdown()}}


def post_robot(client: httpx.Client, channel: str, url: str, payload: dict[str, Any]) -> None:
    """POST `payload` and accept only HTTP 200 with errcode 0. Errors name the channel, the
    status or errcode and the host, never the URL's token or key."""
    host = urlsplit(url).hostname or "?"
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        raise NotifierError(f"{channel}: {type(exc).__name__} calling {host}") from None
    if response.status_code != 200:
        raise NotifierError(f"{channel}: HTTP {response.status_code} from {host}")
    try:
        errcode = response.json().get("errcode")
    except (ValueError, AttributeError):
        raise NotifierError(f"{channel}: an answer that is not JSON from {host}") from None
    if errcode != 0:
        raise NotifierError(f"{channel}: errcode {errcode} from {host}")


class DingTalkNotifier:
    """A DingTalk custom robot; `webhook` and `secret` come from the secrets port."""

    channel = "dingtalk"

    def __init__(
        self,
        client: httpx.Client,
        webhook: str,
        secret: str,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._client, self._webhook, self._secret, self._clock_ms = (
            client,
            webhook,
            secret,
            clock_ms,
        )

    def send(self, message: AlertMessage) -> None:
        url = dingtalk_url(self._webhook, self._secret, self._clock_ms())
        post_robot(self._client, self.channel, url, dingtalk_payload(message))


class WeComNotifier:
    """A WeCom group robot; `webhook` (with its key) comes from the secrets port."""

    channel = "wecom"

    def __init__(self, client: httpx.Client, webhook: str) -> None:
        self._client, self._webhook = client, webhook

    def send(self, message: AlertMessage) -> None:
        post_robot(self._client, self.channel, self._webhook, wecom_payload(message))
