"""API10:2023 Unsafe Consumption of APIs: what a vendor answers is input like any other. A
vendor's result URL off the provider's allowlisted hosts (the metadata service, another
loopback name, a file) fails the job and is never fetched; an oversized vendor answer is cut
off, not read into memory. The RunningHub adapter talks HTTP to the loopback fake of its API
(tests/integration/runninghub_fake.py) exactly as it talks to the vendor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from retouch.pipeline.fetch import fetch_result
from retouch.providers.http import Timeouts
from retouch.providers.port import ProviderPermanent, ProviderRetryable
from retouch.providers.runninghub import RunningHubProvider
from tests.conftest import Stack
from tests.integration.providers.test_runninghub_pipeline import OPTIONS
from tests.integration.runninghub_fake import (
    API_KEY,
    FakeRunningHub,
    Reply,
    fake_runninghub,
    outputs,
)

pytestmark = [pytest.mark.integration, pytest.mark.security]

OUTPUTS = "/task/openapi/outputs"
HANDLE = "1904152026220000001"
OVER_THE_API_CAP = 9 * 1024 * 1024  # providers/http.py MAX_API_RESPONSE_BYTES is 8 MiB


@pytest.fixture
def runninghub(stack: Stack) -> Iterator[FakeRunningHub]:
    """The fake vendor, with the test run's settings (loopback allowed, as for every fake)."""
    with fake_runninghub(API_KEY) as fake:
        yield fake


def _adapter(runninghub: FakeRunningHub, **options: object) -> RunningHubProvider:
    settings = OPTIONS.model_copy(update=options)
    return RunningHubProvider(runninghub.url, API_KEY, settings, Timeouts(connect_s=1, read_s=5))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://localhost:6379/result.png",
        "http://10.0.0.5/result.png",
        "file:///etc/passwd",
    ],
)
def test_a_result_url_off_the_allowlisted_hosts_fails_the_job(
    runninghub: FakeRunningHub, url: str
) -> None:
    # GIVEN the vendor answers "done, your result is at <url>"
    runninghub.script(OUTPUTS, outputs(url))
    adapter = _adapter(runninghub)

    with closing(adapter):
        status = adapter.poll(HANDLE)

    # THEN the job is over without a result (the engine retries or falls back)
    assert status.state == "failed"
    assert type(status.error) is ProviderRetryable


def test_a_result_off_the_hosts_is_never_fetched(runninghub: FakeRunningHub) -> None:
    # GIVEN a provider whose results come from its CDN only, and a result URL on another host
    adapter = _adapter(runninghub, result_hosts=(".runninghub.cn",))
    url = runninghub.file_url("result.png")

    # THEN the store step refuses it without a request
    with closing(adapter), pytest.raises(ProviderPermanent, match="off the provider's hosts"):
        fetch_result(url, adapter)
    fetched = [request for request in runninghub.requests if "/files/" in request.get("path", "")]
    assert fetched == []


def test_an_oversized_vendor_answer_is_cut_off(runninghub: FakeRunningHub) -> None:
    # GIVEN the vendor answers 9 MiB to a status question
    padding = b" " * OVER_THE_API_CAP
    runninghub.script(OUTPUTS, Reply(b'{"code": 0, "msg": "success", "data": []' + padding + b"}"))
    adapter = _adapter(runninghub)

    # THEN the read stops at the cap and the poll is a retryable failure, not a success
    with closing(adapter), pytest.raises(ProviderRetryable):
        adapter.poll(HANDLE)
