"""The parts of accounts that need no server: the account mails in both languages and as
sent over SMTP, the networks sign-ups are counted by, the sign-up limits on the in-memory
limiter, and the per-instance cap on password hashing."""

from __future__ import annotations

import threading

import pytest

from retouch.auth.hashing import AuthBusy, hashing_slot
from retouch.auth.mails import already_registered_mail, reset_mail
from retouch.auth.signup import admit_reset_request, admit_signup, network_of
from retouch.bootstrap.clients import reset_clients
from retouch.core.ratelimit import MemoryRateLimiter, RateLimited
from retouch.core.settings import get_settings
from retouch.notify.mailer import UnsentMailer, build_message, mailer_from_settings


@pytest.mark.parametrize(
    ("language", "subject", "minutes"),
    [("en", "Reset your Retouch password", "within 30 minutes"), ("zh-CN", "重置", "30 分钟内")],
)
def test_the_reset_mail_carries_the_link_and_lifetime_in_its_language(
    language: str, subject: str, minutes: str
) -> None:
    mail = reset_mail(to="ada@example.com", link="https://x/r?t=abc", ttl_s=1800, language=language)
    assert subject in mail.subject
    assert minutes in mail.text and "https://x/r?t=abc" in mail.text
    message = build_message(mail, sender="Retouch <no-reply@retouch.example>")
    assert message["Content-Language"] == language
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"].endswith("@retouch.example>")
    body = message.get_body(("plain",))
    assert body is not None and "https://x/r?t=abc" in str(body.get_content())


def test_an_unknown_language_gets_the_chinese_mail() -> None:
    assert already_registered_mail(to="a@b.cn", language="fr").subject == "你已经有 Retouch 账号了"
    assert already_registered_mail(to="a@b.cn", language="en").language == "en"


def test_without_an_smtp_host_mail_is_not_sent() -> None:
    unset = get_settings().model_copy(update={"mail_smtp_host": ""})
    assert isinstance(mailer_from_settings(unset), UnsentMailer)
    UnsentMailer().send(reset_mail(to="a@b.cn", link="l", ttl_s=60, language="en"))


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
        ("unknown", "unknown"),
    ],
)
def test_sign_ups_are_counted_per_ipv4_24(address: str, network: str) -> None:
    assert network_of(address) == network


def test_sign_up_limits_per_address_network_and_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_IP_PER_HOUR", "2")
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_NETWORK_PER_HOUR", "3")
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_GLOBAL_PER_MIN", "5")
    reset_clients()
    settings, limiter = get_settings(), MemoryRateLimiter(clock=lambda: 0)

    def outcome(ip: str) -> str:
        try:
            admit_signup(limiter, settings, client_ip=ip)
        except RateLimited as refused:
            assert refused.headers["Retry-After"].isdigit()
            return "429"
        return "ok"

    # per address: 2; per /24: 3; across the service: 5
    assert [outcome("198.51.100.1") for _ in range(3)] == ["ok", "ok", "429"]
    assert [outcome("198.51.100.2") for _ in range(2)] == ["ok", "429"]
    assert [outcome(f"192.0.2.{n}") for n in (1, 2, 3)] == ["ok", "ok", "429"]


def test_reset_requests_are_limited_per_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_PASSWORD_RESET_PER_IP_PER_HOUR", "1")
    reset_clients()
    limiter = MemoryRateLimiter(clock=lambda: 0)
    admit_reset_request(limiter, get_settings(), client_ip="198.51.100.1")
    with pytest.raises(RateLimited):
        admit_reset_request(limiter, get_settings(), client_ip="198.51.100.1")
    admit_reset_request(limiter, get_settings(), client_ip="198.51.100.2")


def test_beyond_the_hashing_cap_a_request_is_refused_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_PASSWORD_HASH_CONCURRENCY", "2")
    reset_clients()
    settings = get_settings()
    held, release = threading.Barrier(3), threading.Event()

    def hold() -> None:
        with hashing_slot(settings):
            held.wait()
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    held.wait()
    with pytest.raises(AuthBusy) as busy, hashing_slot(settings):
        pass
    assert busy.value.headers == {"Retry-After": "1"}
    assert busy.value.error_code.status == 503
    release.set()
    for thread in holders:
        thread.join()
    with hashing_slot(settings):  # freed again
        pass
