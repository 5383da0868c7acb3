"""`TencentProvider` (key `tencent`): the synchronous Tencent Cloud AI edit actions. cutout →
bda SegmentPortraitPic, eraser → aiart ImageInpaintingRemoval (photo and mask URLs), outpaint →
aiart ImageOutpainting, outfit → aiart ChangeClothes, faceswap → facefusion FuseFaceUltra
(the user's face onto the user's photo; FuseFace onto a console activity's material when
one is configured). Inputs go as the presigned GET URLs of our storage; results are asked for
in base64, decoded and checked to be an image here, so they come back as `Output(data=...)`
(no vendor URL to fetch before it expires). `submit` answers with the end state.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from retouch.images.inspection import NotAnImage, inspect_image
from retouch.providers.port import (
    JobInput,
    JobStatus,
    Output,
    ProviderError,
    ProviderRetryable,
    ProviderUnavailable,
    Submitted,
)
from retouch.providers.tencent.cloud import TencentCloudAdapter, input_url
from retouch.providers.tencent_options import TencentOptions

#: The features the edit actions serve.
FEATURES = frozenset({"cutout", "eraser", "outpaint", "outfit", "faceswap"})


class TencentProvider(TencentCloudAdapter[TencentOptions]):
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
            photo = input_url(urls, "image")
            return "bda", "SegmentPortraitPic", {
                "Url": photo, "RspImgType": "base64", "Scene": options.cutout_scene,
            }, "ResultImage"  # fmt: skip
        if job.feature == "eraser":
            return "aiart", "ImageInpaintingRemoval", {
                "InputUrl": input_url(urls, "image"), "MaskUrl": input_url(urls, "mask"), **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "outpaint":
            ratio = params.get("ratio") or options.outpaint_default_ratio
            return "aiart", "ImageOutpainting", {
                "InputUrl": input_url(urls, "image"), "Ratio": ratio, **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "outfit":
            outfit = options.outfit
            kind = outfit.clothes_types.get(
                str(params.get(outfit.type_field)), outfit.default_clothes_type
            )
            return "aiart", "ChangeClothes", {
                "ModelUrl": input_url(urls, outfit.model_field),
                "ClothesUrl": input_url(urls, outfit.clothes_field),
                "ClothesType": kind,
                **common,
            }, "ResultImage"  # fmt: skip
        if job.feature == "faceswap":
            fusion = options.facefusion
            merge = [{"Url": input_url(urls, "face")}]
            if not fusion.project_id or not fusion.model_id:
                # The user's photo is the model, the user's face goes onto it.
                return "facefusion", "FuseFaceUltra", {
                    "ModelUrl": input_url(urls, "image"), "MergeInfos": merge, **common,
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


def _complete(data: bytes, content_type: str) -> bool:
    """Whether an image's bytes run to their end marker (a cut-off answer does not)."""
    if content_type == "image/png":
        return data.endswith(b"IEND\xaeB`\x82")
    if content_type == "image/jpeg":
        return data.rstrip(b"\0").endswith(b"\xff\xd9")
    return int.from_bytes(data[4:8], "little") + 8 <= len(data)  # WebP: the RIFF size
