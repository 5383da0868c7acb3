"""Outfit: a masked garment transfer.

The person is the subject GrabCut finds; the garment covers a band of it (upper body, lower
body, or both) chosen by `garment_type`, placed below the face when one is found. The garment
picture's background is removed by thresholding against its border colour, its texture is
tiled over the band, and the person's own shading (luminance relative to the band's mean) is
multiplied in, so folds and light survive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from retouch.providers.local.faces import find_face
from retouch.providers.local.images import WORKING_LONG_SIDE, compose, resized, scaled
from retouch.providers.local.matting import subject_mask

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

GarmentType = Literal["upper", "lower", "full"]

#: Where each garment type sits, as shares of the person's height below the shoulders
#: (0 = shoulders, 1 = the person's lowest row).
BANDS: dict[str, tuple[float, float]] = {"upper": (0.0, 0.5), "lower": (0.45, 1.0)}
BANDS["full"] = (BANDS["upper"][0], BANDS["lower"][1])
#: A garment-picture pixel this far (Euclidean, BGR) from the border colour is garment.
BACKGROUND_DISTANCE = 40.0


def dress(image: Pixels, garment: Pixels, *, garment_type: GarmentType) -> Pixels:
    """`image` with the band `garment_type` of its person covered by `garment`'s texture."""
    import cv2
    import numpy as np

    work = scaled(image, WORKING_LONG_SIDE)
    person = subject_mask(work)
    band = _band(work, person, garment_type)
    if not band.any():
        return image
    rows, columns = np.nonzero(band)
    top, bottom = int(rows.min()), int(rows.max()) + 1
    left, right = int(columns.min()), int(columns.max()) + 1
    texture = _tiled(
        _garment_texture(scaled(garment, WORKING_LONG_SIDE)), right - left, bottom - top
    )
    luminance = cv2.cvtColor(work[top:bottom, left:right], cv2.COLOR_BGR2GRAY).astype(np.float32)
    inside = band[top:bottom, left:right] > 0
    shading = np.clip(luminance / max(float(luminance[inside].mean()), 1.0), 0.4, 1.6)
    dressed = work.copy()
    dressed[top:bottom, left:right] = np.clip(texture * shading[:, :, None], 0, 255).astype(
        np.uint8
    )
    return compose(image, dressed, cv2.GaussianBlur(band, (0, 0), 2.0))


def _band(image: Pixels, person: Pixels, garment_type: GarmentType) -> Pixels:
    """The person's pixels between the band's rows."""
    import numpy as np

    rows = np.nonzero(person.any(axis=1))[0]
    if rows.size == 0:
        return person
    face = find_face(image)
    person_top, person_bottom = int(rows.min()), int(rows.max()) + 1
    # Shoulders: just below the chin when a face is found, else a fifth of the way down.
    shoulders = (
        face.y + face.height * 21 // 20
        if face is not None
        else person_top + (person_bottom - person_top) // 5
    )
    start, end = BANDS[garment_type]
    span = max(1, person_bottom - shoulders)
    band = np.zeros_like(person)
    first, last = shoulders + round(span * start), shoulders + round(span * end)
    band[first:last] = person[first:last]
    return band


def _garment_texture(garment: Pixels) -> Pixels:
    """The garment's pixels inside its silhouette, cropped to the central part of it (where
    the fabric is, away from the outline)."""
    import numpy as np

    border = np.concatenate([garment[0], garment[-1], garment[:, 0], garment[:, -1]])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(garment.astype(np.float32) - background, axis=2)
    rows, columns = np.nonzero(distance > BACKGROUND_DISTANCE)
    if rows.size == 0:  # all one colour: the whole picture is the fabric
        return garment
    top, bottom = int(rows.min()), int(rows.max()) + 1
    left, right = int(columns.min()), int(columns.max()) + 1
    quarter_height, quarter_width = (bottom - top) // 4, (right - left) // 4
    return garment[
        top + quarter_height : bottom - quarter_height, left + quarter_width : right - quarter_width
    ]


def _tiled(texture: Pixels, width: int, height: int) -> Pixels:
    """`texture` repeated (scaled to about a third of the width per tile) to `width` × `height`."""
    import numpy as np

    tile_width = max(8, width // 3)
    tile_height = max(8, round(texture.shape[0] * tile_width / max(1, texture.shape[1])))
    tile = resized(texture, tile_width, tile_height).astype(np.float32)
    repeats = (-(-height // tile_height), -(-width // tile_width), 1)
    return np.tile(tile, repeats)[:height, :width]
