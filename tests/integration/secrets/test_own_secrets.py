"""The service's own secrets read through the Tencent SSM fake: the MySQL password at the
first connect (and once more when MySQL refuses it), the JWT keys at the first token check
(and once more for an unknown kid); a secret that cannot be read answers 503 problem+json."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.core.db import DatabaseUnavailable, get_database
from retouch.core.errors import Unauthenticated
from retouch.core.security import TokenConfig, issue_access_token, verify_access_token
from retouch.core.settings import get_settings
from scripts.local.servers import DB_PASSWORD
from tests.conftest import LogLines, load_function
from tests.integration.tencent_ssm_fake import FakeSsm

DB_SECRET = "retouch-test-db-password"
JWT_SECRET = "retouch-test-jwt-keys"


@pytest.fixture
def db_secret(tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch) -> FakeSsm:
    """RETOUCH_DB_PASSWORD replaced by a reference to the fake's secret (not stored yet)."""
    monkeypatch.delenv("RETOUCH_DB_PASSWORD")
    monkeypatch.setenv("RETOUCH_DB_PASSWORD_SECRET", f"tcssm:{DB_SECRET}")
    get_settings.cache_clear()
    return tencent_ssm


@pytest.fixture
def jwt_secret(tencent_ssm: FakeSsm, monkeypatch: pytest.MonkeyPatch) -> FakeSsm:
    """RETOUCH_JWT_KEYS replaced by a reference to the fake's secret (not stored yet)."""
    monkeypatch.delenv("RETOUCH_JWT_KEYS")
    monkeypatch.setenv("RETOUCH_JWT_KEYS_SECRET", f"tcssm:{JWT_SECRET}")
    get_settings.cache_clear()
    return tencent_ssm


def _key() -> str:
    return secrets.token_urlsafe(32)


def test_the_database_password_is_read_at_the_first_connect_only(db_secret: FakeSsm) -> None:
    db_secret.put(DB_SECRET, DB_PASSWORD)

    database = get_database()
    assert db_secret.reads(DB_SECRET) == 0  # settings and the database object read nothing

    database.ping()
    database.close()
    database.ping()  # a new connection, the cached password

    assert db_secret.reads(DB_SECRET) == 1


def test_a_password_mysql_refuses_is_read_again_once(
    db_secret: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a cached password that a rotation has since replaced in the store
    monkeypatch.setenv("RETOUCH_SECRETS_REFRESH_MIN_S", "0")
    get_settings.cache_clear()
    db_secret.put(DB_SECRET, "the-password-before-rotation")
    with pytest.raises(DatabaseUnavailable):
        get_database().ping()
    db_secret.put(DB_SECRET, DB_PASSWORD)
    get_database.cache_clear()

    # WHEN the database connects with the stale value: MySQL refuses it, the secret is read
    # once more and the connect succeeds
    get_database().ping()

    assert db_secret.reads(DB_SECRET) == 3  # two connects, one of them refused and refreshed


def test_a_refused_password_does_not_flood_the_store(db_secret: FakeSsm) -> None:
    db_secret.put(DB_SECRET, "not-the-password")

    for _ in range(5):
        get_database.cache_clear()  # no fail-fast window between the attempts
        with pytest.raises(DatabaseUnavailable):
            get_database().ping()

    assert db_secret.reads(DB_SECRET) == 1  # the early refresh waits RETOUCH_SECRETS_REFRESH_MIN_S


def _http(path: str, function: str, headers: dict[str, str] | None = None) -> Any:
    app = load_function(f"functions/http/{function}/app.py").app
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.get(path, headers=headers or {})


def test_a_missing_database_secret_answers_503_problem_json(
    db_secret: FakeSsm, log_lines: LogLines
) -> None:
    response = _http("/v1/features", "catalog")

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert DB_SECRET not in response.text  # the reference stays in the log
    assert log_lines.with_message("secret unavailable")[0]["reference"] == f"tcssm:{DB_SECRET}"


def test_the_health_check_without_a_database_reads_no_secret(db_secret: FakeSsm) -> None:
    response = _http("/health", "health")

    assert response.status_code == 200
    assert db_secret.calls == []


def test_jwt_keys_are_read_from_the_store_and_sign_and_verify(jwt_secret: FakeSsm) -> None:
    jwt_secret.put(JWT_SECRET, json.dumps({"k1": _key()}))

    config = TokenConfig.from_settings(get_settings())
    issued = issue_access_token(config=config, subject="usr_1", role="user", session_id="s1")

    assert verify_access_token(issued.token, config=config).subject == "usr_1"
    assert config.active_kid == "k1"


def test_a_token_of_a_rotated_key_is_verified_after_one_early_read(
    jwt_secret: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an instance that cached only k1, and another that signs with k2 after a rotation
    monkeypatch.setenv("RETOUCH_SECRETS_REFRESH_MIN_S", "0")
    get_settings.cache_clear()
    old, new = _key(), _key()
    jwt_secret.put(JWT_SECRET, json.dumps({"k1": old}))
    stale = TokenConfig.from_settings(get_settings())
    jwt_secret.put(JWT_SECRET, json.dumps({"keys": {"k1": old, "k2": new}, "active_kid": "k2"}))
    other = TokenConfig(keys={"k2": new.encode()}, active_kid="k2", issuer=stale.issuer,
                        audience=stale.audience, ttl_s=stale.ttl_s)  # fmt: skip
    token = issue_access_token(config=other, subject="usr_2", role="user", session_id="s2").token

    # WHEN the first instance checks the token, THEN it reads the keys once more and accepts
    assert verify_access_token(token, config=stale).subject == "usr_2"
    assert jwt_secret.reads(JWT_SECRET) == 2


def test_forged_kids_cost_the_store_at_most_one_early_read(
    jwt_secret: FakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keys read longer ago than the refresh interval (0.3 s here, 30 s by default)
    monkeypatch.setenv("RETOUCH_SECRETS_REFRESH_MIN_S", "0.3")
    get_settings.cache_clear()
    jwt_secret.put(JWT_SECRET, json.dumps({"k1": _key()}))
    config = TokenConfig.from_settings(get_settings())
    time.sleep(0.35)
    forger = TokenConfig(keys={"forged": _key().encode()}, active_kid="forged",
                         issuer=config.issuer, audience=config.audience, ttl_s=60)  # fmt: skip

    for n in range(10):
        forged = issue_access_token(config=forger, subject="usr_x", role="admin", session_id=f"{n}")
        with pytest.raises(Unauthenticated):
            verify_access_token(forged.token, config=config)

    assert jwt_secret.reads(JWT_SECRET) == 2  # the first read and one early refresh


@pytest.mark.parametrize(
    "stored",
    [
        None,  # missing
        "not json",
        json.dumps({"k1": "short"}),
        json.dumps({"keys": {"k1": "x" * 40}, "active_kid": "k9"}),
    ],
)
def test_jwt_keys_that_cannot_be_used_answer_503_problem_json(
    jwt_secret: FakeSsm, stored: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    if stored is not None:
        jwt_secret.put(JWT_SECRET, stored)

    response = _http("/v1/me", "users", headers={"Authorization": "Bearer a.b.c"})

    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "x" * 40 not in caplog.text
