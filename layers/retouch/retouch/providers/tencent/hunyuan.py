"""`HunyuanProvider` (key `hunyuan`): SubmitHunyuanImageJob (the feature's prompt template
filled from the form, the photo as `ContentImage`), polled with QueryHunyuanImageJob
(JobStatusCode 1/2 pending, 4 failed, 5 done with `ResultImage` URLs on `result_hosts`).
"""

from __future__ import annotations

from string import Template
from typing import Any

from retouch.providers.port import (
    JobInput,
    JobStatus,
    ProviderError,
    ProviderRetryable,
    ProviderUnavailable,
    Submitted,
)
from retouch.providers.tencent.cloud import TencentCloudAdapter, classify, input_url
from retouch.providers.tencent_options import HunyuanOptions

#: Ratio → Hunyuan `Resolution` of the same shape.
RESOLUTIONS = {
    "1:1": "1024:1024",
    "4:3": "1024:768",
    "3:4": "768:1024",
    "16:9": "1280:720",
    "9:16": "720:1280",
}
_PENDING_JOB = frozenset({"1", "2"})


class HunyuanProvider(TencentCloudAdapter[HunyuanOptions]):
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
            "ContentImage": {"ImageUrl": input_url(job.image_urls, "image")},
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
