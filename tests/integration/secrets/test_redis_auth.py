"""Redis with AUTH, as ElastiCache runs it with an AuthToken: a redis-server of this module
with `requirepass`, the token in Secrets Manager (moto's server) named by
RETOUCH_REDIS_AUTH_SECRET. The service authenticates with it; without it, or with a wrong
one, Redis refuses and the health check says so with a 503 problem, never a 500."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import boto3
import pytest
import redis
from fastapi.testclient import TestClient

from retouch.bootstrap.clients import reset_clients
from retouch.core.redis import get_redis
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import RedisServer
from tests.conftest import Stack
from tests.integration.sqs_support import MotoSqs

TOKEN = secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def guarded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server that answers only after AUTH with TOKEN."""
    server = RedisServer(tmp_path_factory.mktemp("redis-auth")).start()
    redis.Redis(host="127.0.0.1", port=server.port).config_set("requirepass", TOKEN)
    yield server
    server.stop()


@pytest.fixture
def token_secret(
    monkeypatch: pytest.MonkeyPatch, sqs: MotoSqs, stack: Stack, guarded_redis: RedisServer
) -> Iterator[str]:
    """The service pointed at the guarded Redis, the token stored under a new secret name."""
    name = f"retouch/test/redis-{secrets.token_hex(4)}"
    boto3.client("secretsmanager", endpoint_url=sqs.endpoint_url).create_secret(
        Name=name, SecretString=TOKEN
    )
    monkeypatch.setenv("RETOUCH_SECRETS_ENDPOINT_URL", sqs.endpoint_url)
    monkeypatch.setenv("RETOUCH_REDIS_URL", guarded_redis.url)
    monkeypatch.setenv("RETOUCH_REDIS_AUTH_SECRET", f"secretsmanager:{name}")
    reset_clients()
    yield name
    monkeypatch.undo()
    reset_clients()


def test_the_service_authenticates_with_the_token_from_secrets_manager(token_secret: str) -> None:
    # WHEN the service uses Redis, THEN the guarded server accepts it
    client = get_redis()
    client.set("auth-probe", "1", ex=5)
    assert client.get("auth-probe") == "1"


def test_health_reports_redis_down_when_the_token_secret_is_missing(
    token_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a reference to a secret that does not exist
    monkeypatch.setenv("RETOUCH_REDIS_AUTH_SECRET", "secretsmanager:retouch/test/no-such-token")
    reset_clients()

    # WHEN the health check asks Redis
    with TestClient(create_gateway(load_template())) as client:
        response = client.get("/health/redis")

    # THEN it answers 503 as for an unreachable Redis, never a 500
    assert response.status_code == 503
    assert response.json()["status"] != "ok"


def test_a_wrong_token_is_refused_by_redis(token_secret: str, sqs: MotoSqs) -> None:
    # GIVEN the secret now holds another token (a rotation that did not reach Redis)
    boto3.client("secretsmanager", endpoint_url=sqs.endpoint_url).put_secret_value(
        SecretId=token_secret, SecretString="not-the-token-0123456789"
    )
    reset_clients()

    # THEN Redis refuses the connection
    with pytest.raises(redis.exceptions.AuthenticationError):
        get_redis().ping()


def test_without_the_token_the_guarded_redis_refuses(
    token_secret: str, monkeypatch: pytest.MonkeyPatch, guarded_redis: RedisServer
) -> None:
    # GIVEN no token configured: the AUTH is really required (the tests above prove something)
    monkeypatch.delenv("RETOUCH_REDIS_AUTH_SECRET")
    reset_clients()

    with pytest.raises(redis.exceptions.AuthenticationError):
        get_redis().ping()
