"""The simulator service and its provider adapter, over real HTTP on loopback ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from retouch.providers.port import (
    JobInput,
    ProviderBusy,
    ProviderPermanent,
    ProviderRetryable,
)
from retouch.providers.simulator import SimulatorProvider, Timeouts
from scripts.local.servers import free_port
from scripts.simulator.service import RunningSimulator, SimulatorConfig, running_simulator
from tests.integration.simulator_support import (
    RESULT,
    Recorder,
    Renderer,
    callback_receiver,
    image_host,
    silent_server,
    wait_for_end,
    wait_until,
)
from tests.unit.image_support import png

SECRET = "test-callback-secret"
KEY = "test-api-key"
BASE = SimulatorConfig(api_key=KEY, callback_secret=SECRET, concurrency=8)
INPUT = png(4, 4)


@contextmanager
def simulator(
    config: SimulatorConfig = BASE, renderer: Renderer | None = None
) -> Iterator[tuple[RunningSimulator, SimulatorProvider]]:
    with running_simulator(config, renderer or Renderer()) as running:
        provider = SimulatorProvider(running.url, KEY, SECRET, Timeouts(connect_s=1, read_s=2))
        try:
            yield running, provider
        finally:
            provider.close()


@pytest.fixture
def images() -> Iterator[Recorder]:
    with image_host({"photo.png": INPUT}) as host:
        yield host


def job(host: Recorder, attempt: str = "task-1:1", **changes: object) -> JobInput:
    base = JobInput(
        feature="cutout",
        image_urls={"image": f"{host.url}/images/photo.png"},
        params={"edge": 2},
        client_token=attempt,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_job_succeeds_and_its_result_downloads(images: Recorder) -> None:
    renderer = Renderer()
    with simulator(renderer=renderer) as (_, provider):
        submitted = provider.submit(job(images))
        status = wait_for_end(provider, submitted.handle)

        assert submitted.status is None
        assert status.state == "succeeded"
        assert len(status.outputs) == 1
        url = status.outputs[0].url
        assert url is not None and url.startswith(provider.base_url + "/results/")
        assert httpx.get(url).content == RESULT
    assert renderer.seen == [("cutout", {"image": INPUT}, {"edge": 2})]
    assert images.paths == ["/images/photo.png"]


def test_the_same_client_token_gets_the_same_job(images: Recorder) -> None:
    with simulator() as (running, provider):
        first = provider.submit(job(images))
        second = provider.submit(job(images))
        other = provider.submit(job(images, attempt="task-1:2"))

        assert first.handle == second.handle != other.handle
        assert len(running.book.jobs) == 2


def test_a_job_ends_after_its_latency(images: Recorder) -> None:
    with simulator(replace(BASE, latency_ms=(400, 400))) as (_, provider):
        started = time.monotonic()
        handle = provider.submit(job(images)).handle

        assert provider.poll(handle).state == "pending"
        assert wait_for_end(provider, handle).state == "succeeded"
        assert time.monotonic() - started >= 0.4


def test_an_erroring_job_fails_retryable(images: Recorder) -> None:
    with simulator(replace(BASE, error_rate=1.0)) as (_, provider):
        status = wait_for_end(provider, provider.submit(job(images)).handle)

    assert status.state == "failed"
    assert type(status.error) is ProviderRetryable
    assert "INTERNAL" in status.error.detail


def test_a_renderer_input_error_fails_the_job_permanently(images: Recorder) -> None:
    with simulator() as (_, provider):
        handle = provider.submit(job(images, params={"invalid": True})).handle
        status = wait_for_end(provider, handle)

    assert status.state == "failed"
    assert isinstance(status.error, ProviderPermanent)
    assert "INVALID_INPUT" in status.error.detail
    assert "the mask is empty" in status.error.detail


def test_an_image_that_cannot_be_fetched_fails_the_job_retryable(images: Recorder) -> None:
    urls = {"image": f"{images.url}/images/expired.png"}
    with simulator() as (_, provider):
        status = wait_for_end(provider, provider.submit(job(images, image_urls=urls)).handle)

    assert type(status.error) is ProviderRetryable
    assert "FETCH_FAILED" in status.error.detail
    assert images.paths == ["/images/expired.png"]


def test_a_hanging_job_stays_running_until_canceled(images: Recorder) -> None:
    with simulator(replace(BASE, hang_rate=1.0)) as (running, provider):
        handle = provider.submit(job(images)).handle
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            assert provider.poll(handle).state == "pending"
            time.sleep(0.05)
        assert running.book.jobs[handle].status == "running"

        provider.cancel(handle)
        status = provider.poll(handle)

    assert status.state == "failed"
    assert isinstance(status.error, ProviderPermanent)
    assert "CANCELED" in status.error.detail


def test_the_concurrency_limit_makes_the_provider_busy(images: Recorder) -> None:
    with simulator(replace(BASE, hang_rate=1.0, concurrency=1)) as (_, provider):
        first = provider.submit(job(images)).handle
        with pytest.raises(ProviderBusy) as busy:
            provider.submit(job(images, attempt="task-2:1"))
        # The token already known is answered despite the limit.
        assert provider.submit(job(images)).handle == first

        provider.cancel(first)
        second = provider.submit(job(images, attempt="task-2:1"))

    assert "CONCURRENCY_LIMIT" in busy.value.detail
    assert second.handle != first


def test_a_429_burst_is_retryable_and_not_busy(images: Recorder) -> None:
    config = replace(BASE, burst_every_s=30, burst_for_s=0.6)
    with simulator(config) as (running, provider):
        with pytest.raises(ProviderRetryable) as limited:
            provider.submit(job(images))
        raw = httpx.post(f"{running.url}/jobs", headers={"Authorization": f"Bearer {KEY}"})

        wait_until(lambda: running.book.burst_retry_after() is None)
        accepted = provider.submit(job(images))

    assert not isinstance(limited.value, ProviderBusy)
    assert "RATE_LIMITED" in limited.value.detail
    assert raw.status_code == 429
    assert int(raw.headers["Retry-After"]) >= 1
    assert accepted.handle.startswith("sim-")


def test_a_result_url_expires_with_410(images: Recorder) -> None:
    with simulator(replace(BASE, result_ttl_s=0.5)) as (_, provider):
        status = wait_for_end(provider, provider.submit(job(images)).handle)
        url = status.outputs[0].url
        assert url is not None
        fresh = httpx.get(url)
        time.sleep(0.7)
        expired = httpx.get(url)

    assert fresh.status_code == 200
    assert expired.status_code == 410
    assert expired.json()["code"] == "EXPIRED"


def test_a_poll_answered_5xx_is_retryable(images: Recorder) -> None:
    with simulator(replace(BASE, poll_error_rate=1.0)) as (_, provider):
        handle = provider.submit(job(images)).handle
        with pytest.raises(ProviderRetryable) as unavailable:
            provider.poll(handle)

    assert "503" in unavailable.value.detail


def test_a_wrong_api_key_is_retryable_not_permanent(images: Recorder) -> None:
    with simulator() as (running, _):
        stranger = SimulatorProvider(running.url, "wrong", SECRET)
        with pytest.raises(ProviderRetryable) as refused:
            stranger.submit(job(images))
        stranger.close()

    assert "401" in refused.value.detail


def test_a_signed_callback_is_delivered_and_accepted(images: Recorder) -> None:
    with callback_receiver(failures=1) as receiver, simulator() as (_, provider):
        handle = provider.submit(job(images, callback_url=receiver.url)).handle
        wait_until(lambda: len(receiver.calls) == 2)

    (_, first_body), (headers, body) = receiver.calls
    timestamp = headers["x-sim-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["x-sim-signature"] == expected.hexdigest()
    assert json.loads(body) == {**json.loads(first_body), "status": "succeeded"}
    event = provider.parse_callback(headers, body)
    assert event.handle == handle
    assert event.event_id == json.loads(first_body)["event_id"]


def test_an_image_url_on_another_host_fails_the_job_before_any_request(
    images: Recorder,
) -> None:
    urls = {
        "image": f"{images.url}/images/photo.png",
        "mask": "http://169.254.169.254/latest/meta-data/",
    }
    with simulator() as (_, provider):
        status = wait_for_end(provider, provider.submit(job(images, image_urls=urls)).handle)

    assert isinstance(status.error, ProviderPermanent)
    assert "not allowed" in status.error.detail
    assert images.paths == []


def test_a_refused_connection_is_retryable(images: Recorder) -> None:
    provider = SimulatorProvider(f"http://127.0.0.1:{free_port()}", KEY, SECRET)

    with pytest.raises(ProviderRetryable):
        provider.submit(job(images))


def test_a_server_that_never_answers_is_retryable_within_the_read_timeout(
    images: Recorder,
) -> None:
    with silent_server() as url:
        provider = SimulatorProvider(url, KEY, SECRET, Timeouts(connect_s=1, read_s=0.3))
        started = time.monotonic()
        with pytest.raises(ProviderRetryable) as timed_out:
            provider.poll("sim-1")
        elapsed = time.monotonic() - started
        provider.close()

    assert "timeout" in timed_out.value.detail
    assert 0.3 <= elapsed < 1.5
