"""Redis authenticated with a token read at run time (RETOUCH_REDIS_AUTH_SECRET): nothing is
read when the client is built, every new connection asks the secrets cache, an unreadable
token is a Redis that cannot be reached, and the URL may not carry credentials as well.
(A real redis-server with requirepass: tests/integration/secrets/test_redis_auth.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from retouch.core.redis import get_redis
from retouch.core.settings import SettingsError, get_settings

TOKEN = "an-auth-token-of-the-replication-group-0123456789"


@pytest.fixture
def with_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("RETOUCH_REDIS_AUTH_SECRET", "env:RETOUCH_SECRET_REDIS_TOKEN")
    monkeypatch.setenv("RETOUCH_SECRET_REDIS_TOKEN", TOKEN)
    get_settings.cache_clear()
    get_redis.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()
    get_redis.cache_clear()


def _credentials() -> tuple[str, ...]:
    # What redis-py asks for each time it dials (Connection.on_connect).
    provider = get_redis().connection_pool.connection_kwargs["credential_provider"]
    return tuple(provider.get_credentials())


def test_each_new_connection_authenticates_with_the_token_the_secret_holds(
    with_token: pytest.MonkeyPatch,
) -> None:
    # WHEN a connection is made, THEN it sends the token as the password
    assert _credentials() == (TOKEN,)

    # AND a token rotated in the store is what the next connection sends
    with_token.setenv("RETOUCH_SECRET_REDIS_TOKEN", TOKEN[::-1])
    assert _credentials() == (TOKEN[::-1],)


def test_an_unreadable_token_is_a_redis_that_cannot_be_reached(
    with_token: pytest.MonkeyPatch,
) -> None:
    # GIVEN the secret is gone from the store
    with_token.delenv("RETOUCH_SECRET_REDIS_TOKEN")

    # WHEN a connection is made, THEN it fails as an unreachable Redis does, naming no value
    with pytest.raises(redis.exceptions.ConnectionError) as failure:
        _credentials()
    assert "RETOUCH_SECRET_REDIS_TOKEN" in str(failure.value)


def test_without_the_setting_the_url_alone_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETOUCH_REDIS_AUTH_SECRET", raising=False)
    get_settings.cache_clear()
    get_redis.cache_clear()

    assert "credential_provider" not in get_redis().connection_pool.connection_kwargs


@pytest.mark.parametrize(
    "url", ["rediss://:hunter2@cache.example:6379/0", "redis://user:pw@127.0.0.1:9/0"]
)
def test_a_url_with_credentials_and_a_token_secret_is_refused_by_name(
    with_token: pytest.MonkeyPatch, url: str
) -> None:
    # GIVEN credentials in the URL as well as the token's reference
    with_token.setenv("RETOUCH_REDIS_URL", url)
    get_settings.cache_clear()

    # THEN the settings refuse to start, naming the variable and never the password
    with pytest.raises(SettingsError) as refused:
        get_settings()
    assert "RETOUCH_REDIS_AUTH_SECRET" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert "pw@" not in str(refused.value)


@pytest.mark.parametrize("reference", ["vault:redis", "env:RETOUCH_REDIS_URL", "file:/tmp/t"])
def test_a_reference_to_no_known_store_is_refused(
    with_token: pytest.MonkeyPatch, reference: str
) -> None:
    with_token.setenv("RETOUCH_REDIS_AUTH_SECRET", reference)
    get_settings.cache_clear()

    with pytest.raises(SettingsError, match="RETOUCH_REDIS_AUTH_SECRET"):
        get_settings()
