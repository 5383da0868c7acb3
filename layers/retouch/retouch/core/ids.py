"""Identifiers: request ids now, prefixed public ids as domains arrive."""

from __future__ import annotations

import re
import secrets
import uuid

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}")


def is_valid_request_id(value: str) -> bool:
    """A client's X-Request-ID is kept only if it is 8-128 safe characters."""
    return _REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_public_id(prefix: str) -> str:
    """An opaque, unguessable public id such as `usr_Xc3...` (128 random bits)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"
