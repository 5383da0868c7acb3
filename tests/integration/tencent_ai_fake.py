"""A loopback stand-in for the Tencent Cloud AI APIs the `tencent` and `hunyuan` providers call
(aiart ImageInpaintingRemoval / ImageOutpainting / ChangeClothes, bda SegmentPortraitPic,
facefusion FuseFace, hunyuan SubmitHunyuanImageJob / QueryHunyuanImageJob).

Every request's TC3-HMAC-SHA256 signature is checked (`tencent_sts_fake.tc3_signature_error`,
the key pair of `cos_fake`); the service comes from the credential scope (every service shares
the fake's one endpoint), and the action, version, region and each action's required fields are
checked. Answers have the documented shapes: `{"Response": {..., "RequestId"}}`, errors
`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`, both with HTTP 200. A test scripts
the next answers of an action (`FakeTencentAI.script`): an error code, malformed JSON, an HTML
page, a slow or hanging answer, or any body; unscripted calls succeed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import serving
from tests.integration.tencent_sts_fake import tc3_signature_error
from tests.unit.image_support import png

VERSIONS = {"aiart": "2022-12-29", "bda": "2020-03-24", "facefusion": "2022-09-27"}
VERSIONS["hunyuan"] = "2023-09-01"
RATIOS = {"1:1", "4:3", "3:4", "16:9", "9:16"}
#: The image every successful edit answers with (in base64).
RESULT = png(24, 16)
RESULT_HOST = "aiart-1258344699.cos.ap-guangzhou.myqcloud.com"

Params = dict[str, Any]


def _either(params: Params, *names: str) -> bool:
    return any(params.get(name) for name in names)


#: (service, action) → why its parameters are invalid, or None.
CHECKS: dict[tuple[str, str], Callable[[Params], str | None]] = {
    ("bda", "SegmentPortraitPic"): lambda p: (
        None if _either(p, "Image", "Url") and p.get("Scene", "GEN") in ("GEN", "GS")
        else "Image or Url required"
    ),
    ("aiart", "ImageInpaintingRemoval"): lambda p: (
        None if _either(p, "InputImage", "InputUrl") and _either(p, "Mask", "MaskUrl")
        else "InputImage/InputUrl and Mask/MaskUrl required"
    ),
    ("aiart", "ImageOutpainting"): lambda p: (
        None if _either(p, "InputImage", "InputUrl") and p.get("Ratio") in RATIOS
        else "InputUrl and a valid Ratio required"
    ),
    ("aiart", "ChangeClothes"): lambda p: (
        None if p.get("ModelUrl") and p.get("ClothesUrl")
        and p.get("ClothesType") in ("Upper-body", "Lower-body", "Dress")
        else "ModelUrl, ClothesUrl and a valid ClothesType required"
    ),
    ("facefusion", "FuseFace"): lambda p: (
        None if p.get("ProjectId") and p.get("ModelId") and p.get("RspImgType")
        and isinstance(p.get("MergeInfos"), list) and p["MergeInfos"]
        and all(_either(info, "Image", "Url") for info in p["MergeInfos"])
        else "ProjectId, ModelId, RspImgType and MergeInfos required"
    ),
    ("facefusion", "FuseFaceUltra"): lambda p: (
        None if _either(p, "ModelUrl", "ModelImage") and p.get("RspImgType")
        and isinstance(p.get("MergeInfos"), list) and p["MergeInfos"]
        and all(_either(info, "Image", "Url") for info in p["MergeInfos"])
        else "ModelUrl or ModelImage, RspImgType and MergeInfos required"
    ),
    ("hunyuan", "SubmitHunyuanImageJob"): lambda p: (
        None if isinstance(p.get("Prompt"), str) and 0 < len(p["Prompt"]) <= 1024
        else "Prompt required (at most 1024 characters)"
    ),
    ("hunyuan", "QueryHunyuanImageJob"): lambda p: None if p.get("JobId") else "JobId required",
}  # fmt: skip


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a `Response` body (RequestId added), or raw bytes with an HTTP
    status and content type; sent after `delay_s`, or never (`hang`) until the fake stops."""

    response: Params | None = None
    raw: bytes | None = None
    status: int = 200
    content_type: str = "application/json"
    delay_s: float = 0.0
    hang: bool = False


def error(code: str, message: str = "scripted error") -> Reply:
    return Reply(response={"Error": {"Code": code, "Message": message}})


MALFORMED = Reply(raw=b'{"Response": {"ResultImage": "iVBOR', content_type="application/json")
HTML = Reply(
    raw=b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>",
    status=502,
    content_type="text/html",
)
HANG = Reply(hang=True)


def slow(delay_s: float) -> Reply:
    """A correct answer, sent after `delay_s`."""
    return Reply(delay_s=delay_s)


@dataclass
class Call:
    """One request the fake accepted (signature valid): its service, action and parameters."""

    service: str
    action: str
    params: Params
    region: str | None
    token: str | None


@dataclass
class FakeTencentAI:
    """The fake's state: scripted answers per action, the calls received (and refused), the
    Hunyuan jobs, the result downloads (`GET /result/...`)."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    jobs: dict[str, list[Params]] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, action: str, *replies: Reply) -> None:
        """The next answers of `action` (then the default success)."""
        self.scripts.setdefault(action, []).extend(replies)

    def script_job(self, *states: Params) -> None:
        """The QueryHunyuanImageJob answers of the next submitted job, in order (the last one
        repeats); by default a job is done at its first query."""
        self.jobs["next"] = list(states)

    def actions(self) -> list[str]:
        return [call.action for call in self.calls]

    def answer(self, headers: dict[str, str], body: bytes) -> Reply:
        problem = tc3_signature_error(headers, body)
        if problem is not None:
            self.refused.append(problem)
            return error("AuthFailure.SignatureFailure", problem)
        service = headers["authorization"].split("Credential=", 1)[1].split("/")[2]
        action = headers.get("x-tc-action", "")
        if headers.get("x-tc-version") != VERSIONS.get(service):
            return error("InvalidParameterValue.Version", f"{service} {headers}")
        check = CHECKS.get((service, action))
        if check is None:
            return error("InvalidAction", f"{service} {action} is not faked")
        if not headers.get("x-tc-region"):
            return error("MissingParameter", "X-TC-Region")
        params = json.loads(body)
        self.calls.append(
            Call(service, action, params, headers.get("x-tc-region"), headers.get("x-tc-token"))
        )
        problem = check(params)
        if problem is not None:
            return error("InvalidParameter", problem)
        scripted = self.scripts.get(action)
        if scripted:
            reply = scripted.pop(0)
            if reply.response is not None or reply.raw is not None or reply.hang:
                return reply
            return Reply(response=self._success(action, params), delay_s=reply.delay_s)
        return Reply(response=self._success(action, params))

    def _success(self, action: str, params: Params) -> Params:
        image = base64.b64encode(RESULT).decode()
        if action == "SegmentPortraitPic":
            return {"ResultImage": image, "ResultMask": image, "HasForeground": True}
        if action in ("FuseFace", "FuseFaceUltra"):
            return {"FusedImage": image}
        if action == "SubmitHunyuanImageJob":
            job_id = f"1{uuid.uuid4().int % 10**18:018d}"
            self.jobs[job_id] = self.jobs.pop("next", [])
            return {"JobId": job_id}
        if action == "QueryHunyuanImageJob":
            states = self.jobs.get(params["JobId"])
            if states is None:
                return {"Error": {"Code": "FailedOperation.JobNotExist", "Message": "no job"}}
            if states:
                return states.pop(0) if len(states) > 1 else states[0]
            return done(f"https://{RESULT_HOST}/result/{params['JobId']}.png")
        return {"ResultImage": image}


def done(*urls: str) -> Params:
    """A QueryHunyuanImageJob answer of a finished job."""
    return {
        "JobStatusCode": "5",
        "JobStatusMsg": "处理完成",
        "JobErrorCode": "",
        "JobErrorMsg": "",
        "ResultImage": list(urls),
        "ResultDetails": ["Success"] * len(urls),
        "RevisedPrompt": ["revised"],
    }


def job_state(code: str, **fields: Any) -> Params:
    """A QueryHunyuanImageJob answer with JobStatusCode `code` (1 waiting, 2 running, 4 failed)."""
    messages = {"1": "等待中", "2": "运行中", "4": "处理失败"}
    base = {"JobStatusCode": code, "JobStatusMsg": messages.get(code, "?"), "JobErrorCode": ""}
    return {**base, "JobErrorMsg": "", "ResultImage": [], "ResultDetails": [], **fields}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on the recorded calls."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.server.fake
        reply = fake.answer(headers, body)
        if reply.hang:
            fake.stopping.wait()
            return
        if reply.delay_s:
            fake.stopping.wait(reply.delay_s)
        data = reply.raw
        if data is None:
            data = json.dumps(
                {"Response": {**(reply.response or {}), "RequestId": _rid()}}
            ).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (read timeout) before it
            self.wfile.write(data)

    def do_GET(self) -> None:
        """A result image (`/result/<name>`), as COS serves Hunyuan's results."""
        self.server.fake.downloads.append(self.path)
        found = self.path.startswith("/result/")
        data = RESULT if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "image/png" if found else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    fake: FakeTencentAI
    daemon_threads = True


def _rid() -> str:
    return str(uuid.uuid4())


@contextmanager
def running_fake_tencent_ai() -> Iterator[FakeTencentAI]:
    """The fake on a free loopback port (its `url` set); hanging answers end when it stops."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeTencentAI()
    with serving(server) as url:
        server.fake.url = url
        try:
            yield server.fake
        finally:
            server.fake.stopping.set()
