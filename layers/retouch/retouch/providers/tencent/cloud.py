"""What both Tencent Cloud adapters share: credentials, one lazily built SDK client per
service, and the mapping of the SDK's errors onto the port's.

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

import importlib
import json
import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from retouch.providers.http import result_url_allowed
from retouch.providers.port import (
    CallbackEvent,
    InvalidCallback,
    Output,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
)
from retouch.providers.tencent_options import TencentCloudOptions

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
#: Our keys, account or service state: the next provider at once (breaker strike).
ACCOUNT_PREFIXES = ("AuthFailure", "ResourceUnavailable.", "UnauthorizedOperation")
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


def input_url(urls: Mapping[str, str], name: str) -> str:
    """The presigned URL of the job's input `name`; retryable when the job has none."""
    url = urls.get(name)
    if not url:
        raise ProviderRetryable(f"tencent: the job has no input {name!r} (check the options)")
    return url


class TencentCloudAdapter(Generic[OptionsT]):
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
