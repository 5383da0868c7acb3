"""The notifiers of this deploy, built from the settings and the secrets port: a channel is
on when its setting names where to send. A secret that cannot be read makes its channel fail
this run (its messages stay owed), never the run."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from retouch.core.secrets import SecretUnavailable, get_secret
from retouch.core.settings import Settings
from retouch.notify.mail import EmailNotifier, SmtpConfig
from retouch.notify.messages import AlertMessage, Notifier, NotifierError
from retouch.notify.robots import DingTalkNotifier, WeComNotifier


class UnreadableChannel:
    """A configured channel whose secret could not be read: every send fails, named."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel, self._reason = channel, reason

    def send(self, message: AlertMessage) -> None:
        raise NotifierError(f"{self.channel}: {self._reason}")


def build_notifiers(settings: Settings, client: httpx.Client) -> dict[str, Notifier]:
    """{channel: notifier} for every channel the settings configure."""

    def dingtalk() -> Notifier:
        sign = settings.alerts_dingtalk_sign_secret
        webhook = get_secret(settings.alerts_dingtalk_webhook_secret)
        return DingTalkNotifier(client, webhook, get_secret(sign) if sign else "")

    builders: dict[str, tuple[object, Callable[[], Notifier]]] = {
        "dingtalk": (settings.alerts_dingtalk_webhook_secret, dingtalk),
        "wecom": (
            settings.alerts_wecom_webhook_secret,
            lambda: WeComNotifier(client, get_secret(settings.alerts_wecom_webhook_secret)),
        ),
        "email": (
            settings.alerts_smtp_host and settings.alerts_email_to,
            lambda: EmailNotifier(_smtp_config(settings)),
        ),
    }
    notifiers: dict[str, Notifier] = {}
    for channel, (configured, build) in builders.items():
        if not configured:
            continue
        try:
            notifiers[channel] = build()
        except SecretUnavailable:
            notifiers[channel] = UnreadableChannel(channel, "secret unavailable")
    return notifiers


def _smtp_config(settings: Settings) -> SmtpConfig:
    reference = settings.alerts_smtp_password_secret
    return SmtpConfig(
        host=settings.alerts_smtp_host,
        port=settings.alerts_smtp_port,
        security=settings.alerts_smtp_security,
        user=settings.alerts_smtp_user,
        password=get_secret(reference) if reference else "",
        sender=settings.alerts_email_from or f"retouch-alerts@{settings.alerts_smtp_host}",
        recipients=tuple(a.strip() for a in settings.alerts_email_to.split(",") if a.strip()),
        timeout_s=settings.alerts_send_timeout_s,
    )
