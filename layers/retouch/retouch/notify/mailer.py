"""The mail port: account mail (password resets, "you already have an account") to one
address, in the recipient's language.

    get_mailer().send(Mail(to=email, subject=..., text=..., language="en"))

`SmtpMailer` sends over SMTP (`RETOUCH_MAIL_SMTP_*`, the password through the secrets port);
with no `RETOUCH_MAIL_SMTP_HOST` the `UnsentMailer` logs that a mail was not sent (never its
text: a reset link is a credential). A send that fails raises `NotifierError`; callers decide
whether the request fails with it. Tests use `tests/fakes/mailer.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from typing import Protocol

from retouch.core.logging import logger
from retouch.core.secrets import get_secret
from retouch.core.settings import Settings, get_settings
from retouch.notify.mail import SmtpConfig, send_over_smtp


@dataclass(frozen=True)
class Mail:
    """One plain-text mail to one address."""

    to: str
    subject: str
    text: str
    language: str
    kind: str  # e.g. "password_reset": logged, so a missing mail can be traced


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


def build_message(mail: Mail, *, sender: str) -> EmailMessage:
    """The EmailMessage of `mail`: UTF-8 plain text sent as 8bit (every server speaks
    8BITMIME), a Message-ID and Content-Language."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = mail.to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].rstrip(">") or None)
    # 8bit: the .eml reads as written, and a link is never cut by quoted-printable
    message.set_content(mail.text, charset="utf-8", cte="8bit")
    message["Content-Language"] = mail.language
    return message


class SmtpMailer:
    """One SMTP session per mail."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def send(self, mail: Mail) -> None:
        send_over_smtp(self._config, build_message(mail, sender=self._config.sender))
        logger.info("mail sent", extra={"mail_kind": mail.kind})


class UnsentMailer:
    """No SMTP server configured: the mail is dropped, and the log says so."""

    def send(self, mail: Mail) -> None:
        logger.warning(
            "mail not sent: RETOUCH_MAIL_SMTP_HOST is empty", extra={"mail_kind": mail.kind}
        )


def mailer_from_settings(settings: Settings) -> Mailer:
    """The SMTP mailer the settings describe, else the UnsentMailer."""
    if not settings.mail_smtp_host:
        return UnsentMailer()
    reference = settings.mail_smtp_password_secret
    return SmtpMailer(
        SmtpConfig(
            host=settings.mail_smtp_host,
            port=settings.mail_smtp_port,
            security=settings.mail_smtp_security,
            user=settings.mail_smtp_user,
            password=get_secret(reference) if reference else "",
            sender=settings.mail_from,
            recipients=(),
            timeout_s=settings.mail_send_timeout_s,
        )
    )


@cache
def get_mailer() -> Mailer:
    """The process's mailer, built on first use (forgotten by `reset_clients()`)."""
    return mailer_from_settings(get_settings())
