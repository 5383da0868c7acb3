"""Provider health for operators against real MariaDB and Redis: the engine counts each vendor
job's end with its latency, and `GET /v1/admin/providers/health` shows the window's figures
with the breaker and the slots as they are now."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.core.redis import get_redis
from retouch.providers.guards import BreakerConfig, ProviderGuards
from retouch.providers.port import ProviderRetryable
from tests.conftest import Stack
from tests.integration.catalog_api_support import catalog_app
from tests.integration.engine_support import Run
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import PNG, ScriptedProvider
from tests.integration.task_support import tasks_app

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(stack: Stack) -> Iterator[TestClient]:
    with TestClient(catalog_app()) as client:
        yield client


@pytest.fixture
def tasks(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as client:
        yield client


def health(admin: TestClient, key: str) -> dict[str, Any]:
    _, operator = new_account("operator")
    response = admin.get("/v1/admin/providers/health", headers=operator)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = next(i for i in response.json()["items"] if i["key"] == key)
    return item


def new_provider(admin: TestClient) -> str:
    key = f"p_{secrets.token_hex(4)}"
    _, administrator = new_account("admin")
    body = {"kind": "simulator", "concurrency_limit": 3}
    response = admin.put(f"/v1/admin/providers/{key}", json=body, headers=administrator)
    assert response.status_code == 200, response.text
    return key


def test_a_new_provider_has_no_figures(admin: TestClient) -> None:
    key = new_provider(admin)

    item = health(admin, key)

    assert item == {
        "key": key,
        "kind": "simulator",
        "enabled": True,
        "window_s": 900,
        "succeeded": 0,
        "failed": 0,
        "success_rate": None,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "breaker": "closed",
        "recent_failures": 0,
        "slots_in_use": 0,
        "concurrency_limit": 3,
    }


def test_recorded_jobs_breaker_and_slots_show_in_the_health(admin: TestClient) -> None:
    key = new_provider(admin)
    guards = ProviderGuards(get_redis())
    for latency in (100.0, 200.0, 300.0, 400.0):
        guards.record(key, ok=True, latency_ms=latency)
    guards.record(key, ok=False)
    guards.failed(key)
    assert guards.take_slot(key, "job-1", limit=3, hold_s=60) == "taken"
    get_redis().set(f"breaker:{{{key}}}:open", "1", px=60_000)

    item = health(admin, key)

    assert (item["succeeded"], item["failed"], item["success_rate"]) == (4, 1, 0.8)
    assert (item["latency_p50_ms"], item["latency_p95_ms"]) == (200.0, 400.0)
    assert (item["breaker"], item["recent_failures"], item["slots_in_use"]) == ("open", 1, 1)


def test_latency_samples_older_than_the_window_are_left_out(admin: TestClient) -> None:
    key = new_provider(admin)
    old = time.time() - 901
    get_redis().lpush(f"health:{{{key}}}:latency", f"{old:.3f}:9999.0")
    ProviderGuards(get_redis()).record(key, ok=True, latency_ms=50.0)

    item = health(admin, key)

    assert (item["latency_p50_ms"], item["latency_p95_ms"]) == (50.0, 50.0)


def test_the_engine_counts_a_vendor_failure_and_a_success_with_its_latency(
    admin: TestClient, tasks: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = health(admin, "tencent")
    provider = ScriptedProvider("tencent", [ProviderRetryable("5xx"), "pending", PNG])

    assert Run(tasks, tmp_path, provider).run()["status"] == "succeeded"

    after = health(admin, "tencent")
    assert after["succeeded"] - before["succeeded"] == 1
    assert after["failed"] - before["failed"] == 1
    assert after["latency_p50_ms"] is not None and after["latency_p50_ms"] >= 0
    # and the same figures went out as EMF metrics
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    jobs = [m for m in emitted if "ProviderJobs" in m and m.get("provider") == "tencent"]
    assert sorted(m["outcome"] for m in jobs) == ["failed", "succeeded"]
    assert any("ProviderLatency" in m and m.get("provider") == "tencent" for m in emitted)


def test_a_result_that_is_not_an_image_counts_against_its_vendor(
    admin: TestClient, tasks: TestClient, tmp_path: Path
) -> None:
    before = {key: health(admin, key) for key in ("tencent", "runninghub")}
    garbage = ScriptedProvider("tencent", [b"<html>not an image</html>"])
    backup = ScriptedProvider("runninghub", [PNG])

    assert Run(tasks, tmp_path, garbage, backup).run()["status"] == "succeeded"

    after = {key: health(admin, key) for key in ("tencent", "runninghub")}
    assert after["tencent"]["failed"] - before["tencent"]["failed"] == 1
    assert after["tencent"]["succeeded"] == before["tencent"]["succeeded"]
    assert after["runninghub"]["succeeded"] - before["runninghub"]["succeeded"] == 1


def test_the_breaker_opening_is_a_metric(
    admin: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_provider(admin)
    guards = ProviderGuards(get_redis(), BreakerConfig(threshold=2))

    opened = [guards.failed(key), guards.failed(key)]

    assert opened == [False, True]
    assert health(admin, key)["breaker"] == "open"
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    # by provider, and once more without it: the rollup template.yaml's alarm watches
    assert [m.get("provider") for m in emitted if "ProviderBreakerOpened" in m] == [key, None]
