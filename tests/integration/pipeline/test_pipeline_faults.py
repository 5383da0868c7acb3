"""Fault test: the engine against a misbehaving vendor. A real simulator (30 % of jobs fail,
10 % hang, 429 bursts, three jobs at a time) is the first provider of the chain `[simulator,
local]`; it fetches our inputs over HTTP from a local storage served on loopback, and its
results come from the `local` algorithms. Real MariaDB, Redis, `prepare` normalisation and
`store` fetching; the queue is in memory with its delays kept on a clock that skips what
nobody need wait through (see `pipeline_support.run_scheduled`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from retouch.catalog.repository import MySQLFeatureRepository, MySQLProviderRepository
from retouch.catalog.schemas import ProviderRead, ProviderWrite
from retouch.catalog.service import add_pipeline_version
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.images import normalize
from retouch.images.inspection import inspect_image
from retouch.pipeline.fetch import fetch_result
from retouch.pipeline.sources import ConfiguredProviders
from retouch.providers.local.provider import LocalProvider
from retouch.providers.port import (
    CallbackEvent,
    JobInput,
    JobStatus,
    Provider,
    ProviderError,
    Submitted,
)
from retouch.providers.simulator import SimulatorProvider, Timeouts
from retouch.storage import LocalStorage, upload_key
from scripts.local.servers import serving_app
from scripts.local.storage_gateway import storage_routes
from scripts.simulator.jobs import Plan
from scripts.simulator.service import SimulatorConfig, running_simulator
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    FastClock,
    ScheduledQueue,
    local_storage,
    make_engine,
    product_picture,
    run_scheduled,
    task_steps,
)
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import new_upload, quota, tasks_app, user_internal_id
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

Answer = TypeVar("Answer")

KEY, SECRET = "fault-test-key", "fault-test-callback-secret"
COST = 4  # cutout's, in the seed
USERS, TASKS_PER_USER = 5, 9  # 45 tasks, one per user with an input no provider accepts
STEPS: list[dict[str, Any]] = [
    {"step": "prepare"},
    {"step": "generate", "providers": ["simulator", "local"], "timeout_s": 5, "retries": 1},
    {"step": "store"},
]
VENDOR = SimulatorConfig(
    latency_ms=(0, 100),
    error_rate=0.3,
    hang_rate=0.1,
    burst_every_s=1.0,  # 429 RATE_LIMITED for the first 0.25 s of every second
    burst_for_s=0.25,
    concurrency=3,  # below our own limit (4), so the vendor's CONCURRENCY_LIMIT shows too
    api_key=KEY,
    callback_secret=SECRET,
)
ARRIVAL_S = 0.4  # between two tasks' first messages, as traffic arrives
TOO_SMALL = png(12, 12)  # decodes, but every algorithm refuses a side under 16 px


class RecordingProvider:
    """The simulator's adapter as it is, keeping the errors its submits and polls raised."""

    key = "simulator"

    def __init__(self, inner: SimulatorProvider) -> None:
        self.inner = inner
        self.result_hosts = inner.result_hosts
        self.errors: list[str] = []

    def submit(self, job: JobInput) -> Submitted:
        return self._recorded(lambda: self.inner.submit(job))

    def poll(self, handle: str) -> JobStatus:
        return self._recorded(lambda: self.inner.poll(handle))

    def _recorded(self, call: Callable[[], Answer]) -> Answer:
        try:
            return call()
        except ProviderError as error:
            self.errors.append(error.detail)
            raise

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        return self.inner.parse_callback(headers, body)

    def cancel(self, handle: str) -> None:
        self.inner.cancel(handle)


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture
def clean_guards(stack: Stack) -> Iterator[None]:
    keys = [
        key
        for provider in ("simulator", "local")
        for key in (f"breaker:{{{provider}}}:open", f"breaker:{{{provider}}}:failures")
    ]
    keys += ["slots:{simulator}", "slots:{local}"]
    get_redis().delete(*keys)
    yield
    get_redis().delete(*keys)


@pytest.fixture
def enable_simulator(stack: Stack) -> Iterator[Callable[[str], None]]:
    """Enables the seed's `simulator` row at an endpoint; the row is put back afterwards."""
    with get_database().unit_of_work() as uow:
        seeded = MySQLProviderRepository(uow).get("simulator")
    assert seeded is not None

    def save(provider: ProviderRead | ProviderWrite) -> None:
        with get_database().unit_of_work() as uow:
            MySQLProviderRepository(uow).upsert(provider)
            uow.commit()

    def enable(endpoint: str) -> None:
        save(
            seeded.model_copy(
                update={"endpoint": endpoint, "enabled": True, "concurrency_limit": 4}
            )
        )

    yield enable
    save(seeded)


@pytest.fixture
def cutout_on_the_simulator(stack: Stack) -> Iterator[str]:
    """Cutout's current pipeline becomes STEPS; the seeded version is current again after."""
    database = get_database()
    with database.read_only() as uow:
        feature = MySQLFeatureRepository(uow).get("cutout")
    assert feature is not None and feature.pipeline_version is not None
    add_pipeline_version(
        database=database, feature_key="cutout", steps=STEPS, created_by=None, make_current=True
    )
    yield "cutout"
    with database.unit_of_work() as uow:
        MySQLFeatureRepository(uow).set_current(
            "cutout", kind="pipeline", version=feature.pipeline_version
        )
        uow.commit()


@pytest.fixture(scope="module")
def picture() -> bytes:
    return product_picture()


@dataclass
class Customer:
    """A user with their tasks; the first one's input is too small for any provider."""

    user: dict[str, Any]
    headers: dict[str, str]
    before: dict[str, int]
    tasks: list[str] = field(default_factory=list)


def order_tasks(
    client: TestClient, storage: LocalStorage, feature: str, picture: bytes
) -> list[Customer]:
    customers = []
    for _ in range(USERS):
        user, headers = new_account()
        customer = Customer(user, headers, quota(user["id"]))
        for n in range(TASKS_PER_USER):
            upload = new_upload(user["id"])
            key = upload_key(user_id=user["id"], upload_id=upload)
            storage.put(key, TOO_SMALL if n == 0 else picture, "image/png")
            created = client.post(
                "/v1/tasks", json={"feature": feature, "inputs": {"image": upload}}, headers=headers
            )
            assert created.status_code == 202, created.text
            customer.tasks.append(created.json()["id"])
        customers.append(customer)
    return customers


def seed_with_faults(task_ids: list[str]) -> int:
    """A simulator seed under which the first jobs include hangs and failures: a job's plan is
    drawn from the seed and its client token, which the engine makes `<task>:<step index>:
    <chain position>:<attempt>`. Three of the first eight tasks' jobs hang and two fail (a
    first attempt refused by a 429 burst gets another token), and a few more hang later."""
    tokens = [f"{task_id}:1:0:0" for task_id in task_ids]
    for seed in range(100_000):
        plans = [Plan.draw(replace(VENDOR, seed=seed), token) for token in tokens]
        first = plans[:8]
        if (
            sum(plan.hangs for plan in first) >= 3
            and sum(plan.fails and not plan.hangs for plan in first) >= 2
            and sum(plan.hangs for plan in plans) >= 5
        ):
            return seed
    raise AssertionError("no seed gives the faults")


def generate_step(task_id: str) -> dict[str, Any]:
    (step,) = [step for step in task_steps(task_id) if step["step"] == "generate"]
    return {"provider": step["provider_key"], "fallbacks": json.loads(step["fallbacks"] or "[]")}


def test_a_faulty_vendor_first_in_the_chain_ends_every_task_cleanly_with_exact_credits(
    client: TestClient,
    tmp_path: Path,
    picture: bytes,
    clean_guards: None,
    enable_simulator: Callable[[str], None],
    cutout_on_the_simulator: str,
) -> None:
    # GIVEN cutout with the chain [simulator, local], and 45 tasks of five users
    storage = local_storage(tmp_path)
    customers = order_tasks(client, storage, cutout_on_the_simulator, picture)
    task_ids = [task for customer in customers for task in customer.tasks]
    recorders: list[RecordingProvider] = []

    def simulator_provider(config: ProviderRead) -> Provider:
        timeouts = Timeouts(connect_s=1, read_s=2)
        recorders.append(
            RecordingProvider(SimulatorProvider(str(config.endpoint), KEY, SECRET, timeouts))
        )
        return recorders[-1]

    # WHEN the engine runs them against the faulty simulator, which fetches our inputs
    with (
        serving_app(Starlette(routes=storage_routes(storage))) as storage_url,
        running_simulator(replace(VENDOR, seed=seed_with_faults(task_ids))) as simulator,
    ):
        storage.base_url = f"{storage_url}/_storage"  # known once the server has its port
        enable_simulator(simulator.url)
        clock = FastClock()
        queue = ScheduledQueue(clock)
        providers = ConfiguredProviders(
            get_database(),
            {"simulator": simulator_provider, "local": lambda _config: LocalProvider()},
        )
        engine = make_engine(
            tmp_path, providers, queue, normalize=normalize, storage=storage,
            fetch=fetch_result, clock=clock,
        )  # fmt: skip
        for n, task_id in enumerate(task_ids):  # they arrive ARRIVAL_S apart
            body = {"task_id": task_id, "step": "prepare", "attempt": 1}
            queue.publish("steps-prepare", body, delay_s=n * ARRIVAL_S)
        # a fifth of each wait passes in real time, so the vendor's real jobs keep pace
        run_scheduled(engine, queue, real_share=0.2)
        jobs = list(simulator.book.jobs.values())

    # THEN the faults happened: failed jobs, hung jobs (canceled at the step deadline), 429s
    errors = [error for recorder in recorders for error in recorder.errors]
    assert any(job.error and job.error["code"] == "INTERNAL" for job in jobs)
    assert any(job.plan.hangs and job.status == "canceled" for job in jobs)
    assert any("RATE_LIMITED" in error for error in errors), errors
    # no vendor job is left running, no concurrency slot left held
    assert [job.job_id for job in jobs if job.status in ("queued", "running")] == []
    assert get_redis().zcard("slots:{simulator}") == 0
    # every task ended: the refused inputs failed, every other task succeeded
    tasks = {
        task_id: client.get(f"/v1/tasks/{task_id}", headers=customer.headers).json()
        for customer in customers
        for task_id in customer.tasks
    }
    for customer in customers:
        refused, *good = customer.tasks
        assert (tasks[refused]["status"], tasks[refused]["error"]["code"]) == (
            "failed",
            "INPUT_UNPROCESSABLE",
        )
        assert [tasks[task_id]["status"] for task_id in good] == ["succeeded"] * len(good)
    # a task the simulator did not serve fell back to `local`, and that is recorded
    served = {
        task_id: generate_step(task_id)
        for task_id in task_ids
        if tasks[task_id]["status"] == "succeeded"
    }
    by_local = [task_id for task_id, step in served.items() if step["provider"] == "local"]
    by_simulator = [task_id for task_id, step in served.items() if step["provider"] == "simulator"]
    assert by_local and by_simulator and len(by_local) + len(by_simulator) == len(served)
    for task_id in by_local:
        assert [f["provider"] for f in served[task_id]["fallbacks"]] == ["simulator"]
    for task_id in by_simulator:
        assert served[task_id]["fallbacks"] == []
    # credits: every failed task refunded, every success charged once
    for customer in customers:
        after = quota(customer.user["id"])
        succeeded = sum(tasks[task_id]["status"] == "succeeded" for task_id in customer.tasks)
        assert after == {"balance": customer.before["balance"] - COST * succeeded, "reserved": 0}
        assert_ledger_matches(get_database(), user_internal_id(customer.user["id"]))
    # outputs: exactly the succeeded tasks', every one a real image
    stored = [path for path in (tmp_path / "outputs").rglob("*") if path.is_file()]
    assert {path.parent.name for path in stored} == set(served)
    for path in stored:
        inspect_image(path.read_bytes())
