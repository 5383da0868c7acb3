"""The sign-in guard's rules on the in-memory limiter and lockouts: failures from any address
lock the account, each further lockout doubles up to the cap, other accounts are unaffected,
and an address the account signed in from is let through."""

from __future__ import annotations

import pytest

from retouch.auth.attempts import LoginGuard
from retouch.core.ratelimit import MemoryRateLimiter, RateLimited
from retouch.core.settings import Settings, get_settings
from tests.clock import Clock
from tests.fakes.lockouts import MemoryLockouts

VICTIM = "victim@example.com"
FAILURES = 4


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN", str(FAILURES))
    monkeypatch.setenv("RETOUCH_LOGIN_LOCKOUT_BASE_S", "60")
    monkeypatch.setenv("RETOUCH_LOGIN_LOCKOUT_MAX_S", "300")
    return get_settings()


@pytest.fixture
def guard(clock: Clock, settings: Settings) -> LoginGuard:
    return LoginGuard(limiter=MemoryRateLimiter(clock=clock), lockouts=MemoryLockouts(clock))


def fail_from_many_addresses(guard: LoginGuard, settings: Settings, email: str) -> None:
    """`FAILURES` failed attempts on `email`, each from an address of its own."""
    for n in range(FAILURES):
        guard.admit(email=email, client_ip=f"203.0.113.{n + 1}")
        guard.failed(settings, email=email)


def refusal(guard: LoginGuard, email: str, client_ip: str) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        guard.admit(email=email, client_ip=client_ip)
    return refused.value


def test_failures_from_many_addresses_lock_the_account_for_every_new_address(
    guard: LoginGuard, settings: Settings
) -> None:
    # GIVEN failed sign-ins to one account from as many addresses as the limit allows
    fail_from_many_addresses(guard, settings, VICTIM)

    # WHEN anyone tries again, from an address never seen (whatever the password)
    refused = refusal(guard, VICTIM, "198.51.100.200")

    # THEN 429 RATE_LIMITED with the lockout as Retry-After
    assert refused.code == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "60"
    # AND another account is not affected
    guard.admit(email="bystander@example.com", client_ip="198.51.100.200")


def test_each_further_lockout_doubles_up_to_the_cap(
    guard: LoginGuard, settings: Settings, clock: Clock
) -> None:
    retry_afters: list[str] = []
    for _ in range(5):
        # GIVEN the previous lockout over, and the allowance spent again from many addresses
        clock.advance(int(retry_afters[-1]) if retry_afters else 0)
        fail_from_many_addresses(guard, settings, VICTIM)
        retry_afters.append(refusal(guard, VICTIM, "198.51.100.7").headers["Retry-After"])

    # THEN the Retry-After grew 60, 120, 240, then stayed at the 300 s cap
    assert retry_afters == ["60", "120", "240", "300", "300"]


def test_a_lockout_ends_and_a_quiet_account_starts_again_at_the_base(
    guard: LoginGuard, settings: Settings, clock: Clock
) -> None:
    fail_from_many_addresses(guard, settings, VICTIM)
    clock.advance(60)

    # the lockout is over: a new attempt is admitted
    guard.admit(email=VICTIM, client_ip="198.51.100.7")

    # a day later the trips are forgotten: the next lockout is the base again
    clock.advance(86_400)
    fail_from_many_addresses(guard, settings, VICTIM)
    assert refusal(guard, VICTIM, "198.51.100.8").headers["Retry-After"] == "60"


def test_an_address_the_account_signed_in_from_is_let_through_a_lockout(
    guard: LoginGuard, settings: Settings
) -> None:
    # GIVEN the owner signed in from home once, then an attacker locked the account
    guard.admit(email=VICTIM, client_ip="192.0.2.10")
    guard.succeeded(settings, email=VICTIM, client_ip="192.0.2.10")
    fail_from_many_addresses(guard, settings, VICTIM)

    # WHEN the owner signs in from home, and someone from elsewhere
    guard.admit(email=VICTIM, client_ip="192.0.2.10")
    refused = refusal(guard, VICTIM, "198.51.100.7")

    # THEN home is admitted (its own limits still apply); elsewhere is refused
    assert refused.headers["Retry-After"] == "60"


def test_failures_below_the_limit_lock_nothing(guard: LoginGuard, settings: Settings) -> None:
    for n in range(FAILURES - 1):
        guard.admit(email=VICTIM, client_ip=f"203.0.113.{n + 1}")
        guard.failed(settings, email=VICTIM)

    guard.admit(email=VICTIM, client_ip="198.51.100.7")
