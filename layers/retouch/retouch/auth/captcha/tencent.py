"""Tencent Cloud Captcha: `DescribeCaptchaResult` (API 3.0, version 2019-07-22, host
captcha.tencentcloudapi.com, no region), TC3-HMAC-SHA256-signed with the function's Tencent
Cloud keys (on SCF its run role's, which needs `captcha:DescribeCaptchaResult`; elsewhere
`TENCENTCLOUD_SECRETID` / `_SECRETKEY`). The body: `CaptchaType` 9, `Ticket` (the token),
`UserIp`, `Randstr`, `CaptchaAppId` (an integer) and `AppSecretKey`
(https://www.tencentcloud.com/document/api/1159/50367).

`Response.CaptchaCode` 1 passes; any other code refuses (7 Randstr mismatch, 8 expired, 9
reused, 15 undecryptable, 16 another app's ticket, 21 a risk or a disaster-recovery ticket,
100 a ticket not made by our app id), except 26 (the service's internal error) and 31 (no
valid package, account in arrears), which are no verdict about the client. A
`Response.Error` (signature, keys, limits) is no verdict either: `CaptchaUnreachable`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from retouch.auth.captcha.calls import post_for_answer
from retouch.auth.captcha.port import CaptchaUnreachable, Verdict
from retouch.core.metrics_tencent import tc3_headers
from retouch.core.settings import scf_role_credentials

ENDPOINT = "https://captcha.tencentcloudapi.com"
ACTION = "DescribeCaptchaResult"
VERSION = "2019-07-22"
SERVICE = "captcha"
PASSED = 1
#: CaptchaCodes about the service or our account, not about the client's ticket.
NO_VERDICT = frozenset({26, 31})


class TencentCaptchaVerifier:
    """`CaptchaVerifier` over Tencent Cloud Captcha's DescribeCaptchaResult."""

    provider = "tencent"

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: Callable[[], str],
        endpoint: str = ENDPOINT,
        timeout_s: float = 3.0,
    ) -> None:
        """`app_secret` reads the AppSecretKey (through the secrets port, cached there)."""
        self._app_id = int(app_id)
        self._app_secret = app_secret
        self._endpoint = (endpoint or ENDPOINT).rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def verify(self, token: str, *, remote_ip: str, randstr: str = "") -> Verdict:
        body = json.dumps(
            {
                "CaptchaType": 9,
                "Ticket": token,
                "UserIp": remote_ip,
                "Randstr": randstr,
                "CaptchaAppId": self._app_id,
                "AppSecretKey": self._app_secret(),
            },
            separators=(",", ":"),
        ).encode()
        if scf_role_credentials() is None:
            raise CaptchaUnreachable("tencent: no Tencent Cloud keys (TENCENTCLOUD_SECRETID/KEY)")
        headers = tc3_headers(
            endpoint=self._endpoint,
            action=ACTION,
            version=VERSION,
            region="",
            body=body,
            service=SERVICE,
        )
        url = self._endpoint + "/"
        answer = post_for_answer(
            self._client, url, provider=self.provider, content=body, headers=headers
        )
        return tencent_verdict(answer)


def tencent_verdict(answer: Any) -> Verdict:
    """The verdict in a DescribeCaptchaResult answer; CaptchaUnreachable when it holds none."""
    result = answer.get("Response") if isinstance(answer, dict) else None
    if not isinstance(result, dict):
        raise CaptchaUnreachable("tencent: an answer without Response")
    error = result.get("Error")
    if isinstance(error, dict):
        raise CaptchaUnreachable(f"tencent: {error.get('Code', 'an error')}")
    code = result.get("CaptchaCode")
    if not isinstance(code, int) or isinstance(code, bool):
        raise CaptchaUnreachable("tencent: an answer without CaptchaCode")
    if code == PASSED:
        return Verdict(passed=True)
    if code in NO_VERDICT:
        raise CaptchaUnreachable(f"tencent: CaptchaCode {code}")
    return Verdict(passed=False, reasons=(f"{code} {result.get('CaptchaMsg') or ''}".strip(),))
