"""Loopback stand-ins for the two CAPTCHA providers' verification APIs, for the tests
(`tests/integration/captcha_fake.py`) and the local stack (`STACK_CAPTCHA`, scripts/run).

- hCaptcha's `POST /siteverify`: a form-encoded body with `secret` (must be `SECRET`),
  `response`, `remoteip` and `sitekey` (must be `SITE_KEY`); answers
  `{"success", "error-codes", "hostname"}` as documented
  (https://docs.hcaptcha.com/#verify-the-user-response-server-side).
- Tencent Cloud Captcha's `DescribeCaptchaResult` (API 3.0, 2019-07-22): the TC3-HMAC-SHA256
  signature (checked by the `signature_error` the fake is given; the scope's service `captcha`), the
  action and version headers, no region (the API takes none), and the body's `CaptchaType`
  9, `Ticket`, `UserIp`, `Randstr`, `CaptchaAppId` (the integer `APP_ID`) and `AppSecretKey`
  (`SECRET`); answers `{"Response": {"CaptchaCode", "CaptchaMsg", "EvilLevel", "RequestId"}}`
  or `{"Response": {"Error": ...}}` (https://www.tencentcloud.com/document/api/1159/50367).

A token passes when it is one `solved()` handed out and not used yet (each passes once, as
the real ones do; Tencent's with the randstr it was handed out with); `POST /solve` hands one
out over HTTP, as a solved widget would (`{"token", "randstr"}`). `mode` makes it fail:
`"500"` answers HTTP 500, `"hang"` answers after `hang_s`. Every call is recorded, with the
reason a malformed one was refused (`refused`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retouch.core.metrics_tencent import tc3_authorization
from scripts.local.servers import serving_app

__all__ = ["APP_ID", "SECRET", "SITE_KEY", "FakeCaptcha", "running_fake_captcha"]

#: Why a request's TC3 signature is wrong (None when right), given its lower-case headers
#: and body.
SignatureCheck = Callable[[Mapping[str, str], bytes], str | None]

SECRET = "0x-fake-captcha-secret-0123456789"  # noqa: S105 - the fake's own, nothing real
SITE_KEY = "10000000-ffff-ffff-ffff-000000000001"
APP_ID = 190000001


@dataclass
class FakeCaptcha:
    """Both providers' verification endpoints on one loopback server: `hcaptcha_url` and
    `tencent_url`."""

    signature_error: SignatureCheck
    url: str = ""
    mode: str = "ok"
    hang_s: float = 2.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _open: dict[str, str] = field(default_factory=dict)

    @property
    def hcaptcha_url(self) -> str:
        return self.url + "/siteverify"

    @property
    def tencent_url(self) -> str:
        return self.url

    def solved(self) -> tuple[str, str]:
        """A token and its randstr, as a client's widget hands them over once solved."""
        token, randstr = "P1_" + secrets.token_urlsafe(24), secrets.token_hex(4)
        self._open[token] = randstr
        return token, randstr

    def spend(self, token: str, randstr: str | None) -> bool:
        """Whether `token` (with `randstr`, when given) is open; spends it."""
        expected = self._open.pop(token, None)
        return expected is not None and (randstr is None or randstr == expected)


def _hcaptcha(fake: FakeCaptcha, body: bytes) -> dict[str, Any]:
    form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
    fake.calls.append({"provider": "hcaptcha", **form})
    if form.get("secret") != SECRET:
        return {"success": False, "error-codes": ["invalid-input-secret"]}
    if form.get("sitekey") != SITE_KEY:
        return {"success": False, "error-codes": ["sitekey-secret-mismatch"]}
    if not form.get("response"):
        return {"success": False, "error-codes": ["missing-input-response"]}
    if not fake.spend(form["response"], None):
        return {"success": False, "error-codes": ["invalid-or-already-seen-response"]}
    return {"success": True, "hostname": "app.example.com", "challenge_ts": "2026-12-06T08:00:00Z"}


def _tencent_error(fake: FakeCaptcha, headers: Mapping[str, str], body: bytes) -> str | None:
    error = fake.signature_error(headers, body)
    if error is not None:
        return error
    if "/captcha/tc3_request" not in headers["authorization"]:
        return "the credential scope's service is not captcha"
    if headers.get("x-tc-action") != "DescribeCaptchaResult":
        return "InvalidAction"
    if headers.get("x-tc-version") != "2019-07-22":
        return "InvalidVersion"
    if headers.get("x-tc-region"):
        return "DescribeCaptchaResult takes no region"
    return None


def _field_error(request: dict[str, Any]) -> str | None:
    if request.get("CaptchaType") != 9:
        return "CaptchaType must be 9"
    if request.get("CaptchaAppId") != APP_ID:
        return "CaptchaAppId must be the app's id, an integer"
    if request.get("AppSecretKey") != SECRET:
        return "AppSecretKey is not the app's"
    for name in ("Ticket", "UserIp", "Randstr"):
        if not isinstance(request.get(name), str) or not request[name]:
            return f"{name} missing"
    return None


def _tencent(fake: FakeCaptcha, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    error = _tencent_error(fake, headers, body)
    request = json.loads(body) if error is None else {}
    fake.calls.append({"provider": "tencent", **request})
    error = error or _field_error(request)
    if error is not None:
        fake.refused.append(error)
        return {"Error": {"Code": "InvalidParameter", "Message": error}}
    if not fake.spend(request["Ticket"], request["Randstr"]):
        return {"CaptchaCode": 9, "CaptchaMsg": "ticket reused", "EvilLevel": 0}
    return {"CaptchaCode": 1, "CaptchaMsg": "OK", "EvilLevel": 0}


def signed_by(secret_id: str, secret_key: str) -> SignatureCheck:
    """The local stack's signature check: the request's `Authorization` made again with these
    keys (`tc3_authorization`, the signer's own maths: the tests check with an independent
    one)."""

    def error(headers: Mapping[str, str], body: bytes) -> str | None:
        authorization = headers.get("authorization", "")
        try:
            names = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
            signed = {name: headers[name] for name in names}
            timestamp = int(headers["x-tc-timestamp"])
        except (IndexError, KeyError, ValueError):
            return "not TC3-signed"
        expected = tc3_authorization(
            secret_id=secret_id,
            secret_key=secret_key,
            service="captcha",
            timestamp=timestamp,
            signed=signed,
            body=body,
        )
        return None if hmac.compare_digest(expected, authorization) else "signature mismatch"

    return error


def captcha_app(fake: FakeCaptcha) -> Starlette:
    """The fake's routes: hCaptcha's `/siteverify`, Tencent's `/` and `/solve`."""

    async def answer(request: Request) -> Response:
        body = await request.body()
        if fake.mode == "hang":
            await asyncio.sleep(fake.hang_s)
        if fake.mode == "500":
            return Response(b"internal error", status_code=500)
        if request.url.path == "/siteverify":
            return JSONResponse(_hcaptcha(fake, body))
        headers = {name.lower(): value for name, value in request.headers.items()}
        return JSONResponse({"Response": {**_tencent(fake, headers, body), "RequestId": "fake"}})

    async def solve(request: Request) -> JSONResponse:
        token, randstr = fake.solved()
        return JSONResponse({"token": token, "randstr": randstr})

    return Starlette(
        routes=[
            Route("/siteverify", answer, methods=["POST"]),
            Route("/", answer, methods=["POST"]),
            Route("/solve", solve, methods=["POST"]),
        ]
    )


@contextmanager
def running_fake_captcha(signature_error: SignatureCheck, port: int = 0) -> Iterator[FakeCaptcha]:
    """Both fakes on a loopback port (a free one by default)."""
    fake = FakeCaptcha(signature_error)
    with serving_app(captcha_app(fake), port=port) as url:
        fake.url = url
        yield fake
