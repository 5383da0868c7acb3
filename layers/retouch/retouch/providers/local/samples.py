"""Sample pictures drawn by code, for the tests and the demo: no binary fixtures, no network.

Each is deterministic (fixed noise seeds). The two people's faces are drawn so the Haar
frontal-face cascade finds them (`drawing.draw_face`); the tests check that `faces.find_face`
does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retouch.providers.local.drawing import FIRST, SECOND, canvas, draw_face, finish

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

#: Which sample feeds which image field of each feature's form (used by the demo and tests).
SAMPLE_FORMS: dict[str, dict[str, str]] = {
    "cutout": {"image": "product"},
    "eraser": {"image": "scene", "mask": "scene_mask"},
    "outfit": {"image": "portrait", "garment": "garment"},
    "faceswap": {"image": "portrait", "face": "face"},
    "outpaint": {"image": "scene"},
}


def sample_images() -> dict[str, bytes]:
    """Every sample as PNG bytes, by name (`SAMPLE_FORMS` says which feature uses which)."""
    from retouch.providers.local.images import encode_png

    scene, scene_mask = _scene()
    pictures = {
        "portrait": _person(),
        "face": _head_and_shoulders(),
        "product": _product(),
        "scene": scene,
        "scene_mask": scene_mask,
        "garment": _garment(),
    }
    return {name: encode_png(picture) for name, picture in pictures.items()}


def _person() -> Pixels:
    """A standing person, face to the camera: shirt, trousers, on a plain wall (768 × 1024)."""
    import cv2
    import numpy as np

    image = canvas(768, 1024, (200, 170, 140), (170, 140, 115))
    trousers, shirt = (90, 70, 60), (40, 120, 200)
    for side in (-1, 1):
        cv2.rectangle(
            image,
            (384 + side * 10 - (side < 0) * 90, 600),
            (384 + side * 10 + (side > 0) * 90, 940),
            trousers,
            -1,
        )
        cv2.line(image, (384 + side * 150, 330), (384 + side * 185, 620), shirt, 60)
    cv2.ellipse(image, (384, 330), (150, 60), 0, 180, 360, shirt, -1)
    cv2.rectangle(image, (234, 330), (534, 620), shirt, -1)
    # Cloth is rounder than paper: darker towards the sides of the body.
    clothes = np.all(image == shirt, axis=2) | np.all(image == trousers, axis=2)
    columns = np.abs(np.arange(768, dtype=np.float32) - 384) / 200
    fold = np.broadcast_to((1.1 - 0.35 * columns**2)[None, :, None], image.shape)
    image[clothes] *= fold[clothes]
    draw_face(image, (384, 180), 105, FIRST)
    return finish(image, seed=1)


def _head_and_shoulders() -> Pixels:
    """A second, different person close up (640 × 800)."""
    import cv2

    image = canvas(640, 800, (160, 210, 170), (120, 170, 130))
    cv2.ellipse(image, (320, 840), (290, 260), 0, 0, 360, (110, 50, 40), -1)
    draw_face(image, (320, 330), 160, SECOND)
    return finish(image, seed=2)


def _product() -> Pixels:
    """A red mug with a soft shadow on a light studio background (1024 × 768)."""
    import cv2
    import numpy as np

    image = canvas(1024, 768, (235, 235, 235), (205, 205, 210))
    cv2.ellipse(image, (530, 620), (230, 40), 0, 0, 360, (165, 165, 170), -1)
    image = cv2.GaussianBlur(image, (0, 0), 12)
    body = np.zeros((768, 1024), np.uint8)
    cv2.rectangle(body, (330, 200), (690, 610), 255, -1)
    cv2.ellipse(body, (510, 610), (180, 30), 0, 0, 180, 255, -1)
    cv2.ellipse(body, (700, 400), (110, 120), 0, 0, 360, 255, 38)
    columns = (np.arange(1024, dtype=np.float32) - 510) / 180
    light = np.clip(1.1 - 0.5 * (columns - 0.3) ** 2, 0.45, 1.15)[None, :, None]
    red = np.array((40, 40, 190), np.float32) * light
    image[body > 0] = np.broadcast_to(red, image.shape)[body > 0]
    cv2.ellipse(image, (510, 200), (180, 26), 0, 0, 360, (30, 30, 120), -1)
    return finish(image, seed=3, blur=1.0)


def _scene() -> tuple[Pixels, Pixels]:
    """A landscape with a dark post in the meadow, and the mask that covers the post."""
    import cv2
    import numpy as np

    image = canvas(1024, 683, (235, 190, 140), (250, 225, 200))
    meadow = canvas(1024, 683 - 420, (70, 150, 90), (40, 110, 60))
    image[420:] = meadow
    cv2.ellipse(image, (250, 430), (330, 90), 0, 180, 360, (110, 140, 120), -1)
    cv2.circle(image, (830, 120), 55, (210, 245, 255), -1)
    texture = np.random.default_rng(4).normal(0.0, 10.0, (683 - 420, 1024, 1))
    image[420:] += cv2.GaussianBlur(texture, (0, 0), 2.0)[:, :, None]
    cv2.rectangle(image, (560, 300), (610, 560), (40, 45, 60), -1)
    cv2.circle(image, (585, 300), 40, (40, 45, 60), -1)
    mask = np.zeros((683, 1024), np.uint8)
    cv2.rectangle(mask, (556, 256), (614, 564), 255, -1)
    cv2.circle(mask, (585, 300), 44, 255, -1)
    return finish(image, seed=5), mask


def _garment() -> Pixels:
    """A tartan T-shirt laid flat on white (600 × 600)."""
    import cv2
    import numpy as np

    image = canvas(600, 600, (250, 250, 250), (240, 240, 240))
    shirt = np.zeros((600, 600), np.uint8)
    outline = np.array(
        [
            [180, 80],
            [420, 80],
            [560, 180],
            [500, 260],
            [450, 220],
            [450, 540],
            [150, 540],
            [150, 220],
            [100, 260],
            [40, 180],
        ],
        np.int32,
    )
    cv2.fillPoly(shirt, [outline], 255)
    rows, columns = np.mgrid[0:600, 0:600]
    tartan = np.zeros((600, 600, 3), np.float32)
    tartan[:] = (60, 40, 160)
    tartan[(columns // 30) % 3 == 0] = (50, 110, 40)
    tartan[(rows // 30) % 3 == 0] = (40, 90, 30)
    tartan[((rows + 10) % 60 < 4) | ((columns + 10) % 60 < 4)] = (200, 220, 230)
    image[shirt > 0] = tartan[shirt > 0]
    return finish(image, seed=6, blur=1.0)
