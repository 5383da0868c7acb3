"""The simulator's rules without a server: which URLs it may request, its seeded plans, and
its command line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scripts.simulator.jobs import Plan, SimulatorConfig, url_allowed
from scripts.simulator.service import parse_arguments


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/_storage/uploads/a",
        "https://127.8.9.10/x",
        "http://localhost:9000/x",
        "http://[::1]:9000/x",
        "http://images.test/x",
    ],
)
def test_loopback_and_allowed_hosts_may_be_fetched(url: str) -> None:
    assert url_allowed(url, frozenset({"images.test"}))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/x",
        "http://192.168.1.1/x",
        "http://example.com/x",
        "http://127.0.0.1@example.com/x",
        "http://localhost.example.com/x",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "http:///x",
        "not a url",
    ],
)
def test_other_urls_are_never_fetched(url: str) -> None:
    assert not url_allowed(url, frozenset({"images.test"}))


def test_a_plan_depends_on_the_seed_and_the_client_token_only() -> None:
    config = SimulatorConfig(latency_ms=(0, 1000), error_rate=0.5, hang_rate=0.5, seed=7)
    tokens = [f"task-{index}:1" for index in range(50)]

    first = [Plan.draw(config, token) for token in tokens]
    again = [Plan.draw(config, token) for token in tokens]
    reseeded = [Plan.draw(replace(config, seed=8), token) for token in tokens]

    assert first == again
    assert first != reseeded
    assert 5 < sum(plan.fails for plan in first) < 45
    assert all(0 <= plan.latency_s <= 1 for plan in first)


def test_the_command_line_sets_every_knob() -> None:
    arguments, config = parse_arguments(
        [
            "--port", "8700", "--latency-ms", "200..2000", "--error-rate", "0.3",
            "--hang-rate", "0.1", "--burst-429", "30:5", "--concurrency", "2",
            "--callback-secret", "s", "--seed", "9", "--allow-host", "Images.Test",
            "--result-ttl-s", "60", "--poll-error-rate", "0.05", "--api-key", "k",
        ]
    )  # fmt: skip

    assert arguments.port == 8700
    assert config == SimulatorConfig(
        latency_ms=(200, 2000),
        error_rate=0.3,
        hang_rate=0.1,
        poll_error_rate=0.05,
        burst_every_s=30,
        burst_for_s=5,
        concurrency=2,
        result_ttl_s=60,
        callback_secret="s",
        api_key="k",
        allow_hosts=frozenset({"images.test"}),
        seed=9,
    )


def test_a_latency_range_must_be_ordered() -> None:
    with pytest.raises(SystemExit):
        parse_arguments(["--port", "1", "--latency-ms", "500..100"])
