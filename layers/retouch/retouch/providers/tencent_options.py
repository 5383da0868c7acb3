"""Operator settings of the Tencent adapters (`tencent`: the synchronous Cloud AI actions;
`hunyuan`: Hunyuan image jobs), kept in `provider_configs.options` and validated with these
models. Plain pydantic, no SDK: the admin API validates input with them. No secrets here:
the key pair comes from the row's `credential_ref`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from retouch.core.schemas import RequestSchema

_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_HOST_ENTRY = re.compile(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)+")

Ratio = Literal["1:1", "4:3", "3:4", "16:9", "9:16"]
ClothesType = Literal["Upper-body", "Lower-body", "Dress"]


class _Options(RequestSchema):
    model_config = ConfigDict(use_attribute_docstrings=True)


_CLOTHES_TYPES: dict[str, ClothesType] = {
    "upper": "Upper-body",
    "lower": "Lower-body",
    "full": "Dress",
}


class TencentCloudOptions(_Options):
    """Settings both Tencent adapters share."""

    region: str = Field(default="ap-guangzhou", pattern=r"^[a-z]+-[a-z0-9-]+$")
    """Tencent Cloud region of the API calls (`X-TC-Region`). Hunyuan image jobs exist only in
    ap-guangzhou; bda SegmentPortraitPic and facefusion are in several regions."""

    endpoint: str = ""
    """Override of the API address, `scheme://host[:port]`, used for every service (tests point
    it at a local fake). Empty in production: each service's own `<service>.tencentcloudapi.com`
    over HTTPS."""

    timeout_s: Annotated[float, Field(gt=0, le=120)] = 30.0
    """Seconds allowed to connect, and then to wait for the answer, of one API call. The
    synchronous edit actions answer when the image is done, so this bounds a whole edit."""

    logo_add: Literal[0, 1] = 0
    """1 asks Tencent to stamp its "AI generated" mark on results (`LogoAdd`); 0 does not."""

    result_hosts: tuple[str, ...] = (".myqcloud.com",)
    """Hosts a result URL may come from (exact names, or `.domain` for any host under it);
    a result URL elsewhere is refused and never fetched. Hunyuan serves results from COS
    (`*.cos.<region>.myqcloud.com`); the edit actions answer in base64 and need none."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_an_origin(cls, value: str) -> str:
        if value and not _ENDPOINT.fullmatch(value):
            raise ValueError("endpoint must be scheme://host[:port], without a path")
        return value

    @field_validator("result_hosts")
    @classmethod
    def _hosts_are_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(host.lower() for host in value)
        for host in lowered:
            if not _HOST_ENTRY.fullmatch(host):
                raise ValueError(f"not a host name or .domain entry: {host!r}")
        return lowered


class FaceFusionOptions(_Options):
    """faceswap: by default facefusion FuseFaceUltra puts the user's `face` onto the user's
    `image`. With an activity (`project_id` and `model_id`) it is FuseFace instead, onto that
    activity's material from the console: the user's `image` is then not used."""

    project_id: str = ""
    """The face-fusion activity id (`ProjectId`) from the facefusion console."""

    model_id: str = ""
    """The material (template) id (`ModelId`) from the facefusion console."""

    fuse_face_degree: Annotated[int, Field(ge=0, le=100)] | None = None
    """`FuseFaceDegree`, 0–100: how much of the user's face shape is kept; empty = Tencent's
    default."""


class OutfitOptions(_Options):
    """outfit through aiart ChangeClothes: which form fields are the photos, garment types."""

    model_field: str = "image"
    """The form's upload field sent as `ModelUrl` (the photo of the person)."""

    clothes_field: str = "garment"
    """The form's upload field sent as `ClothesUrl` (the picture of the garment)."""

    type_field: str = "garment_type"
    """The form's field naming the garment type, translated by `clothes_types`."""

    clothes_types: dict[str, ClothesType] = Field(default_factory=lambda: dict(_CLOTHES_TYPES))
    """The form's garment types → `ClothesType`."""

    default_clothes_type: ClothesType = "Upper-body"
    """`ClothesType` when the form gives none (or one missing from `clothes_types`)."""


class TencentOptions(TencentCloudOptions):
    """The `tencent` provider: cutout → bda SegmentPortraitPic, eraser → aiart
    ImageInpaintingRemoval, outpaint → aiart ImageOutpainting, outfit → aiart ChangeClothes,
    faceswap → facefusion FuseFace."""

    cutout_scene: Literal["GEN", "GS"] = "GEN"
    """SegmentPortraitPic `Scene`: GEN (general) or GS (green screen)."""

    outpaint_default_ratio: Ratio = "1:1"
    """ImageOutpainting `Ratio` when the form gives per-side pixels instead of a ratio (the
    action takes only a ratio; it must differ from the photo's own)."""

    facefusion: FaceFusionOptions = FaceFusionOptions()
    """faceswap settings: empty, FuseFaceUltra onto the user's photo; with `project_id` and
    `model_id`, FuseFace onto the activity's material."""

    outfit: OutfitOptions = OutfitOptions()
    """outfit settings."""


DEFAULT_PROMPTS = {
    "outpaint": (
        "扩展画面到 $ratio 比例，自然补全四周的内容，保持原图主体、光线和风格一致。"
        " Extend the picture to a $ratio aspect ratio, continuing the scene naturally."
    ),
    "eraser": (
        "去除画面中多余的物体，自然补全背景，保持其余内容不变。"
        " Remove the stray objects and fill in the background naturally."
    ),
}


class HunyuanOptions(TencentCloudOptions):
    """The `hunyuan` provider: SubmitHunyuanImageJob with the photo as `ContentImage` and a
    prompt per feature, polled with QueryHunyuanImageJob."""

    prompts: dict[str, Annotated[str, Field(min_length=1, max_length=1024)]] = DEFAULT_PROMPTS
    """Prompt template per feature (`$name` is replaced by the form's field `name`, `$$` is a
    dollar sign). A feature without a template is not served by this provider."""

    negative_prompt: Annotated[str, Field(max_length=1024)] = ""
    """`NegativePrompt` of every job; empty = none."""

    style: str = ""
    """`Style` of every job (Tencent's style ids); empty = Tencent's default."""

    revise: Literal[0, 1] = 1
    """`Revise`: 1 lets Hunyuan expand the prompt (always on with a reference image)."""

    default_resolution: str = Field(default="1024:1024", pattern=r"^[0-9]{3,4}:[0-9]{3,4}$")
    """`Resolution` of a job whose form has no `ratio` (a ratio picks the matching size)."""
