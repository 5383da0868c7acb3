"""The Idempotency-Key rules (`retouch.idempotency`) over the in-memory fake: claim, replay,
reuse, in flight, take-over, expiry, release, a lost claim, key format, scope and purge."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import pytest

from retouch.core.errors import REGISTRY
from retouch.core.settings import Settings
from retouch.idempotency import (
    IdempotencyKey,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyRepository,
    KeyClaim,
    complete,
    purge_expired_keys,
    request_hash,
    run_once,
)
from tests.fakes import InMemoryDatabase
from tests.fakes.idempotency import FakeIdempotencyRepository

OPERATION = "things_grant"
LEASE_S, TTL_S = 60, 3600
SETTINGS = Settings.model_validate(
    {
        "db_host": "127.0.0.1",
        "db_user": "unit",
        "db_name": "unit",
        "redis_url": "redis://127.0.0.1:9/0",
        "idempotency_lease_s": LEASE_S,
        "idempotency_ttl_s": TTL_S,
    }
)


class LedgerPort(Protocol):
    def add(self, amount: int) -> None: ...


class FakeLedger:
    def __init__(self) -> None:
        self.entries: list[int] = []

    def add(self, amount: int) -> None:
        self.entries.append(amount)


@dataclass
class World:
    """A use case that spends (adds a ledger entry) behind an Idempotency-Key."""

    keys: FakeIdempotencyRepository = field(default_factory=FakeIdempotencyRepository)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    now: datetime = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)

    def __post_init__(self) -> None:
        self.database = InMemoryDatabase(
            {IdempotencyRepository: self.keys, LedgerPort: self.ledger}
        )

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def grant(
        self,
        key: str | None,
        amount: int = 5,
        *,
        user_id: int = 1,
        operation: str = OPERATION,
        before: Callable[[], None] = lambda: None,
        fail: bool = False,
    ) -> Any:
        def run(claim: KeyClaim | None) -> dict[str, int]:
            before()
            with self.database.unit_of_work() as uow:
                uow.repository(LedgerPort).add(amount)
                if fail:
                    raise RuntimeError("the use case failed")
                response = {"amount": amount, "entries": len(self.ledger.entries)}
                complete(uow, claim, status=201, body=json.dumps(response))
                uow.commit()
            return response

        scoped = IdempotencyKey.sent(user_id=user_id, operation=operation, header=key)
        return run_once(
            database=self.database,
            settings=SETTINGS,
            key=scoped,
            body={"amount": amount},
            run=run,
            replay=json.loads,
            clock=self.clock,
        )

    def hold(self, key: str, amount: int = 5, *, since: datetime) -> None:
        """An in-flight claim on `key` by a request started at `since` that never finished."""
        claim = KeyClaim(
            key=IdempotencyKey(1, OPERATION, key),
            request_hash=request_hash({"amount": amount}),
            token="f" * 32,
            now=since,
            lease_until=since + timedelta(seconds=LEASE_S),
            expires_at=since + timedelta(seconds=TTL_S),
        )
        assert self.keys.insert(claim)


@pytest.fixture
def world() -> World:
    return World()


def test_the_first_request_with_a_key_runs_and_stores_its_response(world: World) -> None:
    answer = world.grant("key-1")

    assert answer == {"amount": 5, "entries": 1}
    assert world.ledger.entries == [5]
    stored = world.keys.find(IdempotencyKey(1, OPERATION, "key-1"))
    assert stored is not None and stored.response is not None
    assert (stored.response.status, json.loads(stored.response.body)) == (201, answer)


def test_the_same_key_and_body_again_answer_the_first_response_without_running(
    world: World,
) -> None:
    first = world.grant("key-1")
    again = world.grant("key-1")

    assert again == first
    assert world.ledger.entries == [5]


def test_the_same_key_with_another_body_is_reused_and_runs_nothing(world: World) -> None:
    world.grant("key-1", amount=5)

    with pytest.raises(IdempotencyKeyReused):
        world.grant("key-1", amount=6)
    assert world.ledger.entries == [5]


def test_the_key_while_its_first_request_runs_is_in_use(world: World) -> None:
    world.hold("key-1", since=world.now)

    with pytest.raises(IdempotencyKeyInUse):
        world.grant("key-1")
    assert world.ledger.entries == []


def test_a_key_whose_request_died_is_taken_over_after_its_lease(world: World) -> None:
    world.hold("key-1", since=world.now)
    world.advance(LEASE_S)

    assert world.grant("key-1") == {"amount": 5, "entries": 1}


def test_a_dead_lease_is_not_taken_over_with_another_body(world: World) -> None:
    world.hold("key-1", amount=5, since=world.now)
    world.advance(LEASE_S)

    with pytest.raises(IdempotencyKeyReused):
        world.grant("key-1", amount=6)
    assert world.ledger.entries == []


def test_an_expired_key_is_used_afresh_even_with_another_body(world: World) -> None:
    world.grant("key-1", amount=5)
    world.advance(TTL_S)

    assert world.grant("key-1", amount=6) == {"amount": 6, "entries": 2}
    assert world.ledger.entries == [5, 6]


def test_a_failed_request_releases_its_key_for_a_corrected_retry(world: World) -> None:
    with pytest.raises(RuntimeError):
        world.grant("key-1", fail=True)
    assert world.keys.rows == {}

    assert world.grant("key-1") == {"amount": 5, "entries": 1}


def test_completing_after_losing_the_claim_is_in_use_and_undoes_the_work(world: World) -> None:
    # GIVEN a request whose lease runs out before it works, and a twin that takes the key over
    def lease_lost_to_a_twin() -> None:
        world.advance(LEASE_S)
        world.grant("key-1")

    # WHEN the first request finishes its work
    with pytest.raises(IdempotencyKeyInUse):
        world.grant("key-1", before=lease_lost_to_a_twin)

    # THEN only the twin's work stands, and the key keeps the twin's response
    assert world.ledger.entries == [5]
    assert world.grant("key-1") == {"amount": 5, "entries": 1}


@pytest.mark.parametrize("value", ["", "has spaces", "x" * 256, "ключ", "tab\there"])
def test_a_malformed_key_is_invalid_and_claims_nothing(world: World, value: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid) as raised:
        world.grant(value)

    assert raised.value.error_code.code == "VALIDATION_FAILED"
    assert [error.field for error in raised.value.errors] == ["header.idempotency-key"]
    assert (world.keys.rows, world.ledger.entries) == ({}, [])


def test_keys_are_scoped_per_user_and_per_operation(world: World) -> None:
    world.grant("same", amount=5)
    world.grant("same", amount=6, user_id=2)
    world.grant("same", amount=7, operation="other_operation")

    assert world.ledger.entries == [5, 6, 7]


def test_without_a_key_every_request_runs(world: World) -> None:
    world.grant(None)
    world.grant(None)

    assert (world.ledger.entries, world.keys.rows) == ([5, 5], {})


def test_the_body_hash_ignores_key_order_and_spacing() -> None:
    assert request_hash({"a": 1, "b": "x"}) == request_hash({"b": "x", "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})


def test_purge_deletes_expired_keys_oldest_first_up_to_the_limit(world: World) -> None:
    for index in range(3):
        world.grant(f"old-{index}")
        world.advance(1)
    world.advance(TTL_S)
    world.grant("fresh")

    purged = purge_expired_keys(database=world.database, limit=2, clock=world.clock)

    assert purged == 2
    assert sorted(key.value for key in world.keys.rows) == ["fresh", "old-2"]
    assert purge_expired_keys(database=world.database, limit=10, clock=world.clock) == 1


def test_the_errors_carry_their_registry_codes() -> None:
    in_use, reused = IdempotencyKeyInUse(operation=OPERATION), IdempotencyKeyReused(operation="x")

    assert (in_use.error_code.code, in_use.error_code.status) == ("IDEMPOTENCY_KEY_IN_USE", 409)
    assert (reused.error_code.code, reused.error_code.status) == ("IDEMPOTENCY_KEY_REUSED", 422)
    assert REGISTRY["VALIDATION_FAILED"].status == 422
    assert in_use.context == {"operation": OPERATION}
