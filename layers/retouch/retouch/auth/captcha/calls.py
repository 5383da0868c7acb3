"""The one HTTP call every CAPTCHA adapter makes: a POST whose JSON answer holds the verdict.
Imported by the adapters only, so httpx loads with the first verifier, not at cold start."""

from __future__ import annotations

from typing import Any

import httpx

from retouch.auth.captcha.port import CaptchaUnreachable


def post_for_answer(client: httpx.Client, url: str, *, provider: str, **request: Any) -> Any:
    """The JSON answer of `POST url` (`request`: httpx's `data`, `content`, `headers`);
    CaptchaUnreachable, naming `provider`, when the call fails, answers other than 200 or
    answers something that is not JSON."""
    try:
        response = client.post(url, **request)
    except httpx.HTTPError as exc:
        raise CaptchaUnreachable(f"{provider}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise CaptchaUnreachable(f"{provider}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise CaptchaUnreachable(f"{provider}: an answer that is not JSON") from None
