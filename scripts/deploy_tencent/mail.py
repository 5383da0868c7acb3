"""The account mail's variables of a function, checked before the first API call: what the
settings would refuse at the first request (an empty port, an unknown security mode, a link
that is not https) is refused by the deploy instead, naming the variable, never its value.

The SMTP password is a `tcssm:` reference (config.SECRET_VARIABLES); it may be empty only
when RETOUCH_MAIL_SMTP_USER is (`is_unset_password`): a session without a user sends no AUTH.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: The link prefixes the mail carries: https, no whitespace.
HTTPS_PREFIX = re.compile(r"https://\S+")
PORT = re.compile(r"[1-9][0-9]{0,4}")
SECURITY_MODES = ("ssl", "starttls")
#: `a@b` or `Name <a@b>` on one line (template.yaml's MailFrom has the same pattern).
SENDER = re.compile(r"[^<>@\s]+@[^<>@\s]+|[^<>@\r\n]+<[^<>@\s]+@[^<>@\s]+>")
PASSWORD_VARIABLE = "RETOUCH_MAIL_SMTP_PASSWORD_SECRET"  # noqa: S105 - a name
LINKS = ("RETOUCH_EMAIL_VERIFICATION_URL", "RETOUCH_PASSWORD_RESET_URL")


def mail_problems(where: str, environment: Mapping[str, str]) -> list[str]:
    """Why the account mail of the function `where` cannot work; empty when it can, or when
    the function sends none (no RETOUCH_MAIL_SMTP_HOST variable)."""
    if "RETOUCH_MAIL_SMTP_HOST" not in environment:
        return []
    problems: list[str] = []
    port = environment.get("RETOUCH_MAIL_SMTP_PORT", "")
    if not PORT.fullmatch(port) or int(port) > 65535:
        problems.append(f"{where}: RETOUCH_MAIL_SMTP_PORT must be a port number (465, 587)")
    if environment.get("RETOUCH_MAIL_SMTP_SECURITY") not in SECURITY_MODES:
        problems.append(f"{where}: RETOUCH_MAIL_SMTP_SECURITY must be ssl or starttls")
    problems += [
        f"{where}: {name} must be the link's https:// prefix"
        for name in LINKS
        if not HTTPS_PREFIX.fullmatch(environment.get(name, ""))
    ]
    sender = environment.get("RETOUCH_MAIL_FROM", "")
    if environment["RETOUCH_MAIL_SMTP_HOST"] and not sender:
        problems.append(f"{where}: RETOUCH_MAIL_SMTP_HOST needs RETOUCH_MAIL_FROM")
    elif sender and not SENDER.fullmatch(sender):
        problems.append(f"{where}: RETOUCH_MAIL_FROM must be one address, a@b or Name <a@b>")
    return problems


def is_unset_password(name: str, value: str, environment: Mapping[str, str]) -> bool:
    """Whether `name` is the SMTP password left empty with no SMTP user (no AUTH)."""
    return name == PASSWORD_VARIABLE and not value and not environment.get("RETOUCH_MAIL_SMTP_USER")
