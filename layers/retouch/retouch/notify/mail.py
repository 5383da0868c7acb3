"""Email over SMTP (the standard library's `smtplib`): implicit TLS, STARTTLS, or plain for
the local loopback sink only; the password comes from the secrets port. Alert email here;
account mail (`notify.mailer`) goes through `send_over_smtp` too."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from retouch.notify.messages import AlertMessage, NotifierError


def build_email(message: AlertMessage, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The email of `message`: its title as the subject, plain UTF-8 text, a Message-ID."""
    email = EmailMessage()
    email["Subject"] = message.title
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    email.set_content(message.plain_text(), charset="utf-8")  # clears Content-* first
    email["Content-Language"] = message.language
    return email


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send; `password` was read through the secrets port."""

    host: str
    port: int
    security: str  # ssl | starttls | none
    user: str
    password: str
    sender: str
    recipients: tuple[str, ...]
    timeout_s: float


class EmailNotifier:
    """One SMTP session per message (alerts are rare)."""

    channel = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def send(self, message: AlertMessage) -> None:
        config = self._config
        send_over_smtp(
            config, build_email(message, sender=config.sender, recipients=config.recipients)
        )


def send_over_smtp(config: SmtpConfig, email: EmailMessage) -> None:
    """One SMTP session delivering `email`; NotifierError names the failure, never the
    password."""
    try:
        with _connect(config) as smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.user:
                smtp.login(config.user, config.password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifierError(f"email: {type(exc).__name__} via {config.host}") from None


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
