"""The CAPTCHA's parts that need no server: each adapter reading its provider's answers, the
settings refusing what cannot work at start, the check's decisions (asked or not, required,
failed, unavailable) with a working fake behind the port, its log line and metric, and the
local stack fake's signature check against our signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from retouch.auth.captcha import (
    CaptchaFailed,
    CaptchaRequired,
    CaptchaUnavailable,
    CaptchaUnreachable,
    Verdict,
    captcha_routes,
    require_captcha,
)
from retouch.auth.captcha.hcaptcha import hcaptcha_verdict
from retouch.auth.captcha.tencent import ACTION, SERVICE, VERSION, tencent_verdict
from retouch.bootstrap.clients import reset_clients
from retouch.core.metrics import Recorder, reset_recorder
from retouch.core.metrics_tencent import tc3_headers
from retouch.core.settings import Settings, SettingsError, get_settings
from scripts.local.captcha_fake import signed_by
from tests.conftest import LogLines
from tests.fakes.metrics import MemorySink

HCAPTCHA = {
    "RETOUCH_CAPTCHA_PROVIDER": "hcaptcha",
    "RETOUCH_CAPTCHA_SITE_KEY": "10000000-ffff-ffff-ffff-000000000001",
    "RETOUCH_CAPTCHA_SECRET": "env:RETOUCH_SECRET_CAPTCHA",
}


@dataclass
class FakeVerifier:
    """A provider that passes the tokens in `solved`, or cannot be reached when `down`."""

    provider: str = "hcaptcha"
    solved: set[str] = field(default_factory=set)
    down: bool = False
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def verify(self, token: str, *, remote_ip: str, randstr: str = "") -> Verdict:
        self.asked.append((token, remote_ip, randstr))
        if self.down:
            raise CaptchaUnreachable("hcaptcha: ConnectTimeout")
        if token in self.solved:
            return Verdict(passed=True)
        return Verdict(passed=False, reasons=("invalid-input-response",))


def _settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    return get_settings()


def _recording() -> MemorySink:
    """Every metric emitted from now on (the test's teardown forgets the recorder)."""
    memory = MemorySink()
    reset_recorder(Recorder(memory))
    return memory


# --- hCaptcha's siteverify answers -------------------------------------------------------


def test_hcaptcha_success_passes() -> None:
    assert hcaptcha_verdict({"success": True, "hostname": "app.example.com"}) == Verdict(True)


def test_hcaptcha_refusal_keeps_its_error_codes() -> None:
    answer = {"success": False, "error-codes": ["invalid-or-already-seen-response"]}

    assert hcaptcha_verdict(answer) == Verdict(False, ("invalid-or-already-seen-response",))


@pytest.mark.parametrize("code", ["invalid-input-secret", "sitekey-secret-mismatch"])
def test_hcaptcha_errors_about_our_keys_are_no_verdict(code: str) -> None:
    with pytest.raises(CaptchaUnreachable, match=code):
        hcaptcha_verdict({"success": False, "error-codes": [code]})


@pytest.mark.parametrize("answer", [[], {}, {"success": "true"}, None])
def test_hcaptcha_answers_without_success_are_no_verdict(answer: Any) -> None:
    with pytest.raises(CaptchaUnreachable):
        hcaptcha_verdict(answer)


# --- Tencent's DescribeCaptchaResult answers ---------------------------------------------


def test_tencent_captcha_code_1_passes() -> None:
    answer = {"Response": {"CaptchaCode": 1, "CaptchaMsg": "OK", "RequestId": "r"}}

    assert tencent_verdict(answer) == Verdict(True)


@pytest.mark.parametrize(("code", "message"), [(7, "captcha no match"), (9, "ticket reused")])
def test_tencent_other_codes_refuse_with_the_code(code: int, message: str) -> None:
    answer = {"Response": {"CaptchaCode": code, "CaptchaMsg": message, "RequestId": "r"}}

    assert tencent_verdict(answer) == Verdict(False, (f"{code} {message}",))


@pytest.mark.parametrize(
    "answer",
    [
        {"Response": {"CaptchaCode": 26, "CaptchaMsg": "system internal error"}},
        {"Response": {"CaptchaCode": 31, "CaptchaMsg": "UnauthorizedOperation.Unauthorized"}},
        {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}},
        {"Response": {"CaptchaCode": True}},
        {"Response": {}},
        {"Error": "x"},
    ],
)
def test_tencent_service_errors_and_odd_answers_are_no_verdict(answer: Any) -> None:
    with pytest.raises(CaptchaUnreachable):
        tencent_verdict(answer)


# --- settings --------------------------------------------------------------------------


def test_off_by_default_asks_for_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)

    assert settings.captcha_provider == "off"
    assert captcha_routes(settings) == []


def test_an_empty_provider_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings(monkeypatch, RETOUCH_CAPTCHA_PROVIDER="").captcha_provider == "off"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"RETOUCH_CAPTCHA_PROVIDER": "recaptcha"}, "RETOUCH_CAPTCHA_PROVIDER"),
        ({**HCAPTCHA, "RETOUCH_CAPTCHA_SECRET": ""}, "RETOUCH_CAPTCHA_SECRET"),
        ({**HCAPTCHA, "RETOUCH_CAPTCHA_SECRET": "0x-the-secret"}, "RETOUCH_CAPTCHA_SECRET"),
        ({**HCAPTCHA, "RETOUCH_CAPTCHA_SITE_KEY": ""}, "RETOUCH_CAPTCHA_SITE_KEY"),
        (
            {**HCAPTCHA, "RETOUCH_CAPTCHA_PROVIDER": "tencent"},  # a sitekey is no app id
            "RETOUCH_CAPTCHA_SITE_KEY",
        ),
        ({**HCAPTCHA, "RETOUCH_CAPTCHA_ROUTES": "register,login"}, "RETOUCH_CAPTCHA_ROUTES"),
        ({**HCAPTCHA, "RETOUCH_CAPTCHA_TIMEOUT_S": "0"}, "RETOUCH_CAPTCHA_TIMEOUT_S"),
    ],
)
def test_what_cannot_work_is_refused_at_start_by_name(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^invalid setting {named}: "):
        _settings(monkeypatch, **variables)


def test_routes_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch, **HCAPTCHA, RETOUCH_CAPTCHA_ROUTES="register, password_forgot"
    )

    assert captcha_routes(settings) == ["register", "password_forgot"]


# --- the check -------------------------------------------------------------------------


def test_a_route_not_listed_asks_the_provider_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, fake = _settings(monkeypatch, **HCAPTCHA), FakeVerifier()

    require_captcha(
        settings,
        route="password_forgot",
        token=None,
        randstr=None,
        client_ip="198.51.100.7",
        verifier=fake,
    )

    assert fake.asked == []


def test_no_token_is_required_without_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    settings, fake = _settings(monkeypatch, **HCAPTCHA), FakeVerifier()

    with pytest.raises(CaptchaRequired):
        require_captcha(
            settings, route="register", token="", randstr=None, client_ip="x", verifier=fake
        )
    assert fake.asked == []


def test_a_solved_token_passes_with_the_client_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, fake = _settings(monkeypatch, **HCAPTCHA), FakeVerifier(solved={"P1_ok"})
    sink = _recording()

    require_captcha(
        settings,
        route="register",
        token="P1_ok",
        randstr=None,
        client_ip="198.51.100.7",
        verifier=fake,
    )

    assert fake.asked == [("P1_ok", "198.51.100.7", "")]
    assert sink.pending == [
        (
            "CaptchaChecks",
            1,
            "Count",
            {"service": "retouch", "provider": "hcaptcha", "outcome": "passed"},
        )
    ]


def test_a_refused_token_is_failed_logged_and_counted(
    monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    settings, sink = _settings(monkeypatch, **HCAPTCHA), _recording()

    with pytest.raises(CaptchaFailed):
        require_captcha(
            settings,
            route="register",
            token="P1_forged",
            randstr=None,
            client_ip="x",
            verifier=FakeVerifier(),
        )

    (line,) = log_lines.with_message("captcha not passed: request refused")
    assert line["level"] == "WARNING"
    assert line["security_event"] == "captcha_failed"
    assert line["reasons"] == ["invalid-input-response"]
    assert [value[3]["outcome"] for value in sink.pending] == ["failed"]


def test_a_provider_down_is_unavailable_with_retry_after_and_no_trace(
    monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    settings, sink = _settings(monkeypatch, **HCAPTCHA), _recording()

    with pytest.raises(CaptchaUnavailable) as refused:
        require_captcha(
            settings,
            route="register",
            token="P1_ok",
            randstr=None,
            client_ip="x",
            verifier=FakeVerifier(down=True),
        )

    assert refused.value.error_code.status == 503
    assert refused.value.headers == {"Retry-After": "5"}
    (line,) = log_lines.with_message("captcha provider unavailable: request refused")
    assert line["level"] == "WARNING"
    assert line["error"] == "hcaptcha: ConnectTimeout"
    assert "exception" not in line
    assert [value[3]["outcome"] for value in sink.pending] == ["unavailable"]


def test_tencent_needs_the_randstr_too(monkeypatch: pytest.MonkeyPatch) -> None:
    tencent = {
        **HCAPTCHA,
        "RETOUCH_CAPTCHA_PROVIDER": "tencent",
        "RETOUCH_CAPTCHA_SITE_KEY": "1900",
    }
    settings = _settings(monkeypatch, **tencent)
    fake = FakeVerifier(provider="tencent", solved={"t"})

    with pytest.raises(CaptchaRequired):
        require_captcha(
            settings, route="register", token="t", randstr=None, client_ip="x", verifier=fake
        )
    require_captcha(
        settings, route="register", token="t", randstr="r", client_ip="x", verifier=fake
    )
    assert fake.asked == [("t", "x", "r")]


# --- the local stack fake's signature check --------------------------------------------


def test_the_local_fake_accepts_our_signed_call_and_refuses_another_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", "AKIDlocal")
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "local-key")
    body = b'{"CaptchaType":9}'
    headers = tc3_headers(
        endpoint="http://127.0.0.1:9",
        action=ACTION,
        version=VERSION,
        region="",
        body=body,
        service=SERVICE,
    )

    assert "x-tc-region" not in headers
    assert "/captcha/tc3_request" in headers["authorization"]
    assert signed_by("AKIDlocal", "local-key")(headers, body) is None
    assert signed_by("AKIDlocal", "other-key")(headers, body) == "signature mismatch"
    assert signed_by("AKIDlocal", "local-key")(headers, body + b" ") == "signature mismatch"
    assert signed_by("AKIDlocal", "local-key")({}, body) == "not TC3-signed"


def test_hcaptcha_with_hostnames_refuses_a_token_solved_on_another_site() -> None:
    answer = {"success": True, "hostname": "evil.example.net"}
    ours = {"app.example.com"}

    assert hcaptcha_verdict(answer, hostnames=ours) == Verdict(False, ("hostname-mismatch",))
    assert hcaptcha_verdict({**answer, "hostname": "app.example.com"}, hostnames=ours).passed
    assert hcaptcha_verdict(answer).passed  # no hostnames named: any site


def test_hostnames_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch, **HCAPTCHA, RETOUCH_CAPTCHA_HOSTNAMES="app.example.com, m.example.com"
    )

    assert settings.captcha_hostnames == ["app.example.com", "m.example.com"]
