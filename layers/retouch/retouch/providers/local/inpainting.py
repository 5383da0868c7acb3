"""Eraser and outpaint: both fill unknown pixels with OpenCV's inpainting (Telea's method).

Inpainting costs grow with the unknown area, so each runs on a scaled copy and only the
filled pixels are scaled back up: every pixel the user did not ask to change stays exact.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING

from retouch.providers.local.images import (
    OUTPUT_LONG_SIDE,
    WORKING_LONG_SIDE,
    compose,
    resized,
    scaled,
)

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

INPAINT_RADIUS = 5
#: The new borders of outpaint are filled on a copy this small: the fill is smooth anyway.
OUTPAINT_FILL_LONG_SIDE = 384
#: Without a ratio or margins, outpaint adds this share of each side on every side.
DEFAULT_MARGIN = 0.125


@dataclass(frozen=True, slots=True)
class Margins:
    """Pixels to add on each side of the picture."""

    top: int
    bottom: int
    left: int
    right: int


def erase(image: Pixels, mask: Pixels, *, dilate: float) -> Pixels:
    """`image` with the white parts of `mask` (any size) grown by `dilate` pixels, filled in."""
    import cv2
    import numpy as np

    work = scaled(image, WORKING_LONG_SIDE)
    height, width = work.shape[:2]
    selected: Pixels = np.where(resized(mask, width, height) > 127, 255, 0).astype(np.uint8)
    radius = round(dilate * width / image.shape[1])
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
        selected = cv2.dilate(selected, kernel)
    if not selected.any():
        return image
    filled = cv2.inpaint(work, selected, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return compose(image, filled, selected)


def outpaint_margins(
    width: int, height: int, *, ratio: tuple[int, int] | None, margins: Margins | None
) -> Margins:
    """The margins that give `width` × `height` the explicit `margins` first, then extend the
    result, centred, to `ratio`; with neither, `DEFAULT_MARGIN` of each side everywhere."""
    if ratio is None and margins is None:
        horizontal, vertical = round(width * DEFAULT_MARGIN), round(height * DEFAULT_MARGIN)
        return Margins(vertical, vertical, horizontal, horizontal)
    top, bottom, left, right = (
        (margins.top, margins.bottom, margins.left, margins.right) if margins else (0, 0, 0, 0)
    )
    if ratio is not None:
        canvas_width, canvas_height = width + left + right, height + top + bottom
        ratio_width, ratio_height = ratio
        if canvas_width * ratio_height < canvas_height * ratio_width:
            extra = round(canvas_height * ratio_width / ratio_height) - canvas_width
            left, right = left + extra // 2, right + extra - extra // 2
        else:
            extra = round(canvas_width * ratio_height / ratio_width) - canvas_height
            top, bottom = top + extra // 2, bottom + extra - extra // 2
    return Margins(top, bottom, left, right)


def outpaint(image: Pixels, *, ratio: tuple[int, int] | None, margins: Margins | None) -> Pixels:
    """`image` centred on a larger canvas (see `outpaint_margins`) whose new borders are filled
    by inpainting; the original pixels are copied unchanged. A canvas larger than
    `OUTPUT_LONG_SIDE` is avoided by scaling the picture and the margins down first."""
    height, width = image.shape[:2]
    planned = outpaint_margins(width, height, ratio=ratio, margins=margins)
    long_side = max(width + planned.left + planned.right, height + planned.top + planned.bottom)
    if long_side > OUTPUT_LONG_SIDE:
        shrink = OUTPUT_LONG_SIDE / long_side
        image = scaled(image, max(1, math.floor(max(height, width) * shrink)))
        if margins is not None:
            margins = Margins(*(math.floor(side * shrink) for side in astuple(margins)))
        planned = outpaint_margins(image.shape[1], image.shape[0], ratio=ratio, margins=margins)
    return _extended(image, planned)


def _extended(image: Pixels, margins: Margins) -> Pixels:
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    canvas_height = height + margins.top + margins.bottom
    canvas_width = width + margins.left + margins.right
    inside = (
        slice(margins.top, margins.top + height),
        slice(margins.left, margins.left + width),
    )
    factor = min(1.0, OUTPAINT_FILL_LONG_SIDE / max(canvas_height, canvas_width))
    small_height = max(1, round(canvas_height * factor))
    small_width = max(1, round(canvas_width * factor))
    # The scaled copy of the picture must cover its place on the small canvas, never less:
    # rounded outwards, so no unknown pixel hides under the original's edge.
    top, left = math.floor(margins.top * factor), math.floor(margins.left * factor)
    bottom = min(small_height, math.ceil((margins.top + height) * factor))
    right = min(small_width, math.ceil((margins.left + width) * factor))
    small = np.zeros((small_height, small_width, 3), np.uint8)
    small[top:bottom, left:right] = resized(image, right - left, bottom - top)
    unknown = np.full((small_height, small_width), 255, np.uint8)
    unknown[top + 1 : bottom - 1, left + 1 : right - 1] = 0
    filled = cv2.inpaint(small, unknown, INPAINT_RADIUS, cv2.INPAINT_TELEA)
    canvas = resized(filled, canvas_width, canvas_height).copy()
    canvas[inside] = image
    return canvas
