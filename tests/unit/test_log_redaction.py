"""The log redaction: secrets, tokens and full email addresses never reach a log line,
whether they arrive as an extra key, inside the message or in an exception's text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retouch.core.logging import logger
from retouch.core.redaction import MASK, redact, redact_text
from tests.conftest import LogLines

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
REFRESH_TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd7"  # token_urlsafe(32)'s shape
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
        ("authorization:Bearer opaque-value", "authorization:***"),
        (f"token {JWT} in a sentence", "token *** in a sentence"),
        ("login failed for mei.chen@example.com", "login failed for m***@example.com"),
        ('body {"password": "Correct-Horse-7"}', 'body {"password": "***"}'),
        ("password=Correct-Horse-7&next=1", "password=***&next=1"),
        (f"refresh_token={REFRESH_TOKEN} spent", "refresh_token=*** spent"),
        (f"presented {REFRESH_TOKEN}", "presented ***"),
        ("client_secret: s3cr3t-value", "client_secret: ***"),
        (f"hash {ARGON2} stored", "hash *** stored"),
    ],
)
def test_masks_secrets_inside_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "request",
        "/v1/tasks/{task_id}",
        "usr_0123456789abcdefghijkl",
        "123e4567-e89b-12d3-a456-426614174000",
        "2026-12-05T19:23:23.296+00:00",
        "_record:157",
        "security_event refresh_token_reuse",
        "a" * 64,  # a hex digest is not a token
        "m***@example.com Bearer ***",  # already masked: left as it is
    ],
)
def test_leaves_ordinary_log_text_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_masks_every_key_named_like_a_secret_whatever_it_holds() -> None:
    entry = {
        "message": "request",
        "password": "Correct-Horse-7",
        "access_token": "x",
        "Authorization": "Basic dXNlcjpwYXNz",
        "provider": {"api_key": 12345, "credentials": {"id": "AKID", "key": "k"}},
        "client_secret": ["a", "b"],
        "session_cookie": "c",
        "status": 200,
        "refresh_token": None,  # nothing there: kept as None
    }

    redacted = redact(entry)

    assert redacted == {
        "message": "request",
        "password": MASK,
        "access_token": MASK,
        "Authorization": MASK,
        "provider": {"api_key": MASK, "credentials": MASK},
        "client_secret": MASK,
        "session_cookie": MASK,
        "status": 200,
        "refresh_token": None,
    }
    assert entry["password"] == "Correct-Horse-7"  # a copy: the caller's dict is untouched


def test_masks_emails_and_tokens_in_nested_values() -> None:
    entry: dict[str, Any] = {"users": ["ann@example.com", {"note": f"Bearer {JWT}"}], "n": 1.5}

    assert redact(entry) == {"users": ["a***@example.com", {"note": "Bearer ***"}], "n": 1.5}


def test_the_logger_writes_no_secret_given_as_extra_key_message_or_exception(
    log_lines: LogLines,
) -> None:
    # GIVEN a careless caller logging secrets three ways
    logger.info(
        "login attempt for mei.chen@example.com",
        extra={"password": "Correct-Horse-7", "refresh_token": REFRESH_TOKEN, "user": "usr_1"},
    )
    try:
        raise ValueError(f"bad header Authorization: Bearer {JWT}")
    except ValueError:
        logger.exception("while checking")

    # THEN the lines written carry none of them, and keep what is not secret
    written = json.dumps(log_lines.all())
    for secret in ("Correct-Horse-7", REFRESH_TOKEN, JWT, "mei.chen@example.com"):
        assert secret not in written
    first, second = log_lines.all()
    assert first["message"] == "login attempt for m***@example.com"
    assert first["password"] == MASK
    assert first["user"] == "usr_1"
    assert "Bearer ***" in second["exception"]
