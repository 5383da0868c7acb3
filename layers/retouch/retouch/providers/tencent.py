"""The Tencent Cloud adapters, through tencentcloud-sdk-python (one service package each):

- `TencentProvider` (key `tencent`): the synchronous edit actions. cutout → bda
  SegmentPortraitPic, eraser → aiart ImageInpaintingRemoval (photo and mask URLs), outpaint →
  aiart ImageOutpainting, outfit → aiart ChangeClothes, faceswap → facefusion FuseFaceUltra
  (the user's face onto the user's photo; FuseFace onto a console activity's material when
  one is configured). Inputs
  go as the presigned GET URLs of our storage; results are asked for in base64, decoded and
  checked to be an image here, so they come back as `Output(data=...)` (no vendor URL to
  fetch before it expires). `submit` answers with the end state.
- `HunyuanProvider` (key `hunyuan`): SubmitHunyuanImageJob (the feature's prompt template
  filled from the form, the photo as `ContentImage`), polled with QueryHunyuanImageJob
  (JobStatusCode 1/2 pending, 4 failed, 5 done with `ResultImage` URLs on `result_hosts`).

Errors (`TencentCloudSDKException` codes): `RequestLimitExceeded*` (incl. `.JobNumExceed`) →
`ProviderBusy`; `InvalidParameter*`, the image-decode/size/resolution failures and content
moderation (`OperationDenied.*IllegalDetected`) → `ProviderPermanent`; anything else —
account problems (`AuthFailure*`, `ResourceUnavailable.*`, `UnauthorizedOperation*`: not the
user's fault) → `ProviderUnavailable` (the next provider at once; their breaker strikes take
the vendor out of the chain); generation failures, timeouts, network errors, non-200 answers,
malformed bodies — → `ProviderRetryable`. Codes, messages and RequestIds stay in `detail`.

The SDK is imported, and a client per service built, on first use: importing this module
loads no `tencentcloud`. The SDK's own retryer is off (the engine retries) and each call has
the options' timeout. Tencent sends no callbacks, and neither product can cancel a job.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import threading
from collections.abc import Mapping
from string import Template
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from retouch.images.inspection import NotAnImage, inspect_image
from retouch.providers.http import result_url_allowed
from retouch.providers.port import (
    CallbackEvent,
    InvalidCallback,
    JobInput,
    JobStatus,
    Output,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
    Submitted,
)
from retouch.providers.tencent_options import (
    HunyuanOptions,
    TencentCloudOptions,
    TencentOptions,
)

#: Service → the SDK package of the API version used and its client class.
SERVICES = {
    "aiart": ("tencentcloud.aiart.v20221229", "aiart_client", "AiartClient"),
    "bda": ("tencentcloud.bda.v20200324", "bda_client", "BdaClient"),
    "facefusion": ("tencentcloud.facefusion.v20220927", "facefusion_client", "FacefusionClient"),
    "hunyuan": ("tencentcloud.hunyuan.v20230901", "hunyuan_client", "HunyuanClient"),
}
#: Codes where the input itself is refused: retrying or another vendor cannot help.
PERMANENT_CODES = frozenset(
    {
        "FailedOperation.ImageDecodeFailed",
        "FailedOperation.ImageResolutionExceed",
        "FailedOperation.ImageSizeExceed",
    }
)
#: The features the edit actions serve.
FEATURES = frozenset({"cutout", "eraser", "outpaint", "outfit", "faceswap"})
#: Our keys, account or service state: the next provider at once (breaker strike).
ACCOUNT_PREFIXES = ("AuthFailure", "ResourceUnavailable.", "UnauthorizedOperation")
#: Ratio → Hunyuan `Resolution` of the same shape.
RESOLUTIONS = {
    "1:1": "1024:1024",
    "4:3": "1024:768",
    "3:4": "768:1024",
    "16:9": "1280:720",
    "9:16": "720:1280",
}
_PENDING_JOB = frozenset({"1", "2"})
OptionsT = TypeVar("OptionsT", bound=TencentCloudOptions)


def classify(code: str, detail: str) -> ProviderError:
    """The port's error for a Tencent Cloud error code (see the module docstring)."""
    if code.startswith("RequestLimitExceeded"):
        return ProviderBusy(detail)
    if code.startswith(ACCOUNT_PREFIXES):
        return ProviderUnavailable(detail)
    if (
        code in PERMANENT_CODES
        or code.startswith("InvalidParameter")
        or (code.startswith("OperationDenied.") and code.endswith("IllegalDetected"))
    ):
        return ProviderPermanent(detail)
    return ProviderRetryable(detail)


class _TencentCloud(Generic[OptionsT]):
    """Credentials, one lazily built SDK client per service, and the error mapping."""

    key: str

    def __init__(
        self,
        options: OptionsT,
        *,
        secret_id: str,
        secret_key: str,
        token: str | None = None,
    ) -> None:
        self.options = options
        #: The hosts the `store` step may fetch this provider's result URLs from.
        self.result_hosts = frozenset(options.result_hosts)
        self._secret = (secret_id, secret_key, token or None)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        raise InvalidCallback(f"{self.key}: Tencent Cloud sends no callbacks")

    def cancel(self, handle: str) -> None:
        """Nothing to cancel: the edit actions are synchronous and Hunyuan has no cancel."""

    def _call(self, service: str, action: str, params: Mapping[str, Any]) -> Any:
        """The SDK's response model of `action`; a ProviderError for any failure."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        try:
            client = self._client(service)
            models = importlib.import_module(f"{SERVICES[service][0]}.models")
            request = getattr(models, f"{action}Request")()
            request.from_json_string(json.dumps(params))
            return getattr(client, action)(request)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "")
            detail = (
                f"{self.key} {service}.{action} [RequestId {exc.get_request_id()}]: {code} "
                f"{exc.get_message()!s:.300}"
            )
            raise classify(code, detail) from exc

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.common.retry import NoopRetryer

        package, module, name = SERVICES[service]
        client_class = getattr(importlib.import_module(f"{package}.{module}"), name)
        http = HttpProfile(reqTimeout=self.options.timeout_s)
        if self.options.endpoint:
            parts = urlsplit(self.options.endpoint)
            http = HttpProfile(
                protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=self.options.timeout_s
            )
        profile = ClientProfile(httpProfile=http, retryer=NoopRetryer())
        secret_id, secret_key, token = self._secret
        cloud_credential = credential.Credential(secret_id, secret_key, token)
        return client_class(cloud_credential, self.options.region, profile)

    def _result_url(self, url: object, what: str) -> Output:
        if not isinstance(url, str) or not result_url_allowed(url, self.result_hosts):
            raise ProviderRetryable(f"{what}: result URL off the expected hosts: {url!r:.200}")
        return Output(url=url)


class TencentProvider(_TencentCloud[TencentOptions]):
    """The synchronous Tencent Cloud AI edit actions, one per feature."""

    def serves(self, feature: str) -> bool:
        """The five features."""
        return feature in FEATURES

    key = "tencent"

    def submit(self, job: JobInput) -> Submitted:
        service, action, params, field = self._request(job)
        response = self._call(service, action, params)
        handle = str(getattr(response, "RequestId", None) or job.client_token)
        what = f"tencent {service}.{action} (RequestId {handle})"
        try:
            if service == "bda" and getattr(response, "HasForeground", True) is False:
                raise ProviderRetryable(f"{what}: no person found in the photo")
            output = self._output(getattr(response, field, None), what)
        except ProviderError as error:
            return Submitted(handle=handle, status=JobStatus(state="failed", error=error))
        return Submitted(handle=handle, status=JobStatus(state="succeeded", outputs=(output,)))

    def poll(self, handle: str) -> JobStatus:
        # Only reached when a worker stopped between saving the handle and the result: the
        # answer is gone, so the step tries again.
        error = ProviderRetryable(f"tencent: synchronous action {handle}: its answer was lost")
        return JobStatus(state="failed", error=error)

    def _request(self, job: JobInput) -> tuple[str, str, dict[str, Any], str]:
        """(service, action, parameters, the response field holding the image) of a job."""
        options, urls, params = self.options, job.image_urls, job.params
        common = {"RspImgType": "base64", "LogoAdd": options.logo_add}
        if job.feature == "cutout":
            photo = _url(urls, "image")
            return "bda", "SegmentPortraitPic", {
                "Url": photo, "RspImgType": "base64", "Scene": options.cutout_scene,
            }, "ResultImage"  # fmt: skip
        if job.feature == "eraser":
            return "aiart", "ImageInpaintingRemoval", {
                "InputUrl": _url(urls, "image"), "MaskUrl": _url(urls, "mask"), **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "outpaint":
            ratio = params.get("ratio") or options.outpaint_default_ratio
            return "aiart", "ImageOutpainting", {
                "InputUrl": _url(urls, "image"), "Ratio": ratio, **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "outfit":
            outfit = options.outfit
            kind = outfit.clothes_types.get(
                str(params.get(outfit.type_field)), outfit.default_clothes_type
            )
            return "aiart", "ChangeClothes", {
                "ModelUrl": _url(urls, outfit.model_field),
                "ClothesUrl": _url(urls, outfit.clothes_field),
                "ClothesType": kind,
                **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "faceswap":
            fusion = options.facefusion
            merge = [{"Url": _url(urls, "face")}]
            if not fusion.project_id or not fusion.model_id:
                # The user's photo is the model, the user's face goes onto it.
                return "facefusion", "FuseFaceUltra", {
                    "ModelUrl": _url(urls, "image"), "MergeInfos": merge, **common,
                }, "FusedImage"  # fmt: skip
            # An activity's material from the console is the model; the photo is not used.
            request: dict[str, Any] = {
                "ProjectId": fusion.project_id,
                "ModelId": fusion.model_id,
                "MergeInfos": merge,
                **common,
            }
            if fusion.fuse_face_degree is not None:
                request["FuseFaceDegree"] = fusion.fuse_face_degree
            return "facefusion", "FuseFace", request, "FusedImage"
        raise ProviderUnavailable(f"tencent: feature {job.feature!r} is not served")

    def _output(self, value: object, what: str) -> Output:
        """The result image of a base64 answer (or, if Tencent answered a URL, that URL)."""
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return self._result_url(value, what)
        if not isinstance(value, str) or not value.strip():
            raise ProviderRetryable(f"{what}: succeeded without a result image")
        text = value.split(",", 1)[1] if value.startswith("data:") else value
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
            if not _complete(data, inspect_image(data).content_type):
                raise NotAnImage("truncated")
        except (binascii.Error, ValueError, NotAnImage) as exc:
            raise ProviderRetryable(f"{what}: the result is not an image ({exc})") from None
        return Output(data=data)


class HunyuanProvider(_TencentCloud[HunyuanOptions]):
    """Hunyuan image jobs: a prompt per feature, the photo as the reference image."""

    key = "hunyuan"

    def serves(self, feature: str) -> bool:
        """Whether the options hold a prompt template for `feature`."""
        return feature in self.options.prompts

    def submit(self, job: JobInput) -> Submitted:
        options = self.options
        template = options.prompts.get(job.feature)
        if template is None:
            raise ProviderUnavailable(f"hunyuan: no prompt template for feature {job.feature!r}")
        values = {name: str(value) for name, value in job.params.items()}
        ratio = str(job.params.get("ratio", ""))
        params: dict[str, Any] = {
            "Prompt": Template(template).safe_substitute(values)[:1024],
            "ContentImage": {"ImageUrl": _url(job.image_urls, "image")},
            "Resolution": RESOLUTIONS.get(ratio, options.default_resolution),
            "Num": 1,
            "Revise": options.revise,
            "LogoAdd": options.logo_add,
        }
        if options.negative_prompt:
            params["NegativePrompt"] = options.negative_prompt
        if options.style:
            params["Style"] = options.style
        response = self._call("hunyuan", "SubmitHunyuanImageJob", params)
        job_id = getattr(response, "JobId", None)
        if not isinstance(job_id, str) or not job_id:
            raise ProviderRetryable(
                f"hunyuan SubmitHunyuanImageJob: no JobId (RequestId {response.RequestId})"
            )
        return Submitted(handle=job_id)

    def poll(self, handle: str) -> JobStatus:
        response = self._call("hunyuan", "QueryHunyuanImageJob", {"JobId": handle})
        status = str(getattr(response, "JobStatusCode", None))
        what = f"hunyuan job {handle} (RequestId {response.RequestId})"
        if status in _PENDING_JOB:
            return JobStatus(state="pending")
        try:
            if status == "4":
                code = str(getattr(response, "JobErrorCode", None) or "")
                message = getattr(response, "JobErrorMsg", None)
                raise classify(code, f"{what}: failed {code} {message!s:.300}")
            if status != "5":
                raise ProviderRetryable(f"{what}: unknown JobStatusCode {status!r:.50}")
            urls = getattr(response, "ResultImage", None)
            if not isinstance(urls, list) or not urls:
                raise ProviderRetryable(f"{what}: done without ResultImage")
            outputs = tuple(self._result_url(url, what) for url in urls)
        except ProviderError as error:
            # Answered, but not with a usable result: the step moves on (retry, fallback).
            return JobStatus(state="failed", error=error)
        return JobStatus(state="succeeded", outputs=outputs)


def _complete(data: bytes, content_type: str) -> bool:
    """Whether an image's bytes run to their end marker (a cut-off answer does not)."""
    if content_type == "image/png":
        return data.endswith(b"IEND\xaeB`\x82")
    if content_type == "image/jpeg":
        return data.rstrip(b"\0").endswith(b"\xff\xd9")
    return int.from_bytes(data[4:8], "little") + 8 <= len(data)  # WebP: the RIFF size


def _url(urls: Mapping[str, str], name: str) -> str:
    url = urls.get(name)
    if not url:
        raise ProviderRetryable(f"tencent: the job has no input {name!r} (check the options)")
    return url
