"""Identifiers: request ids now, prefixed public ids as domains arrive."""

from __future__ import annotations

import re
import secrets
import uuid

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}")
# Printable ASCII, spaces included: no control character (a forged log line), no byte a log
# or a terminal would read otherwise.
_CLIENT_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")


def is_valid_request_id(value: str) -> bool:
    """A platform's request id is taken as ours only if it is 8-128 safe characters."""
    return _REQUEST_ID.fullmatch(value) is not None


def client_request_id(sent: str | None) -> str | None:
    """The client's X-Request-ID as it may be kept (1-128 printable ASCII characters), else
    None: the client's label of a request, logged and audited beside our own id."""
    if sent is None or _CLIENT_REQUEST_ID.fullmatch(sent) is None:
        return None
    return sent


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_public_id(prefix: str) -> str:
    """An opaque, unguessable public id such as `usr_Xc3...` (128 random bits)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"
