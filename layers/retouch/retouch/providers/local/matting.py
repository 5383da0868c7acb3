"""Cutout: GrabCut matting from a centred rectangle, and the subject mask outfit reuses.

GrabCut assumes what lies outside the rectangle is background and learns colour models of both
sides; it runs on a copy at most `GRABCUT_LONG_SIDE` (its cost grows with the pixel count), and
`refine_edges` adds a second pass at the working size limited to a band around the edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retouch.providers.local.images import resized, scaled

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

GRABCUT_LONG_SIDE = 360
GRABCUT_ITERATIONS = 3
#: The refinement pass of `refine_edges` runs at this size, on the edge band's bounding box.
REFINE_LONG_SIDE = 720
#: Share of each side left outside the initial rectangle, taken to be background.
RECTANGLE_MARGIN = 0.05
#: Width of the band around the edge that the refinement pass may relabel, in working pixels.
REFINE_BAND = 6


def cutout(image: Pixels, *, refine_edges: bool) -> Pixels:
    """`image` as BGRA whose alpha is the subject's mask, feathered at the edge."""
    import cv2
    import numpy as np

    work = scaled(image, REFINE_LONG_SIDE if refine_edges else GRABCUT_LONG_SIDE)
    mask = subject_mask(work)
    if refine_edges:
        mask = _refined(work, mask)
    # Feathered at the working scale, then smoothly scaled up: a soft edge, no stair steps.
    feathered = cv2.GaussianBlur(mask, (0, 0), 1.0)
    return np.dstack([image, resized(feathered, image.shape[1], image.shape[0])])


def subject_mask(image: Pixels) -> Pixels:
    """A 0/255 mask of the main subject of `image`, at its size (GrabCut on a smaller copy)."""
    import cv2
    import numpy as np

    small = scaled(image, GRABCUT_LONG_SIDE)
    height, width = small.shape[:2]
    left, top = round(width * RECTANGLE_MARGIN), round(height * RECTANGLE_MARGIN)
    rectangle = (left, top, width - 2 * left, height - 2 * top)
    labels = np.zeros((height, width), np.uint8)
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        small,
        labels,
        rectangle,
        background_model,
        foreground_model,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    mask = _foreground(labels)
    # Specks and pinholes are GrabCut noise, not subject detail.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = resized(mask, image.shape[1], image.shape[0])
    return np.where(mask > 127, 255, 0).astype(np.uint8)


def _refined(image: Pixels, mask: Pixels) -> Pixels:
    """A second GrabCut pass at the size of `image` that may only relabel the edge band
    (and only looks at the box around it)."""
    import cv2
    import numpy as np

    if not mask.any() or mask.all():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * REFINE_BAND + 1,) * 2)
    inside = cv2.erode(mask, kernel)
    outside = cv2.dilate(mask, kernel) == 0
    labels = np.where(mask > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[inside > 0] = cv2.GC_FGD
    labels[outside] = cv2.GC_BGD
    # The colour models need both sides: a margin of sure pixels around the band.
    x, y, width, height = cv2.boundingRect((~outside & (inside == 0)).astype(np.uint8))
    margin = 4 * REFINE_BAND
    top, left = max(0, y - margin), max(0, x - margin)
    box = (slice(top, y + height + margin), slice(left, x + width + margin))
    crop_labels = np.ascontiguousarray(labels[box])
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        np.ascontiguousarray(image[box]),
        crop_labels,
        (0, 0, 0, 0),
        background_model,
        foreground_model,
        1,
        cv2.GC_INIT_WITH_MASK,
    )
    labels[box] = crop_labels
    return _foreground(labels)


def _foreground(labels: Pixels) -> Pixels:
    import cv2
    import numpy as np

    chosen = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return np.where(chosen, 255, 0).astype(np.uint8)
