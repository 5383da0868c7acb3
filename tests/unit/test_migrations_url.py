"""The migrations connect as the functions do (retouch.bootstrap.migrations.database_url): the
password from its secret when RETOUCH_DB_PASSWORD_SECRET names one, and with RETOUCH_DB_TLS a
verified TLS connection (certificate and host name), as yoyo hands it to pymysql. Nothing
connects: pymysql builds the connection's TLS context without opening a socket."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from yoyo.connections import parse_uri

from retouch.bootstrap.migrations import database_url
from retouch.core.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _pymysql_as_yoyo_builds_it(url: str) -> pymysql.connections.Connection[Any]:
    """What yoyo's mysql backend passes pymysql for this URL, without connecting."""
    uri = parse_uri(url)
    return pymysql.connections.Connection(
        host=uri.hostname,
        user=uri.username,
        password=uri.password,
        database=uri.database,
        defer_connect=True,
        **uri.args,
    )


def test_the_password_is_read_from_its_secret(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.delenv("RETOUCH_DB_PASSWORD", raising=False)
    settings_env.setenv("RETOUCH_DB_PASSWORD_SECRET", "env:RETOUCH_SECRET_DB")
    settings_env.setenv("RETOUCH_SECRET_DB", "p@ss/word from the secret")

    uri = parse_uri(database_url(get_settings()))

    assert uri.password == "p@ss/word from the secret"


def test_with_tls_the_server_certificate_and_name_are_verified(
    settings_env: pytest.MonkeyPatch,
) -> None:
    ca_file = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    settings_env.setenv("RETOUCH_DB_TLS", "true")
    settings_env.setenv("RETOUCH_DB_TLS_CA_FILE", ca_file)

    connection = _pymysql_as_yoyo_builds_it(database_url(get_settings()))

    context: ssl.SSLContext = getattr(connection, "ctx")  # noqa: B009 - untyped in the stubs
    assert connection.ssl and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert parse_uri(database_url(get_settings())).args["ssl_ca"] == ca_file


def test_without_tls_no_tls_argument_is_passed(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("RETOUCH_DB_TLS", "false")

    assert parse_uri(database_url(get_settings())).args == {}
