"""The CAPTCHA port: a verifier asks its provider whether a token a client sent was solved.

`verify(token, remote_ip=..., randstr=...)` answers a `Verdict` (passed, or refused with the
provider's reasons) when the provider answered, and raises `CaptchaUnreachable` when it could
not say: a timeout, a connection refused, a 5xx, an answer it cannot parse, or an error that
is ours (a wrong secret, an account in arrears). The caller fails closed on the latter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Verdict:
    """The provider's answer about one token: `reasons` are its codes when refused."""

    passed: bool
    reasons: tuple[str, ...] = ()


class CaptchaUnreachable(RuntimeError):
    """The provider gave no verdict (transport, HTTP status, an unreadable answer, or an
    error about our own account or keys); the message names which, never the secret."""


class CaptchaVerifier(Protocol):
    """One CAPTCHA provider's verification API."""

    provider: str

    def verify(self, token: str, *, remote_ip: str, randstr: str = "") -> Verdict:
        """Whether `token` (and Tencent's `randstr`) was solved by the client at `remote_ip`;
        CaptchaUnreachable when the provider cannot say."""
        ...
