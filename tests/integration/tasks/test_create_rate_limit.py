"""`POST /v1/tasks`'s per-user limit counted in the per-IP round trip (`http.rate_limits`):
with the caller cached, one `EVALSHA` counts both limits and the limit still holds exactly;
a token that does not verify, or whose session has ended, never spends the named user's
allowance. Against the real tasks function, MariaDB and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from retouch.bootstrap.clients import reset_clients
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.caller_cache import REVOKED, record_key, session_field
from retouch.core.db import get_database
from retouch.core.ids import new_public_id
from retouch.core.ratelimit import configured_limits, storage_key
from retouch.core.redis import get_redis
from retouch.core.security import TokenConfig, issue_access_token
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from tests.conftest import Stack
from tests.integration.identity_support import bearer, forged, new_account, sign_up
from tests.integration.task_support import tasks_app, user_internal_id

pytestmark = pytest.mark.integration

PER_USER = 3
REFUSED_BODY = {"feature": "cutout", "inputs": {}}  # the form refuses it: no credits move


@pytest.fixture
def client(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN", str(PER_USER))
    reset_clients()
    with TestClient(tasks_app()) as test_client:
        yield test_client


def _post(client: TestClient, headers: dict[str, str]) -> Any:
    return client.post("/v1/tasks", json=REFUSED_BODY, headers=headers)


def _warm(client: TestClient, headers: dict[str, str], public_id: str) -> None:
    """A read that fills the caller cache (and counts nothing per user)."""
    assert client.get("/v1/tasks", headers=headers).status_code == 200
    assert get_redis().hget(record_key(public_id), "r") is not None


def _user_counter(public_id: str) -> str:
    return storage_key(configured_limits().tasks_per_user, public_id)


def _script_calls() -> int:
    stats: dict[str, Any] = get_redis().info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_with_the_caller_cached_one_round_trip_counts_both_limits_exactly(
    client: TestClient,
) -> None:
    # GIVEN a caller whose record the cache holds
    user, headers = new_account()
    _warm(client, headers, user["id"])

    # WHEN they send one more task request than their per-user rate allows
    answers = [_post(client, headers)]  # (the first loads the script into Redis)
    before = _script_calls()
    answers += [_post(client, headers) for _ in range(PER_USER)]

    # THEN each request ran one limiter script, not two, and the limit held exactly: the
    # first three are judged on their merits, the fourth refused with the per-user headers
    assert _script_calls() - before == PER_USER
    assert [a.status_code for a in answers] == [422] * PER_USER + [429]
    refused = answers[-1]
    assert refused.json()["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["ratelimit-limit"] == str(PER_USER)
    assert refused.headers["ratelimit-remaining"] == "0"
    assert answers[0].headers["ratelimit-remaining"] == str(PER_USER - 1)


def test_without_the_caller_cached_the_route_counts_its_limit_itself(
    client: TestClient,
) -> None:
    # GIVEN a caller the cache does not hold (every request reads them from MySQL)
    user, headers = new_account()

    answers = []
    for _ in range(PER_USER + 1):
        get_redis().delete(record_key(user["id"]))
        answers.append(_post(client, headers))

    # THEN the limit holds as exactly
    assert [a.status_code for a in answers] == [422] * PER_USER + [429]


def test_a_forged_or_expired_token_naming_a_cached_caller_spends_none_of_their_allowance(
    client: TestClient,
) -> None:
    # GIVEN a victim whose record and session the cache holds, and tokens naming the very
    # user and session: signed with another key, or ours but expired
    victim, headers = new_account()
    _warm(client, headers, victim["id"])
    session = jwt.decode(headers["Authorization"][7:], options={"verify_signature": False})["sid"]
    bad = [
        forged(victim["id"], key=b"k" * 32, sid=session),
        forged(victim["id"], sid=session, exp=1_000_000_000),
    ]

    # WHEN they are sent, more often than the victim's allowance
    answers = [_post(client, bearer(token)) for token in bad for _ in range(PER_USER + 1)]

    # THEN each is refused as unauthenticated and nothing was counted for the victim, who
    # still has the whole allowance
    assert {a.status_code for a in answers} == {401}
    assert not get_redis().exists(_user_counter(victim["id"]))
    mine = [_post(client, headers) for _ in range(PER_USER + 1)]
    assert [a.status_code for a in mine] == [422] * PER_USER + [429]


def test_a_token_whose_session_ended_spends_none_of_the_allowance(client: TestClient) -> None:
    # GIVEN a signed-up user whose first session was revoked, signed in again since (that
    # session's record cached), and the first session's token, still signed and unexpired
    pair = sign_up()
    public_id, old = pair.user.id, bearer(pair.access_token)
    with get_database().unit_of_work() as uow:
        repository = MySQLRefreshTokenRepository(uow)
        assert repository.revoke_all_of_user(user_internal_id(public_id), at=utc_now()) > 0
        uow.commit()
    forget_caller(public_id)
    config = TokenConfig.from_settings(get_settings())
    current = issue_access_token(
        config=config, subject=public_id, role="user", session_id=new_public_id("ses")
    )
    _warm(client, bearer(current.token), public_id)

    # WHEN the old token is sent again and again: its session not cached, then cached as
    # revoked (the state the cache keeps for a revoked session)
    answers = [_post(client, old) for _ in range(PER_USER + 1)]
    old_session = jwt.decode(pair.access_token, options={"verify_signature": False})["sid"]
    get_redis().hset(record_key(public_id), session_field(old_session), REVOKED)
    answers += [_post(client, old) for _ in range(PER_USER + 1)]

    # THEN every request is refused and not one was counted against the user, who still has
    # the whole allowance on the live session
    assert {a.status_code for a in answers} == {401}
    assert not get_redis().exists(_user_counter(public_id))
    mine = [_post(client, bearer(current.token)) for _ in range(PER_USER + 1)]
    assert [a.status_code for a in mine] == [422] * PER_USER + [429]
