"""How many sign-ups are allowed: per client, per network, and across the service.

Before anything is hashed or stored, a registration counts against three limits, each fail
closed (Redis down: 503, never unlimited sign-ups), refused as 429 `RATE_LIMITED` with
`Retry-After`:

- per client address (`RETOUCH_RATE_LIMIT_REGISTER_PER_IP_PER_HOUR`; IPv6 per /64, the block
  one subscriber holds, as every limit counts it);
- per network (`..._REGISTER_PER_NETWORK_PER_HOUR`): the IPv4 /24 (IPv6: the /64), so a
  farm rotating through one provider's block spends one allowance;
- the sign-up circuit (`..._REGISTER_GLOBAL_PER_MIN`): every registration of the service in
  one allowance, so a distributed flood cannot open more than that many accounts (and their
  credit accounts) a minute whatever its addresses.

A refused registration creates nothing: no row, no credits. Password reset requests and
verification resends have their own per-address limits here too
(`..._PASSWORD_RESET_PER_IP_PER_HOUR`, `..._VERIFICATION_RESEND_PER_IP_PER_HOUR`): each mails
someone.
"""

from __future__ import annotations

import ipaddress

from retouch.core.ratelimit import Limit, RateLimited, RateLimiter
from retouch.core.settings import Settings

_HOUR_S = 3600
_SIGNUP_DETAIL = "Too many sign-ups; retry in {retry_after} s"
_RESET_DETAIL = "Too many password reset requests; retry in {retry_after} s"
_RESEND_DETAIL = "Too many verification mails requested; retry in {retry_after} s"
_CODE_DETAIL = "Too many verification codes tried for this address; retry in {retry_after} s"


def network_of(client_ip: str) -> str:
    """The /24 of an IPv4 address; anything else (an IPv6 /64 already, `unknown`) as is."""
    try:
        return str(ipaddress.IPv4Network((client_ip, 24), strict=False))
    except ValueError:
        return client_ip


def admit_signup(limiter: RateLimiter, settings: Settings, *, client_ip: str) -> None:
    """Count a registration from `client_ip`; RateLimited when any of the three is spent."""
    for limit, key in (
        (Limit("register_ip", settings.rate_limit_register_per_ip_per_hour, _HOUR_S), client_ip),
        (
            Limit("register_net", settings.rate_limit_register_per_network_per_hour, _HOUR_S),
            network_of(client_ip),
        ),
        (Limit("register_all", settings.rate_limit_register_global_per_min, 60), "all"),
    ):
        decision = limiter.hit(limit, key)
        if not decision.allowed:
            raise RateLimited.from_decision(decision, _SIGNUP_DETAIL)


def admit_reset_request(limiter: RateLimiter, settings: Settings, *, client_ip: str) -> None:
    """Count a password reset request from `client_ip`; RateLimited when it is spent."""
    limit = Limit("reset_ip", settings.rate_limit_password_reset_per_ip_per_hour, _HOUR_S)
    _admit(limiter, limit, client_ip, _RESET_DETAIL)


def admit_resend(limiter: RateLimiter, settings: Settings, *, client_ip: str) -> None:
    """Count a verification resend from `client_ip`; RateLimited when it is spent."""
    per_hour = settings.rate_limit_verification_resend_per_ip_per_hour
    _admit(limiter, Limit("resend_ip", per_hour, _HOUR_S), client_ip, _RESEND_DETAIL)


def admit_code_attempt(limiter: RateLimiter, settings: Settings, *, email: str) -> None:
    """Count a verification code tried for `email`; RateLimited when its guesses are spent."""
    per_hour = settings.rate_limit_verification_code_per_email_per_hour
    _admit(limiter, Limit("verify_code", per_hour, _HOUR_S), email, _CODE_DETAIL)


def _admit(limiter: RateLimiter, limit: Limit, key: str, detail: str) -> None:
    decision = limiter.hit(limit, key)
    if not decision.allowed:
        raise RateLimited.from_decision(decision, detail)
