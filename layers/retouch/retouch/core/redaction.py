"""What a log line may never carry: passwords, tokens, secrets and full email addresses.

`redact(value)` returns a copy of a structured log entry (the dict Powertools is about to
serialise) with

- the value of every key named like a secret (`password`, `access_token`, `refresh_token`,
  `secret`, `authorization`, `credential`, `api_key`, `cookie`, …) replaced by `***`, whatever
  it holds;
- inside every other string: a JWT (`eyJ….….…`) → `***`; `Bearer <token>` → `Bearer ***`;
  `password=…`, `"token": "…"` and the like → the value `***`; an Argon2/bcrypt/PBKDF2 hash →
  `***`; a 43-character url-safe run (the shape of our refresh tokens and signing keys,
  `secrets.token_urlsafe(32)`) → `***`; an email address → its first character and domain
  (`m***@example.com`), which still tells an operator whose account it was about.

It runs on every log line, so a string is scanned by the one compiled pattern only when it
holds a character the pattern needs, and a key name's verdict is cached: about 6 µs for an
access log line, on top of the 18 µs Powertools takes to format it (timeit, docs/security.md).
Public ids (`usr_…`, 26 characters), request ids (UUIDs, 36) and hex digests (64) pass
unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MASK = "***"

_SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|authori[sz]ation|credential|api[-_]?key"
    r"|private[-_]?key|signing[-_]?key|cookie",
    re.IGNORECASE,
)

# One pattern, so a clean string costs one scan. The groups kept in the output are the
# prefixes (`Bearer `, `password=`) and an email's first character and domain.
_SECRET_TEXT = re.compile(
    r"(?P<jwt>eyJ[\w-]+\.[\w-]+\.[\w-]*)"
    r"|(?P<bearer>\bBearer\s+)(?!\*\*\*)[^\s\"',;]+"
    r"|(?P<pair>[\w-]*(?:pass(?:word|wd)|pwd|secret|token|api[-_]?key|authorization)[\"']?\s*[=:]\s*"
    r"[\"']?)(?!\*\*\*)(?:Bearer\s+)?[^\s\"',;&}]+"
    r"|(?P<hash>\$(?:argon2(?:id|i|d)|2[aby]|pbkdf2[\w-]*|scrypt)\$[^\s\"']+)"
    r"|(?<![\w-])(?P<opaque>[\w-]{43})(?![\w-])"
    r"|(?P<first>(?<![\w.%+-])[\w%+-])[\w.%+-]*(?P<domain>@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})",
    re.ASCII,
)


# A string can only match `_SECRET_TEXT` if it holds one of these, a `=`/`:` after a secret's
# name, or 43 characters; most log strings (levels, routes, ids, timestamps) hold none, and
# these membership tests cost a tenth of the pattern's scan.
_ASSIGNED_NAME = re.compile(r"pass|pwd|secret|token|api[-_]?key|authori", re.IGNORECASE)
_OPAQUE_LENGTH = 43


def _may_hold_secret(text: str) -> bool:
    # Plain `or`s: a generator over a tuple of markers costs more than the tests themselves.
    if len(text) >= _OPAQUE_LENGTH or "@" in text or "$" in text or "eyJ" in text:
        return True
    if "Bearer" in text:
        return True
    return ("=" in text or ":" in text) and _ASSIGNED_NAME.search(text) is not None


@lru_cache(maxsize=1024)
def is_sensitive_key(name: str) -> bool:
    """Whether a log key names a secret (its value is masked whatever it is)."""
    return _SENSITIVE_KEY.search(name) is not None


def _mask(match: re.Match[str]) -> str:
    if match["first"] is not None:
        return f"{match['first']}{MASK}{match['domain']}"
    prefix = match["bearer"] or match["pair"] or ""
    return prefix + MASK


def redact_text(text: str) -> str:
    """`text` with every token, secret assignment, password hash and email masked."""
    return _SECRET_TEXT.sub(_mask, text) if _may_hold_secret(text) else text


def redact(value: Any) -> Any:
    """A copy of a log entry (dicts, lists, strings, scalars) with secrets masked."""
    kind = type(value)
    if kind is str:
        return redact_text(value) if _may_hold_secret(value) else value
    if kind is dict:
        return {
            key: MASK
            if item is not None and type(key) is str and is_sensitive_key(key)
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, str):  # a str subclass (an enum member): redacted as its text
        return redact_text(value)
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, dict):
        return redact(dict(value))
    if value is None or isinstance(value, (int, float)):
        return value
    # Anything else is written as `str(value)` (Powertools' json_default), e.g. the exception
    # object in `stack_trace.value`: redact that text.
    return redact_text(str(value))
