"""The service's own secrets read from AWS Secrets Manager and SSM Parameter Store (moto's
server): the MySQL password at the first connect, the JWT keys decrypted from a SecureString,
rotation seen after the cache time, and no value in any log, botocore's DEBUG lines included."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator

import boto3
import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.secrets import SecretUnavailable, get_secret
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings
from scripts.local.servers import DB_PASSWORD
from tests.conftest import LogLines, Stack
from tests.integration.sqs_support import MotoSqs


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, sqs: MotoSqs, stack: Stack) -> Iterator[MotoSqs]:
    """The secret stores pointed at moto; every cached secret forgotten around the test."""
    monkeypatch.setenv("RETOUCH_SECRETS_ENDPOINT_URL", sqs.endpoint_url)
    reset_clients()
    yield sqs
    monkeypatch.undo()
    reset_clients()


def _name() -> str:
    return f"retouch/test/{secrets.token_hex(4)}"


def test_the_database_password_is_read_from_secrets_manager_at_first_connect(
    aws: MotoSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _name()
    boto3.client("secretsmanager", endpoint_url=aws.endpoint_url).create_secret(
        Name=name, SecretString=DB_PASSWORD
    )
    monkeypatch.delenv("RETOUCH_DB_PASSWORD")
    monkeypatch.setenv("RETOUCH_DB_PASSWORD_SECRET", f"secretsmanager:{name}")
    get_settings.cache_clear()

    get_database().ping()


def test_jwt_keys_are_decrypted_from_an_ssm_secure_string(
    aws: MotoSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "/" + _name()
    keys = {"k1": secrets.token_urlsafe(32)}
    boto3.client("ssm", endpoint_url=aws.endpoint_url).put_parameter(
        Name=path, Value=json.dumps(keys), Type="SecureString"
    )
    monkeypatch.delenv("RETOUCH_JWT_KEYS")
    monkeypatch.setenv("RETOUCH_JWT_KEYS_SECRET", f"ssm:{path}")
    get_settings.cache_clear()

    config = TokenConfig.from_settings(get_settings())

    assert config.keys == {"k1": keys["k1"].encode()}


def test_a_rotated_secret_is_seen_after_the_cache_time(
    aws: MotoSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_SECRETS_CACHE_S", "0.5")
    get_settings.cache_clear()
    name = _name()
    store = boto3.client("secretsmanager", endpoint_url=aws.endpoint_url)
    store.create_secret(Name=name, SecretString="before")

    first = get_secret(f"secretsmanager:{name}")
    store.put_secret_value(SecretId=name, SecretString="after")
    cached = get_secret(f"secretsmanager:{name}")
    time.sleep(0.6)

    assert (first, cached, get_secret(f"secretsmanager:{name}")) == ("before", "before", "after")


def test_a_missing_secret_names_the_store_error(aws: MotoSqs) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        get_secret(f"secretsmanager:{_name()}")

    assert caught.value.reason == "ResourceNotFoundException"


def test_no_value_reaches_any_log_even_at_debug(
    aws: MotoSqs, log_lines: LogLines, caplog: pytest.LogCaptureFixture
) -> None:
    name, value = _name(), secrets.token_urlsafe(24)
    boto3.client("secretsmanager", endpoint_url=aws.endpoint_url).create_secret(
        Name=name, SecretString=value
    )
    # GIVEN every logger at DEBUG from here on (the store write above logs its own body)
    caplog.set_level(logging.DEBUG)

    assert get_secret(f"secretsmanager:{name}") == value

    assert "secretsmanager" in caplog.text  # botocore did log the call
    assert value not in caplog.text
    assert all(value not in str(line) for line in log_lines.all())
