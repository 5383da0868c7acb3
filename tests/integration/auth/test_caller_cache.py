"""The caller served from Redis (`retouch.core.caller_cache`): with the cache warm, every change
of who the caller is takes effect on the very next request; a lost invalidation lives at most
the TTL; a refill that read the old state before an invalidation does not bring it back; and
with Redis unreachable the caller still comes from MySQL. Against the real auth and users
functions, MariaDB and Redis."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
from fastapi.testclient import TestClient

from retouch.caller.cached import encode
from retouch.caller.repository import MySQLCallerRepository
from retouch.core.caller_cache import (
    CallerCache,
    claimed,
    get_caller_cache,
    prefetch_read,
    prefetched,
    record_key,
)
from retouch.core.db import get_database
from retouch.core.ratelimit import Limit, RedisRateLimiter
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.erasure.unverified import expire_unverified_accounts
from retouch.http import create_app
from retouch.users.router import me_router
from tests.conftest import LogLines
from tests.integration.identity_support import PASSWORD, Api, bearer, new_client_ip, new_email

pytestmark = pytest.mark.integration


def _warm(api: Api, token: str) -> str:
    """Two requests with `token`: the first fills the cache, the second is served from it.
    The caller's public id."""
    first = api.me(token)
    assert first.status_code == 200, first.text
    public_id = str(first.json()["id"])
    assert get_redis().hget(record_key(public_id), "r") is not None  # the record is cached
    assert api.me(token).status_code == 200
    return public_id


def _admin(api: Api) -> dict[str, str]:
    return api.signed_in("admin")[1]


def test_logout_takes_effect_on_the_next_request(api: Api) -> None:
    pair = api.register()
    _warm(api, pair["access_token"])

    assert api.auth.post("/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204

    assert api.me(pair["access_token"]).status_code == 401


def test_an_admin_disabling_the_account_takes_effect_on_the_next_request(api: Api) -> None:
    pair = api.register()
    public_id = _warm(api, pair["access_token"])

    changed = api.users.patch(
        f"/v1/admin/users/{public_id}", json={"status": "disabled"}, headers=_admin(api)
    )

    assert changed.status_code == 200, changed.text
    assert api.me(pair["access_token"]).status_code == 401


def test_a_role_change_takes_effect_on_the_next_request(api: Api) -> None:
    pair = api.register()
    public_id = _warm(api, pair["access_token"])
    assert api.users.get("/v1/admin/users", headers=bearer(pair["access_token"])).status_code == 403

    changed = api.users.patch(
        f"/v1/admin/users/{public_id}", json={"role": "admin"}, headers=_admin(api)
    )

    assert changed.status_code == 200, changed.text
    listed = api.users.get("/v1/admin/users", headers=bearer(pair["access_token"]))
    assert listed.status_code == 200
    assert api.me(pair["access_token"]).json()["role"] == "admin"


def test_a_plan_change_and_its_expiry_take_effect_on_the_next_request(api: Api) -> None:
    pair = api.register()
    public_id = _warm(api, pair["access_token"])
    ends = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()

    changed = api.users.patch(
        f"/v1/admin/users/{public_id}/membership",
        json={"plan": "pro", "expires_at": ends, "reason": "trial"},
        headers=_admin(api),
    )

    assert changed.status_code == 200, changed.text
    assert api.me(pair["access_token"]).json()["membership"]["plan"] == "pro"
    assert api.me(pair["access_token"]).json()["membership"]["plan"] == "pro"  # cached again
    # AND once it has expired (no job has run), the next request has the default plan
    time.sleep(
        max(0.0, (datetime.fromisoformat(ends) - datetime.now(timezone.utc)).total_seconds())
    )
    assert api.me(pair["access_token"]).json()["membership"] == {"plan": "free", "expires_at": None}


def test_a_password_change_ends_the_other_sessions_on_their_next_request(api: Api) -> None:
    first = api.register()
    email = first["user"]["email"]
    other = api.login(email).json()
    _warm(api, other["access_token"])
    _warm(api, first["access_token"])

    changed = api.auth.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "Another-Horse-8"},
        headers=bearer(first["access_token"]),
    )

    assert changed.status_code == 204, changed.text
    assert api.me(other["access_token"]).status_code == 401
    assert api.me(first["access_token"]).status_code == 200


def test_deleting_the_account_takes_effect_on_the_next_request(api: Api) -> None:
    pair = api.register()
    _warm(api, pair["access_token"])

    deleted = api.users.request(
        "DELETE", "/v1/me", json={"password": PASSWORD}, headers=bearer(pair["access_token"])
    )

    assert deleted.status_code == 202, deleted.text
    assert api.me(pair["access_token"]).status_code == 401
    # (its erasure is the erasure tests' subject: leave this account out of their runs)
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE users SET deletion_requested_at = deletion_requested_at + INTERVAL 1 DAY "
            "WHERE public_id = %s",
            (pair["user"]["id"],),
        )
        uow.commit()


def test_an_unverified_account_expired_by_the_retention_run_is_refused_next(api: Api) -> None:
    email = new_email()
    registered = api.auth.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 202, registered.text
    signed_in = api.login(email)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    public_id = _warm(api, token)
    with get_database().unit_of_work() as uow:  # signed up eight days ago, never verified
        uow.execute(
            "UPDATE users SET created_at = created_at - INTERVAL 8 DAY WHERE public_id = %s",
            (public_id,),
        )
        uow.commit()
    settings = get_settings().model_copy(update={"unverified_ttl_days": 7})

    expire_unverified_accounts(database=get_database("job"), settings=settings)

    assert api.me(token).status_code == 401
    with get_database().unit_of_work() as uow:  # (its erasure is the erasure tests' subject)
        uow.execute(
            "UPDATE users SET deletion_requested_at = deletion_requested_at + INTERVAL 1 DAY "
            "WHERE public_id = %s",
            (public_id,),
        )
        uow.commit()


def test_a_lost_invalidation_lives_at_most_the_ttl(
    api: Api, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    # GIVEN a one-second TTL, a warm cache, and an invalidation that cannot reach Redis
    monkeypatch.setenv("RETOUCH_CALLER_CACHE_TTL_S", "1")
    get_caller_cache.cache_clear()
    pair = api.register()
    public_id = _warm(api, pair["access_token"])
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE users SET status = 'disabled' WHERE public_id = %s", (public_id,))
        uow.commit()
    CallerCache(_unreachable(), ttl_s=1).forget(public_id)  # logged, not raised

    # THEN the stale record may answer until the TTL, never after it
    deadline = time.monotonic() + 1.0
    time.sleep(1.1)
    assert time.monotonic() > deadline
    assert api.me(pair["access_token"]).status_code == 401
    warnings = [line for line in log_lines.all() if "invalidation failed" in line["message"]]
    assert warnings and warnings[0]["level"] == "WARNING"


def test_a_refill_that_read_before_an_invalidation_does_not_bring_the_old_record_back(
    api: Api,
) -> None:
    # GIVEN a request that prefetched (a miss) and read its caller from MySQL: active
    pair = api.register()
    subject, session_id = claimed(f"Bearer {pair['access_token']}") or ("", "")
    get_redis().delete(record_key(subject))
    read = prefetch_read(subject, session_id)
    limiter = RedisRateLimiter(get_redis())
    decision = limiter.hit(Limit("test_ip", 1000, 60), new_client_ip(), read=read)
    found = prefetched(subject, session_id, decision.read)
    assert found.record is None
    with get_database().read_only() as uow:
        old = MySQLCallerRepository(uow).caller(
            public_id=subject, session_id=session_id, now=datetime.now(timezone.utc)
        )
    assert old.user is not None and old.user.status == "active"

    # WHEN an admin disables the account before that request writes its read back
    changed = api.users.patch(
        f"/v1/admin/users/{subject}", json={"status": "disabled"}, headers=_admin(api)
    )
    assert changed.status_code == 200
    text = encode(old)
    assert text is not None
    written = get_caller_cache().refill(found, record=text, revoked=False)

    # THEN the write-back is refused and the next request sees the disabled account
    assert written is False
    assert get_redis().hget(record_key(subject), "r") is None
    assert api.me(pair["access_token"]).status_code == 401


def test_with_redis_unreachable_the_caller_comes_from_mysql(api: Api) -> None:
    # GIVEN a warm cache that still says active while the account was disabled in SQL
    pair = api.register()
    public_id = _warm(api, pair["access_token"])
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE users SET status = 'disabled' WHERE public_id = %s", (public_id,))
        uow.commit()

    # WHEN the users function cannot reach Redis (its limiter fails open, nothing is read)
    app = create_app([me_router], rate_limiter=RedisRateLimiter(_unreachable()))
    with TestClient(app, client=(new_client_ip(), 50000)) as client:
        refused = client.get("/v1/me", headers=bearer(pair["access_token"]))
        fresh = api.register()
        answered = client.get("/v1/me", headers=bearer(fresh["access_token"]))

    # THEN the caller is read from MySQL: the disabled account is refused, an active one served
    assert refused.status_code == 401
    assert "ratelimit-limit" not in refused.headers
    assert answered.status_code == 200
    assert answered.json()["id"] == fresh["user"]["id"]


def _unreachable() -> redis.Redis:
    return redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
