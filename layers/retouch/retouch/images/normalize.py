"""Image work of the `prepare` step: decode with the orientation the file declares, cap the
size, re-encode as PNG (three channels: inputs are photos). OpenCV is imported on first use:
only the step functions that prepare images install it (requirements/local-provider.txt)."""

from __future__ import annotations

from retouch.core.settings import get_settings
from retouch.images.inspection import inspect_within

#: Longest side a prepared input keeps; larger images are scaled down (vendors cap sizes too).
MAX_SIDE = 2048


def normalize(data: bytes) -> bytes:
    """`data` (JPEG, PNG or WebP) as PNG, upright (EXIF orientation applied, as OpenCV's
    decoder does by default) and at most MAX_SIDE on its longest side. ValueError when it
    cannot be decoded, or when its header declares more than `upload_max_pixels` (checked
    before decoding: NotAnImage, TooManyPixels)."""
    if not data:
        raise ValueError("empty image")
    inspect_within(data, max_pixels=get_settings().upload_max_pixels)
    import cv2
    import numpy as np

    try:
        # IMREAD_COLOR applies the EXIF orientation (IMREAD_UNCHANGED would not), gives BGR.
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV's own pixel cap (limit_image_decoders) raises
        image = None
    if image is None:
        raise ValueError("the image cannot be decoded")
    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image = cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("the image cannot be encoded")
    return bytes(encoded)
