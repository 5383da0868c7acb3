"""Provider credentials resolved from `credential_ref` at run time: environment variables,
and Secrets Manager / SSM through Powertools Parameters (against moto's server)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import boto3
import pytest

from retouch.core.settings import get_settings
from retouch.providers.credentials import (
    CredentialsUnavailable,
    forget_secrets,
    resolve_credentials,
)
from tests.conftest import Stack
from tests.integration.sqs_support import MotoSqs


@pytest.fixture
def fresh(
    monkeypatch: pytest.MonkeyPatch, sqs: MotoSqs, stack: Stack
) -> Iterator[pytest.MonkeyPatch]:
    """Settings pointing the secret stores at moto; caches forgotten before and after."""
    monkeypatch.setenv("RETOUCH_SECRETS_ENDPOINT_URL", sqs.endpoint_url)
    get_settings.cache_clear()
    forget_secrets()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
    forget_secrets()


def test_an_env_reference_reads_a_bare_key_as_api_key(fresh: pytest.MonkeyPatch) -> None:
    key = secrets.token_hex(16)
    fresh.setenv("RETOUCH_SECRET_RH_TEST", key)

    credentials = resolve_credentials("env:RETOUCH_SECRET_RH_TEST", provider_key="rh_test")

    assert credentials["api_key"] == key
    assert key not in repr(credentials)


def test_an_env_reference_reads_a_json_object(fresh: pytest.MonkeyPatch) -> None:
    fresh.setenv("RETOUCH_SECRET_TC_TEST", json.dumps({"secret_id": "AKID1", "secret_key": "k"}))

    credentials = resolve_credentials("env:RETOUCH_SECRET_TC_TEST", provider_key="tc_test")

    assert (credentials["secret_id"], credentials["secret_key"]) == ("AKID1", "k")
    assert credentials.get("token") is None


def test_secret_variables_are_not_settings(fresh: pytest.MonkeyPatch) -> None:
    # A RETOUCH_SECRET_* variable must not trip the "unknown setting" check.
    fresh.setenv("RETOUCH_SECRET_ANYTHING", "x")
    get_settings.cache_clear()

    assert get_settings().secrets_cache_s == 300


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (None, "no credential_ref"),
        ("env:RETOUCH_SECRET_ABSENT", "names no value"),
        ("vault:somewhere", "is not provider 'absent'"),
        ("secretsmanager:retouch/providers/absent", "read failed"),
        ("ssm:/retouch/providers/absent", "read failed"),
    ],
)
def test_a_reference_naming_nothing_is_unavailable(
    fresh: pytest.MonkeyPatch, reference: str | None, message: str
) -> None:
    with pytest.raises(CredentialsUnavailable, match=message):
        resolve_credentials(reference, provider_key="absent")


def test_an_env_reference_outside_the_secret_namespace_is_refused(
    fresh: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(CredentialsUnavailable, match="is not provider 'db_password'"):
        resolve_credentials("env:RETOUCH_DB_PASSWORD", provider_key="db_password")


def test_a_malformed_secret_is_unavailable_without_echoing_it(fresh: pytest.MonkeyPatch) -> None:
    fresh.setenv("RETOUCH_SECRET_BROKEN", '{"secret_id": "AKID", "secret_key": ')

    with pytest.raises(CredentialsUnavailable) as caught:
        resolve_credentials("env:RETOUCH_SECRET_BROKEN", provider_key="broken")

    assert "AKID" not in str(caught.value)


def test_secrets_manager_values_are_cached_until_forgotten(
    fresh: pytest.MonkeyPatch, sqs: MotoSqs
) -> None:
    key = f"t_{secrets.token_hex(4)}"
    name = f"retouch/providers/{key}"
    store = boto3.client("secretsmanager", endpoint_url=sqs.endpoint_url)
    store.create_secret(Name=name, SecretString=json.dumps({"api_key": "first"}))

    first = resolve_credentials(f"secretsmanager:{name}", provider_key=key)
    store.put_secret_value(SecretId=name, SecretString=json.dumps({"api_key": "rotated"}))
    cached = resolve_credentials(f"secretsmanager:{name}", provider_key=key)
    forget_secrets()
    reread = resolve_credentials(f"secretsmanager:{name}", provider_key=key)

    assert (first["api_key"], cached["api_key"], reread["api_key"]) == (
        "first",
        "first",
        "rotated",
    )


def test_a_rotated_secret_is_read_again_once_the_cache_time_passes(
    fresh: pytest.MonkeyPatch, sqs: MotoSqs
) -> None:
    fresh.setenv("RETOUCH_SECRETS_CACHE_S", "0")
    get_settings.cache_clear()
    key = f"t_{secrets.token_hex(4)}"
    name = f"retouch/providers/{key}"
    store = boto3.client("secretsmanager", endpoint_url=sqs.endpoint_url)
    store.create_secret(Name=name, SecretString="first")

    first = resolve_credentials(f"secretsmanager:{name}", provider_key=key)
    store.put_secret_value(SecretId=name, SecretString="rotated")
    second = resolve_credentials(f"secretsmanager:{name}", provider_key=key)

    assert (first["api_key"], second["api_key"]) == ("first", "rotated")


def test_an_ssm_secure_string_is_decrypted(fresh: pytest.MonkeyPatch, sqs: MotoSqs) -> None:
    key = f"t_{secrets.token_hex(4)}"
    path = f"/retouch/providers/{key}"
    boto3.client("ssm", endpoint_url=sqs.endpoint_url).put_parameter(
        Name=path, Value=json.dumps({"secret_id": "AKID2", "secret_key": "s"}), Type="SecureString"
    )

    credentials = resolve_credentials(f"ssm:{path}", provider_key=key)

    assert (credentials["secret_id"], credentials["secret_key"]) == ("AKID2", "s")
