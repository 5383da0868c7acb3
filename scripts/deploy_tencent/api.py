"""The Tencent Cloud APIs the deploy calls, through tencentcloud-sdk-python's service clients
(which sign every request with TC3-HMAC-SHA256).

Credentials come from `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY` (and
`TENCENTCLOUD_SESSION_TOKEN` for temporary ones); `RETOUCH_DEPLOY_TENCENT_ENDPOINT`
(`http://127.0.0.1:port`) sends every call to one endpoint instead of each service's own, which
is how the offline test points the deploy at its loopback fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.apigateway.v20180808.apigateway_client import ApigatewayClient
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416.scf_client import ScfClient

CLIENTS: dict[str, type[AbstractClient]] = {"scf": ScfClient, "apigateway": ApigatewayClient}
_PAGE = 100


class CloudError(RuntimeError):
    """An API call failed; `code` is Tencent Cloud's error code (e.g. ResourceNotFound)."""

    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message}")
        self.code = code


class TencentApi:
    """Calls `service`'s `action` with JSON parameters; answers the `Response` object."""

    def __init__(self, region: str, environ: Mapping[str, str]) -> None:
        missing = [
            n for n in ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY") if not environ.get(n)
        ]
        if missing:
            raise CloudError("credentials", "MissingCredentials", f"set {' and '.join(missing)}")
        credential = Credential(
            environ["TENCENTCLOUD_SECRET_ID"],
            environ["TENCENTCLOUD_SECRET_KEY"],
            environ.get("TENCENTCLOUD_SESSION_TOKEN") or None,
        )
        endpoint = environ.get("RETOUCH_DEPLOY_TENCENT_ENDPOINT", "")
        self._clients: dict[str, AbstractClient] = {}
        for service, client_type in CLIENTS.items():
            http = HttpProfile(reqTimeout=120)
            if endpoint:
                parts = urlsplit(endpoint)
                http = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, reqTimeout=120)
            self._clients[service] = client_type(
                credential, region, ClientProfile(httpProfile=http)
            )

    def call(self, service: str, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            answer = self._clients[service].call_json(action, dict(params))
        except TencentCloudSDKException as exc:
            raise CloudError(action, exc.get_code() or "Error", exc.get_message() or "") from exc
        response: dict[str, Any] = answer["Response"]
        return response

    def listed(
        self, service: str, action: str, params: Mapping[str, Any], items: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged `Describe*` answer (`Result.<items>`, `Result.TotalCount`)."""
        offset = 0
        while True:
            result = self.call(service, action, {**params, "Limit": _PAGE, "Offset": offset})
            page = result["Result"].get(items) or []
            yield from page
            offset += len(page)
            if not page or offset >= int(result["Result"].get("TotalCount", 0)):
                return


def invoke_result(response: Mapping[str, Any]) -> Any:
    """The return value of a synchronous `Invoke`, or CloudError for a failed invocation."""
    result = response["Result"]
    if result.get("InvokeResult", 0) != 0 or result.get("ErrMsg"):
        raise CloudError(
            "Invoke", "FunctionError", result.get("ErrMsg") or result.get("RetMsg", "")
        )
    return json.loads(result["RetMsg"]) if result.get("RetMsg") else None
