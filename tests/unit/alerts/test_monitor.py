"""The monitor's rules over in-memory fakes: an alert fires once, stays quiet through its
cooldown, repeats after it, recovers once; a failing notifier keeps its message owed for the
next run without stopping the other channels or rules; an input that cannot be read changes
nothing; two runs racing on one state notify once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from retouch.alerts.inputs import InputUnavailable, Observation
from retouch.alerts.monitor import MonitorRun, deliver, evaluate, run_monitor
from retouch.alerts.repository import AlertRepository
from retouch.alerts.rules import AlertRule, RuleSet
from retouch.alerts.service import load_alert_seed, save_rules
from retouch.alerts.state import decide
from retouch.notify.messages import AlertMessage, NotifierError
from tests.fakes import InMemoryDatabase
from tests.fakes.alerts import FakeAlertRepository

T0 = datetime(2026, 12, 5, 22, 0, tzinfo=timezone.utc)
BREAKER = AlertRule(
    key="provider_breaker",
    kind="provider_breaker_open",
    summary_zh="供应商熔断已打开",
    summary_en="Provider breaker open",
    threshold=1,
    cooldown_s=600,
    channels=("dingtalk", "email"),
)
DB_DOWN = AlertRule(
    key="db_down", kind="db_down", summary_zh="数据库不可用", summary_en="DB down", threshold=1
)


@dataclass
class Inputs:
    seen: dict[str, dict[str, Observation]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)

    def observe(self, kind: str, *, window_s: int, now: datetime) -> dict[str, Observation]:
        if kind in self.broken:
            raise InputUnavailable(f"{kind}: RedisError")
        return self.seen.get(kind, {})


@dataclass
class Notifier:
    channel: str
    failing: bool = False
    sent: list[AlertMessage] = field(default_factory=list)

    def send(self, message: AlertMessage) -> None:
        if self.failing:
            raise NotifierError(f"{self.channel}: HTTP 502 from example.test")
        self.sent.append(message)


@pytest.fixture
def world() -> tuple[InMemoryDatabase, FakeAlertRepository]:
    repository = FakeAlertRepository()
    database = InMemoryDatabase({AlertRepository: repository})
    load_alert_seed(database=database, seed=RuleSet(rules=[BREAKER, DB_DOWN]))
    return database, repository


def monitor(
    database: InMemoryDatabase, inputs: Inputs, notifiers: list[Notifier], at: datetime
) -> dict[str, int]:
    run = MonitorRun(
        inputs=inputs, notifiers={n.channel: n for n in notifiers}, now=at, language="en"
    )
    return run_monitor(database, run)


def phases(notifier: Notifier) -> list[tuple[str, str]]:
    return [(m.phase, m.subject) for m in notifier.sent]


def test_fires_once_stays_quiet_in_the_cooldown_repeats_then_recovers(world) -> None:
    database, _ = world
    dingtalk, email = Notifier("dingtalk"), Notifier("email")
    inputs = Inputs({"provider_breaker_open": {"simulator": Observation(1.0)}})

    monitor(database, inputs, [dingtalk, email], T0)
    for minute in range(1, 10):  # within the 600 s cooldown
        monitor(database, inputs, [dingtalk, email], T0 + timedelta(minutes=minute))
    assert phases(dingtalk) == phases(email) == [("firing", "simulator")]

    monitor(database, inputs, [dingtalk, email], T0 + timedelta(minutes=10))
    assert phases(dingtalk)[-1] == ("repeat", "simulator")

    inputs.seen = {}
    monitor(database, inputs, [dingtalk, email], T0 + timedelta(minutes=11))
    monitor(database, inputs, [dingtalk, email], T0 + timedelta(minutes=12))
    assert phases(dingtalk) == [
        ("firing", "simulator"),
        ("repeat", "simulator"),
        ("resolved", "simulator"),
    ]
    assert dingtalk.sent[0].title == "[ALERT] Provider breaker open · simulator"


def test_a_failing_notifier_keeps_its_message_owed_and_blocks_nothing(world) -> None:
    database, repository = world
    dingtalk, email = Notifier("dingtalk", failing=True), Notifier("email")
    inputs = Inputs(
        {
            "provider_breaker_open": {"simulator": Observation(1.0)},
            "db_down": {"": Observation(1.0)},
        }
    )

    report = monitor(database, inputs, [dingtalk, email], T0)

    assert report["failed"] == 2  # dingtalk, for both rules
    assert sorted(m.rule for m in email.sent) == ["db_down", "provider_breaker"]
    assert repository.rows[("provider_breaker", "simulator")].pending == ("dingtalk",)

    dingtalk.failing = False
    monitor(database, inputs, [dingtalk, email], T0 + timedelta(minutes=1))
    assert sorted((m.rule, m.phase) for m in dingtalk.sent) == [
        ("db_down", "firing"),
        ("provider_breaker", "firing"),
    ]
    assert len(email.sent) == 2  # what email received is not sent twice
    assert all(not row.pending for row in repository.rows.values())


def test_an_unreadable_input_changes_nothing_and_the_other_rules_run(world) -> None:
    database, repository = world
    email = Notifier("email")
    inputs = Inputs({"provider_breaker_open": {"simulator": Observation(1.0)}})
    monitor(database, inputs, [email], T0)

    inputs.broken = {"provider_breaker_open"}
    inputs.seen["db_down"] = {"": Observation(1.0)}
    monitor(database, inputs, [email], T0 + timedelta(minutes=1))

    assert repository.rows[("provider_breaker", "simulator")].status == "firing"  # not "recovered"
    assert [(m.rule, m.phase) for m in email.sent] == [
        ("provider_breaker", "firing"),
        ("db_down", "firing"),
    ]


def test_an_episode_nobody_heard_of_recovers_quietly(world) -> None:
    database, _ = world
    email = Notifier("email", failing=True)
    inputs = Inputs({"db_down": {"": Observation(1.0)}})
    monitor(database, inputs, [email], T0)
    inputs.seen, email.failing = {}, False
    monitor(database, inputs, [email], T0 + timedelta(minutes=1))
    assert email.sent == []


def test_two_runs_on_one_state_record_and_notify_once(world) -> None:
    database, repository = world
    email = Notifier("email")
    # Both runs read "no state" before either wrote: each decides to fire.
    decisions = [
        decide(None, DB_DOWN, subject="", firing=True, value=1.0, now=T0 + timedelta(seconds=n))
        for n in range(2)
    ]
    with database.unit_of_work() as uow:
        saved = [uow.repository(AlertRepository).save_state(d) for d in decisions]
        uow.commit()
    assert saved == [True, False]

    runs = [
        MonitorRun(inputs=Inputs(), notifiers={"email": email}, now=T0 + timedelta(seconds=n))
        for n in range(2)
    ]
    for run in runs:
        deliver(database, run, {"db_down": DB_DOWN})
    assert len(email.sent) == 1
    assert repository.rows[("db_down", "")].pending == ()


def test_a_claimed_message_is_left_to_its_run_until_the_claim_ends(world) -> None:
    database, repository = world
    email = Notifier("email")
    evaluate(
        database,
        MonitorRun(inputs=Inputs({"db_down": {"": Observation(1.0)}}), notifiers={}, now=T0),
        [DB_DOWN],
    )
    row = repository.rows[("db_down", "")]
    repository.rows[("db_down", "")] = row.__class__(
        **{**_fields(row), "claimed_until": T0 + timedelta(seconds=120)}
    )

    deliver(
        database,
        MonitorRun(inputs=Inputs(), notifiers={"email": email}, now=T0 + timedelta(seconds=60)),
        {"db_down": DB_DOWN},
    )
    assert email.sent == []
    deliver(
        database,
        MonitorRun(inputs=Inputs(), notifiers={"email": email}, now=T0 + timedelta(seconds=121)),
        {"db_down": DB_DOWN},
    )
    assert len(email.sent) == 1


def _fields(row: object) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}  # type: ignore[attr-defined]


def test_the_seed_never_overwrites_an_admin_edit(world) -> None:
    database, repository = world
    edited = RuleSet(rules=[BREAKER.model_copy(update={"threshold": 2})])
    assert save_rules(database=database, rules=edited, expected_version=1, by=7)
    assert not save_rules(database=database, rules=edited, expected_version=1, by=8)  # stale

    load_alert_seed(database=database, seed=RuleSet(rules=[BREAKER]))
    assert repository.latest_rules()[0] == 2


def test_rule_keys_are_unique() -> None:
    with pytest.raises(ValueError, match="unique: db_down"):
        RuleSet(rules=[DB_DOWN, DB_DOWN])
