"""The `runninghub` provider: RunningHub's open API (ComfyUI workflows and AI apps).

Wire (all `POST`, JSON, `apiKey` in the body and as `Authorization: Bearer`; the answer is
HTTP 200 with `{code, msg, data}`, code 0 for success):
- submit: `/task/openapi/create {workflowId, nodeInfoList}` or `/task/openapi/ai-app/run
  {webappId, nodeInfoList}` (which one, and the node fields, per feature from
  `RunningHubOptions`), with `webhookUrl` and `instanceType` when set → `data.taskId` (the
  handle) and `data.promptTips`, stringified JSON whose non-empty `node_errors` refuse the input.
- poll: `/task/openapi/outputs {taskId}` → code 0 with `data: [{fileUrl, fileType}]`; 804/813
  still running/queued; 805 failed with `data.failedReason` (kept in the error's detail).
- cancel: `/task/openapi/cancel {taskId}`; 807 (no such task) and 817 (too late) are fine.
- upload (a feature with `upload: true`): our image, downloaded from its presigned URL, goes
  multipart to `/task/openapi/upload {apiKey, file, fileType=image}`; `data.fileName` is the
  node's value instead of the URL.
- callbacks are unsigned `{event, taskId, eventData}`: only a prompt to poll.

RunningHub has no idempotency key: a submit that times out may have created a task we never
learn of (the engine's next attempt creates another). httpx is imported and the client built
on the first call, so importing this module costs nothing at a cold start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from retouch.providers.http import Timeouts, VendorClient, result_url_allowed, sent, vendor_client
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
from retouch.providers.runninghub_options import AppTask, FeatureTask, RunningHubOptions

USER_AGENT = "retouch-provider/runninghub"
IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "webp"})
PENDING_CODES = frozenset({804, 813})
FAILED_CODE = 805
#: TASK_NOT_FOUNED (sic) and TASK_NOT_FOUND.
GONE_CODES = frozenset({423, 807})
MAX_UPLOAD_BYTES = 30 * 1024 * 1024  # the upload API's limit per file
#: Cancel answers that mean there is nothing (more) to cancel.
CANCEL_DONE_CODES = frozenset({0, 423, 807, 817})
#: The vendor's capacity is full (shared queue, dedicated instance): wait, no breaker strike.
BUSY_CODES = frozenset({415, 421})
#: The request built from the user's input is refused; the same input cannot pass.
INPUT_CODES = frozenset({301, 433})
#: Our key, account, funds or configuration: the next provider at once, and the breaker keeps
#: a broken account out of the chain (free user, unauthorized, user not found, corp key
#: invalid, insufficient funds; workflow or app missing, node info invalid).
ACCOUNT_CODES = frozenset({801, 802, 806, 811, 812, 380, 803, 901})
#: Anything else — 500 and codes we do not know — is retryable.


class FeatureNotConfigured(ProviderUnavailable):
    """The options name no RunningHub task for the feature: a gap in the operator's
    configuration, not a fault of the input, so the chain moves on to its next provider."""


class RunningHubProvider:
    """RunningHub over HTTP: every failure is mapped to the port's error classes."""

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        options: RunningHubOptions,
        timeouts: Timeouts | None = None,
        *,
        key: str = "runninghub",
    ) -> None:
        self.key = key
        self.endpoint = endpoint.rstrip("/")
        #: The hosts the `store` step may fetch this provider's results from.
        self.result_hosts = frozenset(
            options.result_hosts or {(urlsplit(self.endpoint).hostname or "").lower()}
        )
        self._api_key = api_key
        self._options = options
        self._timeouts = timeouts or Timeouts()
        self._client = VendorClient(
            self.endpoint,
            {"Authorization": f"Bearer {self._api_key}", "User-Agent": USER_AGENT},
            self._timeouts,
        )

    def serves(self, feature: str) -> bool:
        """Whether the options name a RunningHub task for `feature`."""
        return feature in self._options.features

    def submit(self, job: JobInput) -> Submitted:
        task = self._options.features.get(job.feature)
        if task is None:
            raise FeatureNotConfigured(f"runninghub: feature {job.feature!r} is not configured")
        images = {field: job.image_urls[field] for field in task.images if field in job.image_urls}
        if task.upload:
            images = {field: self._upload(field, url) for field, url in images.items()}
        payload: dict[str, Any] = {"nodeInfoList": node_info_list(task, images, job.params)}
        if isinstance(task, AppTask):
            path, payload["webappId"] = "/task/openapi/ai-app/run", task.webapp_id
        else:
            path, payload["workflowId"] = "/task/openapi/create", task.workflow_id
        if job.callback_url is not None:
            payload["webhookUrl"] = job.callback_url
        if self._options.instance_type is not None:
            payload["instanceType"] = self._options.instance_type
        data = self._call(path, payload)
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, (str, int)) or isinstance(task_id, bool) or not str(task_id):
            raise ProviderRetryable(f"runninghub {path}: no taskId in {data!r}")
        refused = node_errors(data.get("promptTips"))
        if refused:
            self._cancel_quietly(str(task_id))
            raise ProviderPermanent(f"runninghub {path}: task {task_id} node_errors {refused}")
        return Submitted(handle=str(task_id))

    def poll(self, handle: str) -> JobStatus:
        path = "/task/openapi/outputs"
        code, message, data = self._answer(path, {"taskId": handle})
        if code in PENDING_CODES:
            return JobStatus(state="pending")
        if code == FAILED_CODE:
            reason = data.get("failedReason") if isinstance(data, dict) else data
            detail = f"runninghub task {handle} failed: {json.dumps(reason)[:800]}"
            return JobStatus(state="failed", error=ProviderRetryable(detail))
        if code in GONE_CODES:
            # The vendor lost the task: over, so the engine resubmits or falls back.
            detail = f"runninghub {path}: task {handle} not found (code {code})"
            return JobStatus(state="failed", error=ProviderRetryable(detail))
        if code != 0:
            # Nothing about the input can be wrong in asking for outputs: ask again later.
            raise ProviderRetryable(f"runninghub {path}: code {code} {message[:200]}")
        try:
            return JobStatus(state="succeeded", outputs=self._outputs(handle, data))
        except ProviderRetryable as error:
            # The vendor says done but gave nothing we can use: this job is over, and the
            # engine retries or falls back (a pending status would wait for the deadline).
            return JobStatus(state="failed", error=error)

    def cancel(self, handle: str) -> None:
        path = "/task/openapi/cancel"
        code, message, _ = self._answer(path, {"taskId": handle})
        if code not in CANCEL_DONE_CODES:
            raise code_error(path, code, message)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        """Names the task only: RunningHub does not sign its webhooks, so nothing in the body
        is trusted; the engine asks `/outputs` itself. The event id is the task id and a
        digest of `eventData`, so a redelivery of the same webhook is a replay."""
        try:
            event = json.loads(body)
        except ValueError:
            raise InvalidCallback("runninghub callback: body is not JSON") from None
        if not isinstance(event, dict):
            raise InvalidCallback("runninghub callback: body is not an object")
        task_id, event_data = event.get("taskId"), event.get("eventData", "")
        if isinstance(task_id, int) and not isinstance(task_id, bool):
            task_id = str(task_id)
        if not isinstance(task_id, str) or not task_id or len(task_id) > 64:
            raise InvalidCallback("runninghub callback: no taskId")
        if not isinstance(event.get("event"), str) or not isinstance(event_data, str):
            raise InvalidCallback("runninghub callback: event or eventData missing")
        digest = hashlib.sha256(event_data.encode()).hexdigest()
        return CallbackEvent(handle=task_id, event_id=f"{task_id}:{digest}")

    def close(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        self._client.close()

    def _upload(self, field: str, url: str) -> str:
        """The RunningHub file name of the image at `url` (our storage), uploaded."""
        path = "/task/openapi/upload"
        files = {"file": (f"{field}.png", self._download(url), "image/png")}
        data = self._call(path, {"fileType": "image"}, files=files)
        name = data.get("fileName") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name:
            raise ProviderRetryable(f"runninghub {path}: no fileName in {data!r}")
        return name

    def _download(self, url: str) -> bytes:
        """An input image from our storage's presigned URL: a plain request (the client of
        the API would send our key along), capped at the upload limit."""
        import httpx

        timeout = httpx.Timeout(self._timeouts.read_s, connect=self._timeouts.connect_s)
        with vendor_client(max_response_bytes=MAX_UPLOAD_BYTES + 1, timeout=timeout) as client:
            response = sent("runninghub upload: input download", lambda: client.get(url))
        if response.status_code != 200 or len(response.content) > MAX_UPLOAD_BYTES:
            raise ProviderRetryable(
                f"runninghub upload: input answered {response.status_code}, "
                f"{len(response.content)} bytes"
            )
        return response.content

    def _outputs(self, handle: str, data: object) -> tuple[Output, ...]:
        if not isinstance(data, list):
            raise ProviderRetryable(f"runninghub task {handle}: outputs not a list: {data!r}")
        outputs = []
        for item in data:
            url = item.get("fileUrl") if isinstance(item, dict) else None
            kind = item.get("fileType") if isinstance(item, dict) else None
            if not isinstance(url, str) or str(kind).lower() not in IMAGE_TYPES:
                continue  # a video, a text file of the workflow: not a result of ours
            # A result is fetched by the store step: only from the vendor's configured hosts.
            if not result_url_allowed(url, self.result_hosts):
                raise ProviderRetryable(f"runninghub task {handle}: result off the hosts: {url}")
            outputs.append(Output(url=url))
        if not outputs:
            raise ProviderRetryable(f"runninghub task {handle}: succeeded without images {data!r}")
        return tuple(outputs)

    def _call(self, path: str, payload: dict[str, Any], *, files: Any = None) -> Any:
        """The `data` of a code-0 answer; a ProviderError for any other."""
        code, message, data = self._answer(path, payload, files=files)
        if code != 0:
            raise code_error(path, code, message)
        return data

    def _answer(
        self, path: str, payload: dict[str, Any], *, files: Any = None
    ) -> tuple[int, str, Any]:
        """`(code, msg, data)` of a well-formed answer; ProviderRetryable otherwise. With
        `files` the request is multipart (the upload), else JSON."""
        body = {"apiKey": self._api_key, **payload}
        response = sent(
            f"runninghub {path}",
            lambda: (
                self._client.get().post(path, json=body)
                if files is None
                else self._client.get().post(path, data=body, files=files)
            ),
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        code = answer.get("code") if isinstance(answer, dict) else None
        if not response.is_success or not isinstance(answer, dict) or type(code) is not int:
            raise ProviderRetryable(
                f"runninghub {path}: HTTP {response.status_code} {response.text[:200]!r}"
            )
        return code, str(answer.get("msg", "")), answer.get("data")

    def _cancel_quietly(self, handle: str) -> None:
        # Best effort: the job fails on its node_errors either way.
        with contextlib.suppress(ProviderError):
            self.cancel(handle)


def node_info_list(
    task: FeatureTask, images: Mapping[str, str], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The task's `nodeInfoList`: its constants, then each configured image (`images`: field
    → presigned URL or uploaded file name) and param the job has."""
    entries = [(c.node_id, c.field_name, c.field_value) for c in task.constants]
    for values, nodes in ((images, task.images), (params, task.params)):
        entries += [
            (node.node_id, node.field_name, values[name])
            for name, node in nodes.items()
            if name in values
        ]
    return [{"nodeId": n, "fieldName": f, "fieldValue": v} for n, f, v in entries]


def node_errors(prompt_tips: object) -> object:
    """The non-empty `node_errors` of a create answer's `promptTips` (stringified JSON), or
    None. Tips that do not parse are no refusal: the task exists and is polled."""
    if isinstance(prompt_tips, str):
        try:
            prompt_tips = json.loads(prompt_tips)
        except ValueError:
            return None
    errors = prompt_tips.get("node_errors") if isinstance(prompt_tips, dict) else None
    return errors or None


def code_error(path: str, code: int, message: str) -> ProviderError:
    """The port's error for a RunningHub code other than success (see the code sets)."""
    detail = f"runninghub {path}: code {code} {message[:200]}"
    if code in BUSY_CODES:
        return ProviderBusy(detail)
    if code in INPUT_CODES:
        return ProviderPermanent(detail)
    if code in ACCOUNT_CODES:
        return ProviderUnavailable(detail)
    return ProviderRetryable(detail)
