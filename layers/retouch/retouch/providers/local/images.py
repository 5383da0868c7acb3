"""Decoding, scaling, compositing and encoding shared by the local algorithms.

An input's header is read before its pixels (`retouch.images.inspection`), so a decompression
bomb is refused by its declared size without allocating it. Results are at most
`OUTPUT_LONG_SIDE` on their long side; the algorithms themselves work on a copy at most
`WORKING_LONG_SIDE`, and `compose` brings their edit back onto the full-size picture so the
pixels they did not edit stay exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retouch.core.settings import get_settings
from retouch.images.inspection import ImageHeader, NotAnImage, TooManyPixels, inspect_within
from retouch.providers.local.errors import AlgorithmInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Pixels = NDArray[Any]

#: The algorithms run on a copy at most this many pixels on its long side (time bound).
WORKING_LONG_SIDE = 1024
#: A result is at most this many pixels on its long side; larger inputs are scaled down first.
OUTPUT_LONG_SIDE = 2048
#: PNG compression level of the results: 3 is several times faster than 9 for a few % more bytes.
PNG_COMPRESSION = 3


def check_header(name: str, data: bytes) -> ImageHeader:
    """The header of `data`; AlgorithmInputError unless it is a JPEG, PNG or WebP within the
    configured pixel budget (`upload_max_pixels`)."""
    if not data:
        raise AlgorithmInputError(f"{name}: empty")
    try:
        return inspect_within(data, max_pixels=get_settings().upload_max_pixels)
    except TooManyPixels as exc:
        raise AlgorithmInputError(f"{name}: {exc}") from None
    except NotAnImage as exc:
        raise AlgorithmInputError(f"{name}: not an image ({exc})") from None


def decode_color(name: str, data: bytes) -> Pixels:
    """The picture as 8-bit BGR, scaled down to at most `OUTPUT_LONG_SIDE`."""
    return scaled(_decode(name, data, color=True), OUTPUT_LONG_SIDE)


def decode_mask(name: str, data: bytes) -> Pixels:
    """A mask as 8-bit grey (white = selected); transparent pixels count as black."""
    import cv2
    import numpy as np

    image = _decode(name, data, color=False)
    if image.ndim == 2:
        return image
    grey = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    if image.shape[2] == 4:
        alpha = image[:, :, 3].astype(np.uint16)
        grey = (grey.astype(np.uint16) * alpha // 255).astype(np.uint8)
    return grey


def _decode(name: str, data: bytes, *, color: bool) -> Pixels:
    import cv2
    import numpy as np

    check_header(name, data)
    flags = cv2.IMREAD_COLOR if color else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:  # OpenCV's own pixel cap (limit_image_decoders) raises
        image = None
    if image is None or image.size == 0:
        raise AlgorithmInputError(f"{name}: the image data cannot be decoded")
    if image.dtype != np.uint8:  # 16-bit PNG
        image = (image // 257).astype(np.uint8)
    return image


def scaled(image: Pixels, long_side: int) -> Pixels:
    """`image` scaled down (never up) so its long side is at most `long_side`."""
    height, width = image.shape[:2]
    factor = long_side / max(height, width)
    if factor >= 1:
        return image
    return resized(image, max(1, round(width * factor)), max(1, round(height * factor)))


def resized(image: Pixels, width: int, height: int) -> Pixels:
    import cv2

    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def compose(base: Pixels, edited: Pixels, region: Pixels) -> Pixels:
    """`base` with `edited` laid over it where `region` (0..255 grey, any scale) is set.

    `edited` and `region` may be smaller than `base` (worked on a scaled copy): both are scaled
    up to it, so only the region's pixels are replaced, and those outside it stay exact.
    """
    import numpy as np

    height, width = base.shape[:2]
    weight = resized(region, width, height).astype(np.float32)[:, :, None] / 255.0
    if not weight.any():
        return base
    over = resized(edited, width, height).astype(np.float32)
    mixed = base.astype(np.float32) * (1.0 - weight) + over * weight
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def encode_png(image: Pixels) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:  # pragma: no cover - an 8-bit 3- or 4-channel array always encodes
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()
