"""The one entry point of the local algorithms: `run(feature, images, params) -> PNG bytes`.

`images` holds the decoded upload fields of the feature's form by field name, `params` its
other fields, as `shared/seed/catalog.json` defines them. Every input's header is checked
before its pixels are decoded; anything the algorithms cannot work on raises
`AlgorithmInputError`, a permanent failure. OpenCV and numpy load on the first call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from retouch.providers.local.errors import AlgorithmInputError
from retouch.providers.local.images import check_header

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

#: Pictures smaller than this on either side are refused: there is nothing to work with.
MIN_SIDE = 16
#: The image fields of each feature's form, in the order the algorithm takes them.
IMAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "cutout": ("image",),
    "eraser": ("image", "mask"),
    "outfit": ("image", "garment"),
    "faceswap": ("image", "face"),
    "outpaint": ("image",),
}
GARMENT_TYPES = ("upper", "lower", "full")
MAX_DILATE = 64
MAX_MARGIN = 2048
MARGIN_FIELDS = ("top", "bottom", "left", "right")
_RATIO = re.compile(r"([1-9][0-9]?):([1-9][0-9]?)")


def run(feature: str, images: Mapping[str, bytes], params: Mapping[str, Any]) -> bytes:
    """The result of `feature` on `images` with `params`, as PNG bytes (BGRA for cutout)."""
    from retouch.providers.local.images import encode_png

    fields = IMAGE_FIELDS.get(feature)
    if fields is None:
        raise AlgorithmInputError(f"unknown feature {feature!r}")
    missing = [field for field in fields if field not in images]
    if missing:
        raise AlgorithmInputError(f"{feature}: missing image {', '.join(missing)}")
    # Every header first: a bomb in the second field must not wait for the first to decode.
    headers = [check_header(field, images[field]) for field in fields]
    long_sides = {
        field: max(header.width, header.height)
        for field, header in zip(fields, headers, strict=True)
    }
    return encode_png(_ALGORITHMS[feature](images, params, long_sides))


def _cutout(
    images: Mapping[str, bytes], params: Mapping[str, Any], _long_sides: dict[str, int]
) -> Pixels:
    from retouch.providers.local.matting import cutout

    refine_edges = params.get("refine_edges", False)
    if not isinstance(refine_edges, bool):
        raise AlgorithmInputError("cutout: refine_edges must be a boolean")
    return cutout(_picture(images, "image"), refine_edges=refine_edges)


def _eraser(
    images: Mapping[str, bytes], params: Mapping[str, Any], long_sides: dict[str, int]
) -> Pixels:
    from retouch.providers.local.images import decode_mask
    from retouch.providers.local.inpainting import erase

    dilate = _integer(params, "dilate", default=0, maximum=MAX_DILATE)
    image = _picture(images, "image")
    # `dilate` counts pixels of the upload; the picture may have been scaled down.
    dilate_here = dilate * max(image.shape[:2]) / long_sides["image"]
    return erase(image, decode_mask("mask", images["mask"]), dilate=dilate_here)


def _outfit(
    images: Mapping[str, bytes], params: Mapping[str, Any], _long_sides: dict[str, int]
) -> Pixels:
    from retouch.providers.local.garments import dress

    garment_type = params.get("garment_type")
    if garment_type not in GARMENT_TYPES:
        raise AlgorithmInputError(f"outfit: garment_type must be one of {GARMENT_TYPES}")
    garment = _picture(images, "garment")
    return dress(_picture(images, "image"), garment, garment_type=garment_type)


def _faceswap(
    images: Mapping[str, bytes], _params: Mapping[str, Any], _long_sides: dict[str, int]
) -> Pixels:
    from retouch.providers.local.faces import swap_face

    return swap_face(_picture(images, "image"), _picture(images, "face"))


def _outpaint(
    images: Mapping[str, bytes], params: Mapping[str, Any], long_sides: dict[str, int]
) -> Pixels:
    from retouch.providers.local.inpainting import Margins, outpaint

    ratio = _ratio(params.get("ratio"))
    sides = [_integer(params, side, default=0, maximum=MAX_MARGIN) for side in MARGIN_FIELDS]
    image = _picture(images, "image")
    margins = None
    if any(side in params for side in MARGIN_FIELDS):
        # Margins count pixels of the upload; the picture may have been scaled down.
        factor = max(image.shape[:2]) / long_sides["image"]
        margins = Margins(*(round(side * factor) for side in sides))
    return outpaint(image, ratio=ratio, margins=margins)


def _picture(images: Mapping[str, bytes], field: str) -> Pixels:
    from retouch.providers.local.images import decode_color

    picture = decode_color(field, images[field])
    if min(picture.shape[:2]) < MIN_SIDE:
        raise AlgorithmInputError(f"{field}: smaller than {MIN_SIDE} pixels on a side")
    return picture


def _integer(params: Mapping[str, Any], name: str, *, default: int, maximum: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise AlgorithmInputError(f"{name} must be an integer from 0 to {maximum}")
    return value


def _ratio(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    match = _RATIO.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise AlgorithmInputError(f"ratio must look like 16:9, not {value!r}")
    return int(match[1]), int(match[2])


_ALGORITHMS: dict[
    str, Callable[[Mapping[str, bytes], Mapping[str, Any], dict[str, int]], Pixels]
] = {
    "cutout": _cutout,
    "eraser": _eraser,
    "outfit": _outfit,
    "faceswap": _faceswap,
    "outpaint": _outpaint,
}
