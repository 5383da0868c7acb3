"""Settings of the secrets read at run time: references checked by name at start, never read
then; the JWT keys a secret holds are checked as RETOUCH_JWT_KEYS is, and a bad one is a 503,
never a 500. (The stores themselves: tests/integration/secrets.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from retouch.core.db import get_database
from retouch.core.secrets import SecretUnavailable
from retouch.core.secrets.own import database_password, signing_keys
from retouch.core.security import TokenConfig, derived_key
from retouch.core.settings import SettingsError, get_settings

KEY = "a-signing-key-of-at-least-32-bytes-0123"


@pytest.fixture
def from_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The unit settings with the plain password removed (JWT tests remove the keys)."""
    monkeypatch.delenv("RETOUCH_DB_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "reference",
    [
        "tcssm:retouch-dev-db-password",
        "tcssm:retouch-dev-db-password@v2",
        "secretsmanager:retouch/db-password",
        "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:retouch/db-AbCdEf",
        "ssm:/retouch/db-password",
        "env:RETOUCH_SECRET_DB",
    ],
)
def test_a_reference_is_accepted_and_nothing_is_read_at_start(
    from_secrets: pytest.MonkeyPatch, reference: str
) -> None:
    # GIVEN a reference to each store (the unit tests have no socket: a read would fail)
    from_secrets.setenv("RETOUCH_DB_PASSWORD_SECRET", reference)
    from_secrets.setenv("RETOUCH_SECRETS_TENCENT_REGION", "ap-guangzhou")

    # WHEN the settings and the database object are built, THEN nothing was read
    assert get_settings().db_password_secret == reference
    assert get_database() is get_database()


@pytest.mark.parametrize(
    "reference",
    [
        "tcssm:retouch/dev/db-password",  # SSM names have no `/`
        "vault:retouch/db-password",
        "file:/etc/passwd",
        "env:RETOUCH_DB_PASSWORD",  # only RETOUCH_SECRET_* variables hold secrets
        "secretsmanager:",
        "tcssm:-leading-dash",
    ],
)
def test_a_malformed_reference_is_refused_by_name(
    from_secrets: pytest.MonkeyPatch, reference: str
) -> None:
    from_secrets.setenv("RETOUCH_DB_PASSWORD_SECRET", reference)

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_DB_PASSWORD_SECRET: "):
        get_settings()


def test_a_password_and_its_reference_together_are_refused(
    from_secrets: pytest.MonkeyPatch,
) -> None:
    from_secrets.setenv("RETOUCH_DB_PASSWORD", "hunter2-hunter2")
    from_secrets.setenv("RETOUCH_DB_PASSWORD_SECRET", "secretsmanager:retouch/db-password")

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_DB_PASSWORD: .*not both"):
        get_settings()


def test_jwt_keys_and_their_reference_together_are_refused(
    from_secrets: pytest.MonkeyPatch,
) -> None:
    from_secrets.setenv("RETOUCH_JWT_KEYS", json.dumps({"k1": KEY}))  # (the unit key)
    from_secrets.setenv("RETOUCH_JWT_KEYS_SECRET", "secretsmanager:retouch/jwt-keys")

    with pytest.raises(SettingsError, match=r"^invalid setting RETOUCH_JWT_KEYS: .*not both"):
        get_settings()


def test_a_tencent_reference_needs_the_region(from_secrets: pytest.MonkeyPatch) -> None:
    from_secrets.delenv("RETOUCH_JWT_KEYS")
    from_secrets.setenv("RETOUCH_JWT_KEYS_SECRET", "tcssm:retouch-dev-jwt-keys")

    with pytest.raises(SettingsError, match=r"^missing setting RETOUCH_SECRETS_TENCENT_REGION"):
        get_settings()


def test_without_references_the_plain_settings_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_DB_PASSWORD", "plain-password")
    settings = get_settings()

    assert database_password(settings) == "plain-password"
    assert signing_keys(settings).active_kid == "unit-1"
    assert TokenConfig.from_settings(settings).reread_keys is None


def test_jwt_keys_are_read_through_their_reference_in_either_shape(
    from_secrets: pytest.MonkeyPatch,
) -> None:
    from_secrets.delenv("RETOUCH_JWT_KEYS")
    from_secrets.setenv("RETOUCH_JWT_KEYS_SECRET", "env:RETOUCH_SECRET_JWT")
    from_secrets.setenv("RETOUCH_SECRET_JWT", json.dumps({"k1": KEY}))
    first = TokenConfig.from_settings(get_settings())
    from_secrets.setenv(
        "RETOUCH_SECRET_JWT", json.dumps({"keys": {"k1": KEY, "k2": KEY[::-1]}, "active_kid": "k2"})
    )
    rotated = TokenConfig.from_settings(get_settings())

    assert (first.active_kid, sorted(first.keys)) == ("k1", ["k1"])
    assert (rotated.active_kid, sorted(rotated.keys)) == ("k2", ["k1", "k2"])
    assert derived_key(get_settings(), "cursor") != b""


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("not json", "not JSON"),
        (json.dumps({"k1": "short"}), "shorter than 32 bytes"),
        (json.dumps({"bad kid!": KEY}), "key id"),
        (json.dumps({"k1": KEY, "k2": KEY}), "active kid ''"),
        (json.dumps({"keys": {"k1": KEY}, "active_kid": "k9"}), "active kid 'k9'"),
        (json.dumps(["k1", KEY]), "not an object of strings"),
        (json.dumps({"k1": 7}), "not an object of strings"),
    ],
)
def test_unusable_jwt_keys_are_unavailable_without_echoing_them(
    from_secrets: pytest.MonkeyPatch, stored: str, reason: str
) -> None:
    from_secrets.delenv("RETOUCH_JWT_KEYS")
    from_secrets.setenv("RETOUCH_JWT_KEYS_SECRET", "env:RETOUCH_SECRET_JWT")
    from_secrets.setenv("RETOUCH_SECRET_JWT", stored)

    with pytest.raises(SecretUnavailable) as caught:
        TokenConfig.from_settings(get_settings())

    assert reason in caught.value.reason
    assert KEY not in str(caught.value)
    assert caught.value.code == "SERVICE_UNAVAILABLE"


def test_an_unset_reference_is_unavailable(from_secrets: pytest.MonkeyPatch) -> None:
    from_secrets.setenv("RETOUCH_DB_PASSWORD_SECRET", "env:RETOUCH_SECRET_DB_ABSENT")

    with pytest.raises(SecretUnavailable, match="RETOUCH_SECRET_DB_ABSENT is not set"):
        database_password(get_settings())
