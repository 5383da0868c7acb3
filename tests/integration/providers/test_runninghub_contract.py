"""The RunningHub adapter against a loopback fake of its open API (`runninghub_fake.py`):
the requests we send (fields, key, node mapping) and how every documented answer — and
the undocumented ones a network gives — maps onto the provider port."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from retouch.pipeline.fetch import fetch_result
from retouch.providers.http import Timeouts
from retouch.providers.port import (
    InvalidCallback,
    JobInput,
    ProviderBusy,
    ProviderPermanent,
    ProviderRetryable,
)
from retouch.providers.runninghub import FeatureNotConfigured, RunningHubProvider
from retouch.providers.runninghub_options import RunningHubOptions
from scripts.local.servers import free_port
from tests.integration.runninghub_fake import (
    API_KEY as KEY,
)
from tests.integration.runninghub_fake import (
    RESULT,
    FakeRunningHub,
    Reply,
    answer,
    created,
    failed,
    html_page,
    outputs,
    webhook,
)
from tests.integration.simulator_support import silent_server
from tests.unit.image_support import png

CREATE, RUN = "/task/openapi/create", "/task/openapi/ai-app/run"
OUTPUTS, CANCEL = "/task/openapi/outputs", "/task/openapi/cancel"
UPLOAD = "/task/openapi/upload"
INPUT = png(20, 10)
OPTIONS = RunningHubOptions.model_validate(
    {
        "features": {
            "cutout": {
                "mode": "workflow",
                "workflow_id": "1850000000000000001",
                "images": {"image": {"node_id": "10", "field_name": "image"}},
                "params": {"refine_edges": {"node_id": "22", "field_name": "enabled"}},
                "constants": [{"node_id": "5", "field_name": "seed", "field_value": 7}],
            },
            "outpaint": {
                "mode": "app",
                "webapp_id": 1877265245566922753,
                "images": {"image": {"node_id": "39", "field_name": "image"}},
                "params": {"ratio": {"node_id": "40", "field_name": "value"}},
            },
            "eraser": {
                "mode": "workflow",
                "workflow_id": "1850000000000000002",
                "images": {"image": {"node_id": "1", "field_name": "image"}},
                "upload": True,
            },
        },
        "instance_type": "plus",
    }
)
IMAGE_URL = "http://127.0.0.1:8000/_storage/work/tsk_1/in-image.png?sig=abc"
JOB = JobInput(
    feature="cutout",
    image_urls={"image": IMAGE_URL},
    params={"refine_edges": True, "unmapped": "x"},
    client_token="tsk_1:1:0:0",
    callback_url="https://api.example.com/v1/callbacks/runninghub",
)


@pytest.fixture
def provider(runninghub: FakeRunningHub) -> Iterator[RunningHubProvider]:
    adapter = RunningHubProvider(runninghub.url, KEY, OPTIONS, Timeouts(connect_s=1, read_s=2))
    yield adapter
    adapter.close()


def test_a_workflow_task_is_created_with_the_mapped_nodes_and_its_result_downloads(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    submitted = provider.submit(JOB)
    status = provider.poll(submitted.handle)

    assert submitted.status is None and submitted.handle.isdigit()
    (request,) = [r for r in runninghub.requests if r["path"] == CREATE]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"] == {
        "apiKey": KEY,
        "workflowId": "1850000000000000001",
        "nodeInfoList": [
            {"nodeId": "5", "fieldName": "seed", "fieldValue": 7},
            {"nodeId": "10", "fieldName": "image", "fieldValue": IMAGE_URL},
            {"nodeId": "22", "fieldName": "enabled", "fieldValue": True},
        ],
        "webhookUrl": JOB.callback_url,
        "instanceType": "plus",
    }
    assert runninghub.bodies(OUTPUTS) == [{"apiKey": KEY, "taskId": submitted.handle}]
    assert status.state == "succeeded"
    (output,) = status.outputs
    assert output.url == f"{runninghub.url}/files/{submitted.handle}.png"
    assert provider.result_hosts == frozenset({"127.0.0.1"})
    assert fetch_result(output.url, provider) == RESULT


def test_an_app_task_runs_with_its_webapp_id_and_without_a_webhook(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    job = replace(JOB, feature="outpaint", params={"ratio": "16:9"}, callback_url=None)

    handle = provider.submit(job).handle

    (body,) = runninghub.bodies(RUN)
    assert body == {
        "apiKey": KEY,
        "webappId": 1877265245566922753,
        "nodeInfoList": [
            {"nodeId": "39", "fieldName": "image", "fieldValue": IMAGE_URL},
            {"nodeId": "40", "fieldName": "value", "fieldValue": "16:9"},
        ],
        "instanceType": "plus",
    }
    assert provider.poll(handle).state == "succeeded"


def test_an_upload_feature_sends_our_image_through_the_upload_api_and_names_the_file(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    runninghub.files["input.png"] = INPUT
    job = replace(JOB, feature="eraser", image_urls={"image": f"{runninghub.url}/files/input.png"})

    provider.submit(job)

    ((name, uploaded),) = runninghub.uploads.items()
    assert uploaded == INPUT
    download, upload, create = runninghub.requests
    assert download["path"] == "/files/input.png"
    assert "Authorization" not in download["headers"]  # our key goes to RunningHub only
    assert upload["body"] == {"apiKey": KEY, "fileType": "image"}
    assert upload["headers"]["Authorization"] == f"Bearer {KEY}"
    assert create["body"]["nodeInfoList"] == [
        {"nodeId": "1", "fieldName": "image", "fieldValue": name}
    ]


@pytest.mark.parametrize(
    ("input_name", "reply"),
    [
        pytest.param("missing.png", None, id="input-gone"),
        pytest.param("input.png", answer(808, msg="UPLOAD_FAILED"), id="upload-failed"),
        pytest.param("input.png", answer(809, msg="FILE_SIZE_EXCEEDED"), id="too-large"),
        pytest.param("input.png", answer(0, {"fileType": "image"}), id="no-file-name"),
        pytest.param("input.png", html_page(502), id="html-page"),
    ],
)
def test_a_failed_upload_is_retryable_and_creates_no_task(
    runninghub: FakeRunningHub, provider: RunningHubProvider, input_name: str, reply: Reply | None
) -> None:
    runninghub.files["input.png"] = INPUT
    if reply is not None:
        runninghub.script(UPLOAD, reply)
    job = replace(
        JOB, feature="eraser", image_urls={"image": f"{runninghub.url}/files/{input_name}"}
    )

    with pytest.raises(ProviderRetryable) as error:
        provider.submit(job)

    assert not isinstance(error.value, ProviderBusy)
    assert runninghub.bodies(CREATE) == []


def test_a_feature_without_a_task_is_a_configuration_gap_before_any_request(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    with pytest.raises(FeatureNotConfigured) as gap:
        provider.submit(replace(JOB, feature="faceswap"))

    assert gap.value.retryable and not isinstance(gap.value, ProviderBusy)
    assert (provider.serves("cutout"), provider.serves("faceswap")) == (True, False)
    assert runninghub.requests == []


def test_a_wrong_api_key_is_refused_by_the_fake_and_falls_back_rather_than_failing_the_user(
    runninghub: FakeRunningHub,
) -> None:
    stranger = RunningHubProvider(runninghub.url, "wrong-key", OPTIONS)

    with pytest.raises(ProviderRetryable) as refused:
        stranger.submit(JOB)
    stranger.close()

    assert "802" in refused.value.detail
    assert not isinstance(refused.value, (ProviderBusy, ProviderPermanent))
    assert runninghub.bodies(CREATE)[0]["apiKey"] == "wrong-key"


def test_a_pending_task_is_pending_queued_or_running(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    runninghub.script(OUTPUTS, answer(813, msg="APIKEY_TASK_IS_QUEUED"))
    runninghub.script(OUTPUTS, answer(804, msg="APIKEY_TASK_IS_RUNNING"))
    handle = provider.submit(JOB).handle

    states = [provider.poll(handle).state for _ in range(3)]

    assert states == ["pending", "pending", "succeeded"]


def test_a_failed_task_is_retryable_with_its_reason_kept_in_the_detail(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    runninghub.script(OUTPUTS, failed("CUDA out of memory"))

    status = provider.poll(provider.submit(JOB).handle)

    assert status.state == "failed"
    assert type(status.error) is ProviderRetryable
    assert "CUDA out of memory" in status.error.detail and "KSampler" in status.error.detail


@pytest.mark.parametrize("code", [421, 415])
def test_a_full_queue_or_instance_makes_the_provider_busy(
    runninghub: FakeRunningHub, provider: RunningHubProvider, code: int
) -> None:
    runninghub.script(CREATE, answer(code, msg="TASK_QUEUE_MAXED"))

    with pytest.raises(ProviderBusy) as busy:
        provider.submit(JOB)

    assert f"code {code}" in busy.value.detail


@pytest.mark.parametrize("code", [301, 433])
def test_refused_parameters_are_permanent(
    runninghub: FakeRunningHub, provider: RunningHubProvider, code: int
) -> None:
    runninghub.script(CREATE, answer(code, msg="PARAMS_INVALID"))

    with pytest.raises(ProviderPermanent):
        provider.submit(JOB)


@pytest.mark.parametrize("code", [380, 803, 901, 801, 806, 811, 812, 500, 999])
def test_account_configuration_and_unknown_codes_are_retryable_so_the_chain_moves_on(
    runninghub: FakeRunningHub, provider: RunningHubProvider, code: int
) -> None:
    runninghub.script(CREATE, answer(code))

    with pytest.raises(ProviderRetryable) as error:
        provider.submit(JOB)

    assert not isinstance(error.value, ProviderBusy)
    assert f"code {code}" in error.value.detail


def test_node_errors_in_the_prompt_tips_refuse_the_input_and_cancel_the_task(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    runninghub.script(CREATE, created("77", node_errors={"10": {"errors": ["Invalid image file"]}}))

    with pytest.raises(ProviderPermanent) as refused:
        provider.submit(JOB)

    assert "Invalid image file" in refused.value.detail
    assert runninghub.bodies(CANCEL) == [{"apiKey": KEY, "taskId": "77"}]


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(b'{"code": 0, "data": {"taskId": '), id="malformed-json"),
        pytest.param(html_page(502), id="html-error-page"),
        pytest.param(html_page(200), id="html-with-200"),
        pytest.param(Reply(b'{"code": "0", "data": {}}'), id="code-not-a-number"),
        pytest.param(answer(0, {"taskStatus": "QUEUED"}), id="no-task-id"),
        pytest.param(answer(0, None), id="no-data"),
        pytest.param(Reply(b'{"message": "Internal"}', status=500), id="http-500"),
    ],
)
def test_a_malformed_create_answer_is_retryable(
    runninghub: FakeRunningHub, provider: RunningHubProvider, reply: Reply
) -> None:
    runninghub.script(CREATE, reply)

    with pytest.raises(ProviderRetryable) as error:
        provider.submit(JOB)

    assert not isinstance(error.value, ProviderBusy)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(b"not json"),
        html_page(503),
        answer(42, msg="SOMETHING_NEW"),
        answer(301, msg="PARAMS_INVALID"),  # not the user's input: our request
        answer(802, msg="APIKEY_UNAUTHORIZED"),
        answer(421, msg="TASK_QUEUE_MAXED"),
    ],
)
def test_a_poll_that_says_nothing_usable_is_retryable(
    runninghub: FakeRunningHub, provider: RunningHubProvider, reply: Reply
) -> None:
    runninghub.script(OUTPUTS, reply)

    with pytest.raises(ProviderRetryable):
        provider.poll("1904152026220000001")


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(answer(0, []), id="no-files"),
        pytest.param(answer(0, None), id="null-data"),
        pytest.param(answer(0, "SUCCESS"), id="unexpected-status-value"),
        pytest.param(outputs("http://127.0.0.1/x.mp4", file_type="mp4"), id="only-a-video"),
        pytest.param(outputs("http://169.254.169.254/latest/meta-data/"), id="url-off-hosts"),
        pytest.param(outputs("file:///etc/passwd"), id="not-http"),
    ],
)
def test_a_success_without_a_usable_image_fails_the_job_retryable(
    runninghub: FakeRunningHub, provider: RunningHubProvider, reply: Reply
) -> None:
    runninghub.script(OUTPUTS, reply)

    status = provider.poll("1904152026220000001")

    assert status.state == "failed"
    assert type(status.error) is ProviderRetryable


@pytest.mark.parametrize("code", [807, 423])
def test_a_task_the_vendor_lost_fails_retryable(
    runninghub: FakeRunningHub, provider: RunningHubProvider, code: int
) -> None:
    runninghub.script(OUTPUTS, answer(code, msg="APIKEY_TASK_NOT_FOUND"))

    status = provider.poll("1904152026220000001")

    assert status.state == "failed"
    assert type(status.error) is ProviderRetryable


def test_result_hosts_may_name_a_cdn_domain(runninghub: FakeRunningHub) -> None:
    options = OPTIONS.model_copy(update={"result_hosts": (".rh-images.example.com",)})
    provider = RunningHubProvider(runninghub.url, KEY, options)
    url = "https://bucket-7.rh-images.example.com/output/ComfyUI_00001_.png"
    runninghub.script(OUTPUTS, outputs(url, f"{runninghub.url}/files/other.png"))

    status = provider.poll("1904152026220000001")
    provider.close()

    # the API endpoint's own host is no longer one of them
    assert status.state == "failed" and status.error is not None
    assert "off the hosts" in status.error.detail
    assert provider.result_hosts == frozenset({".rh-images.example.com"})


def test_cancel_tolerates_a_task_that_is_gone_or_past_canceling(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    runninghub.script(CANCEL, answer(807), answer(817), answer(0))
    for _ in range(3):
        provider.cancel("1904152026220000001")
    runninghub.script(CANCEL, answer(500))

    with pytest.raises(ProviderRetryable):
        provider.cancel("1904152026220000001")
    assert len(runninghub.bodies(CANCEL)) == 4


def test_a_slow_answer_past_the_read_timeout_is_retryable(runninghub: FakeRunningHub) -> None:
    provider = RunningHubProvider(runninghub.url, KEY, OPTIONS, Timeouts(connect_s=1, read_s=0.3))
    runninghub.script(OUTPUTS, replace(outputs(runninghub.file_url("late.png")), delay_s=3.0))
    started = time.monotonic()

    with pytest.raises(ProviderRetryable) as timed_out:
        provider.poll("1904152026220000001")
    provider.close()

    assert "timeout" in timed_out.value.detail
    # gave up at the read timeout, well before the answer (3 s) — loose: the machine is shared
    assert 0.3 <= time.monotonic() - started < 2.5


def test_a_hanging_answer_is_retryable_within_the_read_timeout(runninghub: FakeRunningHub) -> None:
    provider = RunningHubProvider(runninghub.url, KEY, OPTIONS, Timeouts(connect_s=1, read_s=0.3))
    runninghub.script(CREATE, Reply(hang=True))
    started = time.monotonic()

    with pytest.raises(ProviderRetryable) as timed_out:
        provider.submit(JOB)
    provider.close()

    assert "timeout" in timed_out.value.detail
    assert time.monotonic() - started < 2.5


def test_a_server_that_never_answers_or_a_refused_port_is_retryable() -> None:
    with silent_server() as url:
        silent = RunningHubProvider(url, KEY, OPTIONS, Timeouts(connect_s=1, read_s=0.3))
        with pytest.raises(ProviderRetryable):
            silent.poll("1")
        silent.close()
    refused = RunningHubProvider(f"http://127.0.0.1:{free_port()}", KEY, OPTIONS)
    with pytest.raises(ProviderRetryable):
        refused.submit(JOB)


def test_a_webhook_names_its_task_and_a_redelivery_has_the_same_event_id(
    runninghub: FakeRunningHub, provider: RunningHubProvider
) -> None:
    data = {"code": 0, "msg": "success", "data": [{"fileUrl": "x", "fileType": "png"}]}
    body = webhook("1904152026220000001", data)

    first = provider.parse_callback({}, body)
    again = provider.parse_callback({"content-type": "application/json"}, body)
    other = provider.parse_callback({}, webhook("1904152026220000001", {"code": 805}))

    assert first.handle == "1904152026220000001"
    assert first == again and first.event_id != other.event_id
    assert len(first.event_id) <= 128
    assert runninghub.requests == []  # nothing is asked of the vendor until the engine polls


@pytest.mark.parametrize(
    "body",
    [
        b"<html></html>",
        b"[]",
        b'{"event": "TASK_END", "eventData": "{}"}',
        b'{"event": "TASK_END", "taskId": "", "eventData": "{}"}',
        b'{"event": "TASK_END", "taskId": "1", "eventData": {"code": 0}}',
        b'{"taskId": "1", "eventData": "{}"}',
        json.dumps({"event": "TASK_END", "taskId": "9" * 65, "eventData": ""}).encode(),
    ],
)
def test_a_malformed_webhook_is_invalid(provider: RunningHubProvider, body: bytes) -> None:
    with pytest.raises(InvalidCallback):
        provider.parse_callback({}, body)


def test_the_fake_refuses_requests_without_the_required_fields(runninghub: FakeRunningHub) -> None:
    # The fake's own checks, so the tests above can rely on them.
    base = {"apiKey": KEY}
    sent = [
        httpx.post(f"{runninghub.url}{RUN}", json={**base, "webappId": "1", "nodeInfoList": []}),
        httpx.post(f"{runninghub.url}{CREATE}", json={**base, "nodeInfoList": []}),
        httpx.post(f"{runninghub.url}{OUTPUTS}", json=base),
        httpx.post(f"{runninghub.url}{OUTPUTS}", json={"taskId": "1"}),
        httpx.post(f"{runninghub.url}{OUTPUTS}", content=b"apiKey=x"),
        httpx.post(f"{runninghub.url}{UPLOAD}", data={**base, "fileType": "image"}),  # no file
        httpx.post(f"{runninghub.url}{UPLOAD}", data=base, files={"file": ("a.png", INPUT)}),
    ]

    assert [r.json()["code"] for r in sent] == [301, 301, 301, 802, 301, 301, 301]
