"""Identity inputs without servers: JWT settings, register/login bodies, password policy."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from retouch.auth.schemas import LoginRequest, RegisterRequest
from retouch.core.settings import SettingsError, get_settings
from retouch.users.schemas import UserPatch

STRONG_KEY = "s" * 32


def test_outside_the_local_stage_missing_jwt_keys_name_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_STAGE", "prod")
    monkeypatch.delenv("RETOUCH_JWT_KEYS")

    with pytest.raises(SettingsError, match=r"^missing setting RETOUCH_JWT_KEYS: "):
        get_settings()


def test_the_local_stage_without_keys_signs_with_a_random_process_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_STAGE", "local")
    monkeypatch.delenv("RETOUCH_JWT_KEYS")

    keys = get_settings().jwt_keys

    assert len(keys) == 1
    assert len(next(iter(keys.values())).get_secret_value()) >= 32


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({"k1": "short"}, None, r"^invalid setting RETOUCH_JWT_KEYS: .*shorter than 32 bytes"),
        ({"k 1": STRONG_KEY}, None, r"^invalid setting RETOUCH_JWT_KEYS: .*key id"),
        ({"k1": STRONG_KEY, "k2": STRONG_KEY}, None, r"^missing setting RETOUCH_JWT_ACTIVE_KID"),
        ({"k1": STRONG_KEY}, "k9", r"^invalid setting RETOUCH_JWT_ACTIVE_KID: "),
    ],
    ids=["short-key", "bad-kid", "two-keys-no-active", "unknown-active"],
)
def test_bad_jwt_keys_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, keys: dict[str, str], active: str | None, message: str
) -> None:
    monkeypatch.setenv("RETOUCH_JWT_KEYS", json.dumps(keys))
    if active is not None:
        monkeypatch.setenv("RETOUCH_JWT_ACTIVE_KID", active)

    with pytest.raises(SettingsError, match=message):
        get_settings()


def test_jwt_keys_never_appear_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_JWT_KEYS", json.dumps({"k1": "do-not-print-me-" + "x" * 20}))

    assert "do-not-print-me" not in repr(get_settings())


def test_register_normalises_the_email() -> None:
    body = RegisterRequest.model_validate(
        {"email": "  Mei.Chen@Example.COM ", "password": "Correct-Horse-7"}
    )

    assert body.email == "mei.chen@example.com"


@pytest.mark.parametrize(
    "password",
    [
        "Sh0rt-pw",  # under 10 characters
        "alllowercaseletters",  # one class only
        "12345678901234",  # one class only
        "x" * 129,  # over the limit
    ],
)
def test_weak_or_oversized_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RegisterRequest.model_validate({"email": "mei@example.com", "password": password})

    assert [error["loc"] for error in refused.value.errors()] == [("password",)]


def test_the_email_as_password_is_refused() -> None:
    with pytest.raises(ValidationError):
        RegisterRequest.model_validate(
            {"email": "mei.chen2024@example.com", "password": "Mei.Chen2024"}
        )


@pytest.mark.parametrize(
    "email", ["no-at-sign", "two@@example.com", "a@b", "a..b@example.com", "a@-x.com", " "]
)
def test_malformed_emails_are_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"email": email, "password": "x"})


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"balance": 99999}, {"status": "active"}])
def test_register_refuses_fields_it_does_not_define(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as refused:
        RegisterRequest.model_validate(
            {"email": "mei@example.com", "password": "Correct-Horse-7", **extra}
        )

    assert refused.value.errors()[0]["type"] == "extra_forbidden"


def test_a_user_patch_refuses_other_fields_and_needs_a_change() -> None:
    with pytest.raises(ValidationError):
        UserPatch.model_validate({"role": "admin", "email": "x@example.com"})
    with pytest.raises(ValidationError):
        UserPatch.model_validate({})
    assert UserPatch.model_validate({"status": "disabled"}).status == "disabled"
