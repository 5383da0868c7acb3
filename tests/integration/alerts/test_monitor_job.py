"""The monitor job end to end on the real MariaDB and Redis, with the loopback sinks of
`scripts/local/alert_sinks.py` as DingTalk, WeCom and the SMTP server: a simulator at 100 %
errors opens the provider's breaker through the guards the engine uses → within two monitor
runs a signed DingTalk markdown message, a WeCom message and an email arrive; nothing more
while it keeps firing inside the cooldown; a recovery message once the simulator is fixed;
two concurrent runs notify once; a notifier outage is made up by the next run."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from retouch.alerts.job import monitor_once
from retouch.alerts.rules import AlertRule
from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.providers.guards import BreakerConfig, ProviderGuards
from retouch.providers.simulator import SimulatorProvider, Timeouts
from scripts.local.alert_sinks import MailSink, WebhookSink, alert_env, smtp_sink, webhook_sink
from scripts.local.lambda_runtime import load_function
from scripts.local.servers import free_port
from scripts.simulator.service import SimulatorConfig, running_simulator
from tests.conftest import Stack
from tests.integration.alerts.alerts_support import only_rules
from tests.integration.providers.test_simulator import INPUT, KEY, SECRET, job
from tests.integration.simulator_support import Recorder, Renderer, image_host, wait_for_end

pytestmark = pytest.mark.integration

SIGNING = "SEC-local-robot-secret-0123456789abcdef"
PROVIDER = "simulator"
RULE = AlertRule(
    key="provider_breaker",
    kind="provider_breaker_open",
    summary_zh="供应商熔断已打开",
    summary_en="Provider breaker open",
    threshold=1,
    cooldown_s=600,
    severity="critical",
)


@dataclass
class Sinks:
    webhooks: WebhookSink
    mail: MailSink


@pytest.fixture
def sinks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sinks]:
    with webhook_sink(SIGNING) as webhooks, smtp_sink() as mail:
        for name, value in alert_env(webhooks, mail).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RETOUCH_ALERTS_LANGUAGE", "en")
        reset_clients()
        only_rules(RULE)
        get_redis().delete(f"breaker:{{{PROVIDER}}}:open", f"breaker:{{{PROVIDER}}}:failures")
        yield Sinks(webhooks, mail)


@pytest.fixture
def images() -> Iterator[Recorder]:
    with image_host({"photo.png": INPUT}) as host:
        yield host


def run_jobs(images: Recorder, *, error_rate: float, count: int) -> None:
    """`count` jobs on a simulator failing `error_rate` of them, each outcome reported to the
    guards as the `generate` step does (a breaker that opens after 3 failures, for 120 s:
    the tests end it themselves, so a slow machine cannot)."""
    guards = ProviderGuards(get_redis(), BreakerConfig(threshold=3, window_s=60, cooldown_s=120))
    config = SimulatorConfig(api_key=KEY, callback_secret=SECRET, error_rate=error_rate)
    with running_simulator(config, Renderer()) as running:
        provider = SimulatorProvider(running.url, KEY, SECRET, Timeouts(connect_s=1, read_s=2))
        try:
            for n in range(count):
                handle = provider.submit(job(images, attempt=f"alert-{error_rate}-{n}")).handle
                ok = wait_for_end(provider, handle).state == "succeeded"
                guards.record(PROVIDER, ok=ok)
                if ok:
                    guards.succeeded(PROVIDER)
                else:
                    guards.failed(PROVIDER)
        finally:
            provider.close()


def at(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


def titles(sinks: Sinks) -> dict[str, list[str]]:
    return {
        "dingtalk": [m["markdown"]["title"] for m in sinks.webhooks.of("dingtalk")],
        "wecom": [m["markdown"]["content"].splitlines()[0] for m in sinks.webhooks.of("wecom")],
        "email": [str(m["Subject"]) for m in sinks.mail.messages],
    }


def test_a_failing_provider_alerts_once_then_recovers(sinks: Sinks, images: Recorder) -> None:
    handler = load_function("functions/jobs/monitor/app.py").handler
    assert handler({}, None)["sent"] == 0  # healthy: nothing to say

    run_jobs(images, error_rate=1.0, count=3)
    first = handler({}, None)  # the deployed entry point, as the schedule calls it
    assert first["sent"] == 3
    firing = "[ALERT] Provider breaker open · simulator"
    assert titles(sinks) == {"dingtalk": [firing], "wecom": ["### " + firing], "email": [firing]}
    assert sinks.webhooks.refused == []  # DingTalk's signature check passed

    (message,) = sinks.webhooks.of("dingtalk")
    assert message["msgtype"] == "markdown" and set(message["markdown"]) == {"title", "text"}
    (email,) = sinks.mail.messages
    assert email["To"] == "ops@retouch.local" and "Subject: simulator" in email.get_content()

    # Still firing (the failures go on) inside the cooldown: nothing more.
    for minute in (1, 2, 5, 9):
        run_jobs(images, error_rate=1.0, count=3)
        monitor_once(clock=functools.partial(at, minute))
    assert len(sinks.webhooks.of("dingtalk")) == 1 and len(sinks.mail.messages) == 1

    # Fixed: the jobs succeed and the breaker's cooldown ends.
    run_jobs(images, error_rate=0.0, count=2)
    get_redis().delete(f"breaker:{{{PROVIDER}}}:open")  # its cooldown, without the wait
    monitor_once(clock=lambda: at(10))
    monitor_once(clock=lambda: at(11))
    resolved = "[RESOLVED] Provider breaker open · simulator"
    assert titles(sinks)["dingtalk"] == [firing, resolved]
    assert titles(sinks)["email"] == [firing, resolved]


def test_two_concurrent_runs_send_one_message(sinks: Sinks, images: Recorder) -> None:
    run_jobs(images, error_rate=1.0, count=3)
    barrier = threading.Barrier(2)
    reports: list[dict[str, Any]] = []

    def run() -> None:
        barrier.wait()
        reports.append(monitor_once())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 2
    assert len(sinks.webhooks.of("dingtalk")) == 1
    assert len(sinks.mail.messages) == 1
    assert sorted(r["sent"] for r in reports) == [0, 3]


def test_a_notifier_outage_is_made_up_by_the_next_run(sinks: Sinks, images: Recorder) -> None:
    run_jobs(images, error_rate=1.0, count=3)
    sinks.webhooks.failing = True
    report = monitor_once()
    assert report["failed"] == 2 and report["sent"] == 1  # the robots failed, email went
    assert sinks.webhooks.of("dingtalk") == []

    sinks.webhooks.failing = False
    report = monitor_once(clock=lambda: at(1))
    assert report["sent"] == 2
    assert len(sinks.webhooks.of("dingtalk")) == 1 and len(sinks.webhooks.of("wecom")) == 1
    assert len(sinks.mail.messages) == 1  # email is not sent twice


def test_a_wrong_signing_secret_is_refused_and_kept_owed(
    sinks: Sinks, images: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_SECRET_ALERTS_DINGTALK_SIGN", "SEC-not-the-robots-secret")
    reset_clients()
    run_jobs(images, error_rate=1.0, count=3)
    report = monitor_once()
    assert sinks.webhooks.refused == ["dingtalk"]
    assert report["failed"] == 1
    with get_database().read_only() as uow:
        row = uow.fetch_one("SELECT pending, pending_phase FROM alert_states")
    assert row == {"pending": "dingtalk", "pending_phase": "firing"}


def test_with_mysql_down_every_channel_hears_it_once(
    sinks: Sinks, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_redis().delete("alerts:{db_down}:notified")
    monkeypatch.setenv("RETOUCH_DB_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("RETOUCH_DB_CONNECT_TIMEOUT_S", "1")
    reset_clients()

    first, second = monitor_once(), monitor_once()

    assert first == {"database": "down", "sent": 3, "failed": 0}
    assert second == {"database": "down", "sent": 0, "failed": 0}
    assert titles(sinks)["dingtalk"] == ["[ALERT] Database unreachable"]
    assert titles(sinks)["email"] == ["[ALERT] Database unreachable"]
    get_redis().delete("alerts:{db_down}:notified")
