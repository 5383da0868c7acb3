"""How many sign-in attempts are allowed: three limits and an account lockout with backoff.

Before the account is looked up (so a refusal says nothing about it), every attempt counts
against two limits, per account+IP (`RETOUCH_RATE_LIMIT_LOGIN_PER_ACCOUNT_IP_PER_MIN`) and per
IP (`..._LOGIN_PER_IP_...`), and the account's lockout is checked. A *failed* attempt also
counts against a third limit, keyed by the account (the normalised email) alone, from any
address (`RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN`): twenty addresses guessing
a few times each spend it together. The failure that spends it trips the account's lockout
(`core.lockout`): `RETOUCH_LOGIN_LOCKOUT_BASE_S`, doubled by each further trip within a day,
at most `RETOUCH_LOGIN_LOCKOUT_MAX_S`. A locked account answers 429 `RATE_LIMITED` with
`Retry-After`, whatever the password.

The trade-off: anyone can lock an account by failing to sign in to it. A lockout therefore
ends (at most `..._MAX_S`; the trips are forgotten after a quiet day), and an address the
account signed in from successfully within a refresh token's lifetime is let through it (its
own per-account+IP and per-IP limits still apply), so the owner at home or at work is not
locked out by an attacker elsewhere. An attacker on such an address is limited per
account+IP, as before.

Every check fails closed: with Redis down, login answers 503 rather than allow unlimited
guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from retouch.core.lockout import Lockouts
from retouch.core.logging import logger
from retouch.core.ratelimit import (
    RateLimited,
    RateLimiter,
    configured_limits,
    refusal_headers,
)
from retouch.core.settings import Settings

_DETAIL = "Too many sign-in attempts; retry in {retry_after} s"


@dataclass(frozen=True)
class LoginGuard:
    """The limiter and the lockouts sign-in attempts are counted in."""

    limiter: RateLimiter
    lockouts: Lockouts

    def admit(self, *, email: str, client_ip: str) -> None:
        """Count an attempt; RateLimited when a limit is spent or the account is locked (to
        all but the addresses it signed in from)."""
        limits = configured_limits()
        for limit, key in (
            (limits.login_per_account_ip, f"{email}|{client_ip}"),
            (limits.login_per_ip, client_ip),
        ):
            decision = self.limiter.hit(limit, key)
            if not decision.allowed:
                raise RateLimited.from_decision(decision, _DETAIL)
        locked_s = self.lockouts.locked_for(email)
        if locked_s and not self.lockouts.is_known(email, client_ip):
            headers = refusal_headers(limits.login_failures_per_account.rate, locked_s)
            raise RateLimited(_DETAIL, headers=headers, retry_after=locked_s)

    def failed(self, settings: Settings, *, email: str) -> None:
        """Count a failed attempt against the account; the one that spends the allowance
        locks the account (the attempt itself is answered as a failure)."""
        decision = self.limiter.hit(configured_limits().login_failures_per_account, email)
        if decision.allowed and decision.remaining > 0:
            return
        locked_s = self.lockouts.trip(
            email, base_s=settings.login_lockout_base_s, max_s=settings.login_lockout_max_s
        )
        logger.warning(
            "security event: failed sign-ins from any address locked an account",
            extra={"security_event": "login_lockout", "lockout_s": locked_s},
        )

    def succeeded(self, settings: Settings, *, email: str, client_ip: str) -> None:
        """Remember the address, so a later lockout of the account does not refuse it."""
        self.lockouts.remember(email, client_ip, ttl_s=settings.refresh_token_ttl_s)
