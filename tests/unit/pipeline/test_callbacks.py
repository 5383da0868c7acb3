"""Vendor callbacks over the fakes (issue 13, item 3): a job's callback URL carries a token of
its own, only its digest is kept, and only a callback with it is heard; one job's callbacks
send at most one prompt per interval and keep at most one event id per prompt; a prompt only
polls; and whatever a callback is, nothing it can observe tells it what happened."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest

from retouch.core.time import utc_now
from retouch.pipeline.callbacks import receive_callback
from retouch.pipeline.engine import Engine
from retouch.pipeline.handlers import purge_provider_events
from retouch.pipeline.messages import StepMessage
from retouch.providers.port import ProviderRetryable
from tests.fakes.providers import PENDING, Answer, ScriptedProvider
from tests.unit.task_support import RESULT, Shop

BASE = "https://api.example.test"
INTERVAL_S = 10.0


@dataclass
class Waiting:
    """A task whose `generate` step waits on the vendor's first job, `vendor-job-1`."""

    shop: Shop
    provider: ScriptedProvider
    engine: Engine
    task_id: str

    @property
    def token(self) -> str:
        """The token of the job's callback URL, as the vendor was given it."""
        url = self.provider.jobs[-1].callback_url
        assert url is not None and url.startswith(f"{BASE}/v1/callbacks/vendor/")
        return url.rsplit("/", 1)[1]

    def callback(
        self, *, token: str | None = None, event: str = "e1", job: str = "vendor-job-1"
    ) -> str:
        return receive_callback(
            self.engine,
            provider_key="vendor",
            token=self.token if token is None else token,
            headers={"job": job, "event": event},
            body=b"{}",
            prompt_interval_s=INTERVAL_S,
            clock=self.shop.clock,
        )

    def published_since(self, count: int) -> list[dict[str, object]]:
        return [body for _, body, _ in self.shop.queue.published[count:]]


def waiting(*, polls: tuple[Answer, ...] = (RESULT,)) -> Waiting:
    shop = Shop.open()
    task_id = shop.create().id
    provider = ScriptedProvider("vendor", [PENDING], polls=polls)
    engine = shop.engine(provider, callback_base_url=BASE)
    shop.run_pipeline(engine=engine, at_most=2)  # prepare, then generate submits the job
    return Waiting(shop, provider, engine, task_id)


def test_each_job_gets_its_own_callback_token_and_only_its_digest_is_kept() -> None:
    job = waiting()

    (row,) = (r for r in job.shop.world.steps.rows.values() if r.step == "generate")

    assert len(job.token) >= 43  # secrets.token_urlsafe(32)
    assert row.callback_token_hash == hashlib.sha256(job.token.encode()).hexdigest()
    assert job.token not in repr(row)
    assert waiting().token != job.token


def test_without_a_public_url_a_job_gets_no_callback_url_and_no_token() -> None:
    shop = Shop.open()
    shop.create()
    provider = ScriptedProvider("vendor", [PENDING])

    shop.run_pipeline(engine=shop.engine(provider), at_most=2)

    (row,) = (r for r in shop.world.steps.rows.values() if r.step == "generate")
    assert provider.jobs[0].callback_url is None and row.callback_token_hash is None


def test_a_callback_with_the_jobs_token_prompts_the_waiting_step_once() -> None:
    job = waiting()
    sent = len(job.shop.queue.published)

    first, replay = job.callback(), job.callback()

    assert (first, replay) == ("prompted", "replayed")
    assert job.published_since(sent) == [
        {"task_id": job.task_id, "step": "generate", "attempt": 1, "index": 1, "prompt": True}
    ]
    job.shop.run_pipeline(engine=job.engine)
    assert job.shop.task(job.task_id).status == "succeeded"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="none"),
        pytest.param("A" * 43, id="guessed"),
        pytest.param("x" * 4096, id="too-long"),
        pytest.param("é" * 43, id="not-ascii"),
    ],
)
def test_a_callback_without_the_jobs_token_changes_nothing(token: str) -> None:
    job = waiting()
    sent, steps = len(job.shop.queue.published), job.shop.world.steps

    assert job.callback(token=token) == "bad_token"

    assert job.published_since(sent) == [] and steps.events == {}
    assert steps.prompted_at == {}


def test_another_jobs_token_does_not_open_this_one() -> None:
    job, other = waiting(), waiting()

    assert job.callback(token=other.token) == "bad_token"


def test_callbacks_for_no_job_unverified_or_for_no_provider_change_nothing() -> None:
    job = waiting()
    sent = len(job.shop.queue.published)
    unverified = receive_callback(
        job.engine, provider_key="vendor", token=job.token, headers={}, body=b"{}"
    )
    unknown = receive_callback(
        job.engine, provider_key="elsewhere", token=job.token, headers={}, body=b"{}"
    )

    assert job.callback(job="vendor-job-9") == "unknown_job"
    assert (unverified, unknown) == ("unverified", "unknown_provider")
    assert job.published_since(sent) == [] and job.shop.world.steps.events == {}


def test_a_flood_of_varied_callbacks_sends_one_prompt_and_keeps_one_event_per_interval() -> None:
    # GIVEN a waiting job whose token the flood has (the vendor's own, or a leaked URL)
    job = waiting()
    sent = len(job.shop.queue.published)

    # WHEN 300 callbacks with 300 different event ids arrive within the interval
    outcomes = [job.callback(event=f"e{n}") for n in range(300)]

    # THEN one prompt went out; the other 299 kept nothing, not even their event id
    assert outcomes.count("prompted") == 1 and outcomes.count("debounced") == 299
    assert len(job.published_since(sent)) == 1
    assert len(job.shop.world.steps.events) == 1

    # and once the interval has passed, the next callback prompts again
    job.shop.clock.advance(INTERVAL_S)
    assert job.callback(event="later") == "prompted"
    assert len(job.published_since(sent)) == 2


@pytest.mark.parametrize(
    "answer", [PENDING, ProviderRetryable("503")], ids=["pending", "unreachable"]
)
def test_a_prompt_only_polls_and_starts_no_second_chain_of_polls(answer: Answer) -> None:
    job = waiting(polls=(answer,))
    prompt = StepMessage(job.task_id, "generate", 1, prompt=True).body()
    sent, polled = len(job.shop.queue.published), len(job.provider.polled)

    job.engine.handle(prompt)

    assert job.provider.polled[polled:] == ["vendor-job-1"]
    assert job.published_since(sent) == []  # the job's own poll chain is still the only one
    (row,) = (r for r in job.shop.world.steps.rows.values() if r.step == "generate")
    assert (row.status, row.polls) == ("waiting", 0)


def test_a_prompt_for_a_step_that_no_longer_waits_does_nothing() -> None:
    job = waiting()
    job.shop.run_pipeline(engine=job.engine)  # the job's own polls finish the task
    polled, sent = len(job.provider.polled), len(job.shop.queue.published)

    job.engine.handle(StepMessage(job.task_id, "generate", 1, prompt=True).body())

    assert len(job.provider.polled) == polled and job.published_since(sent) == []
    assert job.shop.task(job.task_id).status == "succeeded"


def test_the_purge_forgets_old_events_only_in_batches() -> None:
    shop = Shop.open()
    steps, now = shop.world.steps, utc_now()

    with shop.database.unit_of_work() as uow:
        for n in range(7):
            steps.record_event(
                provider_key="vendor", event_id=f"old{n}", now=now - timedelta(days=8)
            )
        steps.record_event(provider_key="vendor", event_id="new", now=now - timedelta(days=6))
        uow.commit()
    commits = shop.database.commits

    purged = purge_provider_events(
        database=shop.database, retention_s=7 * 86_400, batch=3, clock=lambda: now
    )

    assert purged == 7
    assert shop.database.commits - commits == 3  # 3 + 3 + 1 rows, a transaction each
    assert set(steps.events) == {("vendor", "new")}
