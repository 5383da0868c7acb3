"""The Tencent adapters (`tencent`, `hunyuan`) through the real tencentcloud SDK against a
loopback fake of the Tencent Cloud API (`tencent_ai_fake`), which checks each request's
signature and required fields and answers in the documented shapes."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from retouch.providers.port import (
    InvalidCallback,
    JobInput,
    Output,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
    Submitted,
)
from retouch.providers.tencent import HunyuanProvider, TencentProvider
from retouch.providers.tencent_options import (
    FaceFusionOptions,
    HunyuanOptions,
    OutfitOptions,
    TencentOptions,
)
from scripts.local.servers import free_port
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY
from tests.integration.tencent_ai_fake import (
    HANG,
    HTML,
    MALFORMED,
    RESULT,
    RESULT_HOST,
    FakeTencentAI,
    Reply,
    done,
    error,
    job_state,
    running_fake_tencent_ai,
    slow,
)
from tests.unit.image_support import png

PHOTO = "https://storage.example.com/uploads/photo.png?sig=1"
MASK = "https://storage.example.com/uploads/mask.png?sig=2"
GARMENT = "https://storage.example.com/uploads/garment.png?sig=3"
FACE = "https://storage.example.com/uploads/face.png?sig=4"
FUSION = FaceFusionOptions(project_id="at_1234", model_id="mt_5678")
URLS = {
    "cutout": {"image": PHOTO},
    "eraser": {"image": PHOTO, "mask": MASK},
    "outpaint": {"image": PHOTO},
    "outfit": {"image": PHOTO, "garment": GARMENT},
    "faceswap": {"image": PHOTO, "face": FACE},
}
PARAMS: dict[str, dict[str, Any]] = {
    "cutout": {"refine_edges": True},
    "eraser": {"dilate": 4},
    "outpaint": {"ratio": "16:9"},
    "outfit": {"garment_type": "lower"},
    "faceswap": {},
}
#: Feature → (service, action, the parameters it must send).
EXPECTED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cutout": ("bda", "SegmentPortraitPic", {"Url": PHOTO, "RspImgType": "base64", "Scene": "GEN"}),
    "eraser": ("aiart", "ImageInpaintingRemoval", {
        "InputUrl": PHOTO, "MaskUrl": MASK, "RspImgType": "base64", "LogoAdd": 0,
    }),
    "outpaint": ("aiart", "ImageOutpainting", {
        "InputUrl": PHOTO, "Ratio": "16:9", "RspImgType": "base64", "LogoAdd": 0,
    }),
    "outfit": ("aiart", "ChangeClothes", {
        "ModelUrl": PHOTO, "ClothesUrl": GARMENT, "ClothesType": "Lower-body",
        "RspImgType": "base64", "LogoAdd": 0,
    }),
    "faceswap": ("facefusion", "FuseFace", {
        "ProjectId": "at_1234", "ModelId": "mt_5678", "MergeInfos": [{"Url": FACE}],
        "RspImgType": "base64", "LogoAdd": 0,
    }),
}  # fmt: skip
ACTIONS = {feature: action for feature, (_, action, _) in EXPECTED.items()}


@pytest.fixture
def fake() -> Iterator[FakeTencentAI]:
    with running_fake_tencent_ai() as running:
        yield running


def tencent(fake: FakeTencentAI, **options: Any) -> TencentProvider:
    settings = TencentOptions(endpoint=fake.url, facefusion=FUSION, **options)
    return TencentProvider(settings, secret_id=SECRET_ID, secret_key=SECRET_KEY)


def hunyuan(fake: FakeTencentAI, **options: Any) -> HunyuanProvider:
    settings = HunyuanOptions(
        **{"endpoint": fake.url, "result_hosts": (".myqcloud.com",), **options}
    )
    return HunyuanProvider(settings, secret_id=SECRET_ID, secret_key=SECRET_KEY)


def job(feature: str = "cutout", **params: Any) -> JobInput:
    return JobInput(
        feature=feature,
        image_urls=URLS[feature],
        params=params or PARAMS[feature],
        client_token="task-1:1:0:0",
    )


def failure(submitted: Submitted) -> ProviderError:
    assert submitted.status is not None and submitted.status.state == "failed"
    assert submitted.status.error is not None
    return submitted.status.error


# --- tencent: the synchronous edit actions ----------------------------------------------------


@pytest.mark.parametrize("feature", list(EXPECTED))
def test_each_feature_calls_its_action_and_answers_the_decoded_image(
    fake: FakeTencentAI, feature: str
) -> None:
    submitted = tencent(fake).submit(job(feature))

    (call,) = fake.calls
    service, action, params = EXPECTED[feature]
    assert (call.service, call.action, call.params) == (service, action, params)
    assert call.region == "ap-guangzhou" and call.token is None
    assert submitted.status is not None and submitted.status.state == "succeeded"
    assert submitted.status.outputs == (Output(data=RESULT),)
    assert len(submitted.handle) == 36  # the answer's RequestId
    assert fake.refused == []


def test_options_choose_region_logo_scene_fields_and_garment_types(fake: FakeTencentAI) -> None:
    outfit = OutfitOptions(
        model_field="person", clothes_field="cloth", clothes_types={"upper": "Dress"}
    )
    provider = tencent(fake, region="ap-shanghai", logo_add=1, cutout_scene="GS", outfit=outfit)
    urls = {"person": PHOTO, "cloth": GARMENT}

    provider.submit(job("cutout"))
    provider.submit(JobInput("outfit", urls, {"garment_type": "upper"}, "t:1"))
    provider.submit(JobInput("outfit", urls, {"garment_type": "other"}, "t:2"))
    provider.submit(JobInput("outpaint", URLS["outpaint"], {"top": 64}, "t:3"))

    cutout, dress, default, outpaint = fake.calls
    assert {call.region for call in fake.calls} == {"ap-shanghai"}
    assert cutout.params["Scene"] == "GS"
    assert (dress.params["ModelUrl"], dress.params["ClothesUrl"]) == (PHOTO, GARMENT)
    assert (dress.params["ClothesType"], dress.params["LogoAdd"]) == ("Dress", 1)
    assert default.params["ClothesType"] == "Upper-body"
    assert outpaint.params["Ratio"] == "1:1"  # per-side pixels: the default ratio


def test_a_session_token_is_sent_and_the_signature_is_the_fakes_to_check(
    fake: FakeTencentAI,
) -> None:
    options = TencentOptions(endpoint=fake.url)
    with_token = TencentProvider(options, secret_id=SECRET_ID, secret_key=SECRET_KEY, token="tk")
    forged = TencentProvider(options, secret_id=SECRET_ID, secret_key="not-the-key")

    with_token.submit(job())
    with pytest.raises(ProviderRetryable) as refused:
        forged.submit(job())

    assert [call.token for call in fake.calls] == ["tk"]
    assert fake.refused == ["signature mismatch"]
    assert not isinstance(refused.value, ProviderPermanent)
    assert "AuthFailure.SignatureFailure" in refused.value.detail


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RequestLimitExceeded.JobNumExceed", ProviderBusy),
        ("RequestLimitExceeded", ProviderBusy),
        ("RequestLimitExceeded.UinLimitExceeded", ProviderBusy),
        ("AuthFailure.SecretIdNotFound", ProviderUnavailable),
        ("AuthFailure.SignatureExpire", ProviderUnavailable),
        ("ResourceUnavailable.InArrears", ProviderUnavailable),
        ("ResourceUnavailable.LowBalance", ProviderUnavailable),
        ("ResourceUnavailable.NotExist", ProviderUnavailable),
        ("UnauthorizedOperation", ProviderUnavailable),
        ("InvalidParameter", ProviderPermanent),
        ("InvalidParameterValue.ParameterValueError", ProviderPermanent),
        ("FailedOperation.ImageDecodeFailed", ProviderPermanent),
        ("FailedOperation.ImageResolutionExceed", ProviderPermanent),
        ("FailedOperation.ImageSizeExceed", ProviderPermanent),
        ("OperationDenied.ImageIllegalDetected", ProviderPermanent),
        ("OperationDenied.TextIllegalDetected", ProviderPermanent),
        ("FailedOperation.GenerateImageFailed", ProviderRetryable),
        ("FailedOperation.RequestTimeout", ProviderRetryable),
        ("FailedOperation.ImageDownloadError", ProviderRetryable),
        ("InternalError", ProviderRetryable),
        ("SomeFutureCode", ProviderRetryable),
    ],
)
def test_each_error_code_maps_to_its_class_with_one_request(
    fake: FakeTencentAI, code: str, expected: type[ProviderError]
) -> None:
    fake.script("ImageInpaintingRemoval", error(code, "原始消息"))

    with pytest.raises(ProviderError) as raised:
        tencent(fake).submit(job("eraser"))

    assert type(raised.value) is expected
    assert code in raised.value.detail and "原始消息" in raised.value.detail
    assert "RequestId" in raised.value.detail
    # the SDK's own retryer is off: the engine decides about another attempt
    assert fake.actions() == ["ImageInpaintingRemoval"]


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (MALFORMED, "JSONDecodeError"),
        (HTML, "502 Bad Gateway"),
        (Reply(raw=b"<html>maintenance</html>", content_type="text/html"), "JSONDecodeError"),
        (Reply(raw=b'{"Result": true}'), "KeyError"),
        (Reply(raw=b"", status=500), "ServerNetworkError"),
    ],
)
def test_a_malformed_answer_or_an_error_page_is_retryable(
    fake: FakeTencentAI, reply: Reply, said: str
) -> None:
    fake.script("SegmentPortraitPic", reply)

    with pytest.raises(ProviderRetryable) as raised:
        tencent(fake).submit(job())

    assert type(raised.value) is ProviderRetryable
    assert said in raised.value.detail


@pytest.mark.parametrize(
    ("result", "said"),
    [
        (None, "without a result image"),
        ("", "without a result image"),
        ("not base64 at all!", "not an image"),
        (base64.b64encode(b"GIF89a garbage").decode(), "not an image"),
        (base64.b64encode(png(8, 8))[:40].decode(), "not an image"),
        ("https://attacker.example.net/x.png", "off the expected hosts"),
        ("ftp://x.myqcloud.com/x.png", "not an image"),
    ],
)
def test_a_success_without_a_usable_image_is_a_failed_retryable_job(
    fake: FakeTencentAI, result: str | None, said: str
) -> None:
    fake.script("ImageOutpainting", Reply(response={"ResultImage": result}))

    submitted = tencent(fake).submit(job("outpaint"))

    error_ = failure(submitted)
    assert type(error_) is ProviderRetryable
    assert said in error_.detail
    assert submitted.handle in error_.detail  # the RequestId, for operators


def test_a_data_url_or_a_url_on_the_result_hosts_is_accepted(fake: FakeTencentAI) -> None:
    encoded = base64.b64encode(RESULT).decode()
    url = f"https://{RESULT_HOST}/edit/result.png"
    fake.script(
        "ChangeClothes",
        Reply(response={"ResultImage": f"data:image/png;base64,{encoded[:30]}\n{encoded[30:]}"}),
        Reply(response={"ResultImage": url}),
    )
    provider = tencent(fake)

    first = provider.submit(job("outfit"))
    second = provider.submit(job("outfit"))

    assert first.status is not None and first.status.outputs == (Output(data=RESULT),)
    assert second.status is not None and second.status.outputs == (Output(url=url),)
    assert provider.result_hosts == frozenset({".myqcloud.com"})


def test_a_portrait_without_foreground_is_a_failed_retryable_job(fake: FakeTencentAI) -> None:
    image = base64.b64encode(RESULT).decode()
    fake.script(
        "SegmentPortraitPic", Reply(response={"ResultImage": image, "HasForeground": False})
    )

    error_ = failure(tencent(fake).submit(job()))

    assert type(error_) is ProviderRetryable and "no person" in error_.detail


@pytest.mark.parametrize("reply", [slow(3.0), HANG], ids=["slow", "hanging"])
def test_an_answer_past_the_read_timeout_is_retryable_within_the_timeout(
    fake: FakeTencentAI, reply: Reply
) -> None:
    fake.script("FuseFace", reply)
    provider = tencent(fake, timeout_s=0.3)

    started = time.monotonic()
    with pytest.raises(ProviderRetryable) as timed_out:
        provider.submit(job("faceswap"))
    elapsed = time.monotonic() - started

    assert "timed out" in timed_out.value.detail
    assert 0.3 <= elapsed < 2.5  # at the read timeout, before the answer (loose: shared machine)
    assert fake.actions() == ["FuseFace"]  # no retry by the SDK
    # the next call of the same client is answered
    assert tencent(fake).submit(job("faceswap")).status is not None


def test_missing_credentials_are_retryable_without_a_request(fake: FakeTencentAI) -> None:
    options = TencentOptions(endpoint=fake.url)
    provider = TencentProvider(options, secret_id="", secret_key="")

    with pytest.raises(ProviderRetryable) as refused:
        provider.submit(job())

    assert "InvalidCredential" in refused.value.detail
    assert fake.calls == [] and fake.refused == []


def test_a_refused_connection_is_retryable() -> None:
    options = TencentOptions(endpoint=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    provider = TencentProvider(options, secret_id=SECRET_ID, secret_key=SECRET_KEY)

    with pytest.raises(ProviderRetryable) as refused:
        provider.submit(job())

    assert "ClientNetworkError" in refused.value.detail


def test_an_unconfigured_or_unserved_feature_is_unavailable_without_a_request(
    fake: FakeTencentAI,
) -> None:
    unconfigured = TencentProvider(
        TencentOptions(endpoint=fake.url), secret_id=SECRET_ID, secret_key=SECRET_KEY
    )

    assert not unconfigured.serves("colorize")
    assert all(unconfigured.serves(feature) for feature in EXPECTED)
    with pytest.raises(ProviderUnavailable) as unserved:
        unconfigured.submit(JobInput("colorize", {"image": PHOTO}, {}, "t:1"))
    with pytest.raises(ProviderRetryable) as no_mask:
        unconfigured.submit(JobInput("eraser", {"image": PHOTO}, {}, "t:1"))

    assert "colorize" in unserved.value.detail
    assert "'mask'" in no_mask.value.detail
    assert fake.calls == []


def test_faceswap_without_an_activity_puts_the_face_onto_the_users_photo(
    fake: FakeTencentAI,
) -> None:
    provider = TencentProvider(
        TencentOptions(endpoint=fake.url), secret_id=SECRET_ID, secret_key=SECRET_KEY
    )

    submitted = provider.submit(job("faceswap"))

    assert submitted.status is not None and submitted.status.state == "succeeded"
    (call,) = fake.calls
    assert call.action == "FuseFaceUltra"
    assert call.params == {
        "ModelUrl": PHOTO, "MergeInfos": [{"Url": FACE}], "RspImgType": "base64", "LogoAdd": 0,
    }  # fmt: skip


def test_poll_cancel_and_callbacks_of_a_synchronous_vendor(fake: FakeTencentAI) -> None:
    provider = tencent(fake)

    status = provider.poll("4c1f-request-id")
    provider.cancel("4c1f-request-id")
    with pytest.raises(InvalidCallback):
        provider.parse_callback({"content-type": "application/json"}, b'{"JobId": "1"}')

    assert status.state == "failed" and type(status.error) is ProviderRetryable
    assert fake.calls == []


def test_one_client_per_service_serves_every_call(fake: FakeTencentAI) -> None:
    provider = tencent(fake)

    for feature in ("cutout", "eraser", "outpaint", "cutout", "eraser"):
        provider.submit(job(feature))

    assert sorted(provider._clients) == ["aiart", "bda"]
    assert [call.service for call in fake.calls] == ["bda", "aiart", "aiart", "bda", "aiart"]


# --- hunyuan: asynchronous image jobs ---------------------------------------------------------


def test_a_hunyuan_job_is_submitted_with_its_prompt_and_polled_until_done(
    fake: FakeTencentAI,
) -> None:
    url = f"https://{RESULT_HOST}/hunyuan/result.png"
    fake.script_job(job_state("1"), job_state("2"), done(url))
    provider = hunyuan(fake, prompts={"outpaint": "ratio $ratio, $$5, $missing"}, style="201")

    submitted = provider.submit(job("outpaint"))
    states = [provider.poll(submitted.handle) for _ in range(3)]

    submit, *queries = fake.calls
    assert submit.action == "SubmitHunyuanImageJob"
    assert submit.params == {
        "Prompt": "ratio 16:9, $5, $missing",
        "ContentImage": {"ImageUrl": PHOTO},
        "Resolution": "1280:720",
        "Num": 1,
        "Revise": 1,
        "LogoAdd": 0,
        "Style": "201",
    }
    assert submitted.status is None and submitted.handle == fake.calls[1].params["JobId"]
    assert [query.params for query in queries] == [{"JobId": submitted.handle}] * 3
    assert [state.state for state in states] == ["pending", "pending", "succeeded"]
    assert states[-1].outputs == (Output(url=url),)


def test_the_default_templates_serve_outpaint_and_eraser(fake: FakeTencentAI) -> None:
    provider = hunyuan(fake, negative_prompt="blurry")

    provider.submit(job("outpaint"))
    provider.submit(job("eraser"))
    with pytest.raises(ProviderRetryable) as no_template:
        provider.submit(job("cutout"))

    outpaint, eraser = fake.calls
    assert "16:9" in outpaint.params["Prompt"] and "$" not in outpaint.params["Prompt"]
    assert eraser.params["Resolution"] == "1024:1024"
    assert eraser.params["NegativePrompt"] == "blurry"
    assert "cutout" in no_template.value.detail


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("FailedOperation.GenerateImageFailed", ProviderRetryable),
        ("OperationDenied.ImageIllegalDetected", ProviderPermanent),
        ("", ProviderRetryable),
    ],
)
def test_a_failed_hunyuan_job_carries_its_classified_error(
    fake: FakeTencentAI, code: str, expected: type[ProviderError]
) -> None:
    fake.script_job(job_state("4", JobErrorCode=code, JobErrorMsg="生成失败"))
    provider = hunyuan(fake)

    status = provider.poll(provider.submit(job("outpaint")).handle)

    assert status.state == "failed" and type(status.error) is expected
    assert status.error is not None and "生成失败" in status.error.detail


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (job_state("7"), "unknown JobStatusCode '7'"),
        ({"JobStatusMsg": "?"}, "unknown JobStatusCode 'None'"),
        (done(), "without ResultImage"),
        ({"JobStatusCode": "5"}, "without ResultImage"),
        (done("https://evil.example.com/steal.png"), "off the expected hosts"),
        (done("http://169.254.169.254/latest/meta-data/"), "off the expected hosts"),
        (done("file:///etc/passwd"), "off the expected hosts"),
    ],
)
def test_an_unexpected_hunyuan_answer_fails_the_job_retryable(
    fake: FakeTencentAI, answer: dict[str, Any], said: str
) -> None:
    fake.script_job(answer)
    provider = hunyuan(fake)

    status = provider.poll(provider.submit(job("outpaint")).handle)

    assert status.state == "failed" and type(status.error) is ProviderRetryable
    assert status.error is not None and said in status.error.detail


def test_hunyuan_result_hosts_take_exact_names_and_domains(fake: FakeTencentAI) -> None:
    exact = hunyuan(fake, result_hosts=("results.example.com",))
    fake.script_job(done("https://results.example.com/a.png"))
    ok = exact.poll(exact.submit(job("outpaint")).handle)
    fake.script_job(done("https://cdn.results.example.com/a.png"))
    below = exact.poll(exact.submit(job("outpaint")).handle)

    assert ok.state == "succeeded"
    assert below.state == "failed"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (error("RequestLimitExceeded.JobNumExceed"), ProviderBusy),
        (error("InvalidParameter.ParameterValueError"), ProviderPermanent),
        (error("ResourceUnavailable.LowBalance"), ProviderUnavailable),
        (Reply(response={}), ProviderRetryable),
        (MALFORMED, ProviderRetryable),
        (HTML, ProviderRetryable),
    ],
)
def test_a_refused_hunyuan_submit_raises_its_class(
    fake: FakeTencentAI, reply: Reply, expected: type[ProviderError]
) -> None:
    fake.script("SubmitHunyuanImageJob", reply)

    with pytest.raises(ProviderError) as raised:
        hunyuan(fake).submit(job("outpaint"))

    assert type(raised.value) is expected


@pytest.mark.parametrize("reply", [MALFORMED, HTML, HANG, error("InternalError")])
def test_a_hunyuan_query_that_cannot_say_raises_retryable(
    fake: FakeTencentAI, reply: Reply
) -> None:
    # (a second of read timeout: the answer after a hang must not miss it on a busy machine)
    provider = hunyuan(fake, timeout_s=1.0)
    handle = provider.submit(job("outpaint")).handle
    fake.script("QueryHunyuanImageJob", reply)

    with pytest.raises(ProviderRetryable):
        provider.poll(handle)  # the engine keeps polling until the step's deadline

    assert provider.poll(handle).state == "succeeded"


def test_hunyuan_sends_no_callbacks_and_cancels_nothing(fake: FakeTencentAI) -> None:
    provider = hunyuan(fake)

    provider.cancel("1234")
    with pytest.raises(InvalidCallback):
        provider.parse_callback({}, b"{}")

    assert fake.calls == []
