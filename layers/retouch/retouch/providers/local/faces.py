"""Faceswap: the largest face of the source picture, scaled onto the largest face of the target
and blended with Poisson (seamless) cloning, which takes the target's skin tone and light at
the seam.

Faces are found by the frontal-face Haar cascade that ships with OpenCV. When a picture has no
face it can find, that picture's centred ellipse stands in for it, so the result is a visible
attempt rather than a failure (and the fallback is logged).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from retouch.core.logging import logger
from retouch.providers.local.images import WORKING_LONG_SIDE, compose, scaled

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

FACE_CASCADE = "haarcascade_frontalface_default.xml"
#: The fallback face: a centred box this share of the picture's short side.
FALLBACK_FACE_SHARE = 0.4


class Box(NamedTuple):
    x: int
    y: int
    width: int
    height: int


@cache
def _face_detector() -> Any:
    import cv2

    return cv2.CascadeClassifier(cv2.data.haarcascades + FACE_CASCADE)  # type: ignore[attr-defined]


def find_face(image: Pixels) -> Box | None:
    """The largest frontal face in `image` (BGR), or None."""
    import cv2

    grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    smallest = max(24, max(grey.shape) // 20)
    faces = _face_detector().detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
    )
    if len(faces) == 0:
        return None
    x, y, width, height = max(faces, key=lambda face: int(face[2]) * int(face[3]))
    return Box(int(x), int(y), int(width), int(height))


def swap_face(image: Pixels, face: Pixels) -> Pixels:
    """`image` with its face replaced by the face in `face`."""
    import cv2
    import numpy as np

    target = scaled(image, WORKING_LONG_SIDE)
    source = scaled(face, WORKING_LONG_SIDE)
    target_box = _face_or_centre(target, "image")
    source_box = _face_or_centre(source, "face")
    # Scale and move the source so its face box lands on the target's.
    factor = target_box.width / source_box.width
    shift_x = target_box.x - source_box.x * factor
    shift_y = target_box.y - source_box.y * factor
    matrix = np.array([[factor, 0.0, shift_x], [0.0, factor, shift_y]], np.float32)
    height, width = target.shape[:2]
    warped = cv2.warpAffine(
        source, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    region = np.zeros((height, width), np.uint8)
    centre = (target_box.x + target_box.width // 2, target_box.y + target_box.height * 29 // 50)
    axes = (target_box.width * 2 // 5, target_box.height * 23 // 50)
    cv2.ellipse(region, centre, axes, 0, 0, 360, 255, -1)
    # Seamless cloning needs the region strictly inside the picture.
    region[:2, :], region[-2:, :], region[:, :2], region[:, -2:] = 0, 0, 0, 0
    x, y, box_width, box_height = cv2.boundingRect(region)
    # seamlessClone writes into the mask it is given: hand it a copy.
    cloned = cv2.seamlessClone(
        warped, target, region.copy(), (x + box_width // 2, y + box_height // 2), cv2.NORMAL_CLONE
    )
    return compose(image, cloned, region)


def _face_or_centre(image: Pixels, field: str) -> Box:
    found = find_face(image)
    if found is not None:
        return found
    logger.info("faceswap: no face found, using the centred region", extra={"field": field})
    height, width = image.shape[:2]
    side = max(8, round(min(height, width) * FALLBACK_FACE_SHARE))
    return Box((width - side) // 2, (height - side) // 2, side, side)
