"""Drawing helpers for the sample pictures: gradients, photo-like finishing, and a shaded face
the Haar frontal-face cascade finds (dark eye sockets and brows over lighter cheeks, a lighter
nose bridge, a dark mouth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retouch.providers.local.images import Pixels

BGR = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """What tells the two drawn people apart (colours are BGR)."""

    skin: BGR
    hair: BGR
    eyes: BGR
    lips: BGR
    eye_spacing: float  # share of the face's half-width
    mouth_width: float  # share of the face's half-width
    moustache: bool


FIRST = Look((150, 180, 225), (40, 50, 70), (90, 60, 30), (70, 60, 150), 0.42, 0.30, False)
SECOND = Look((80, 120, 170), (25, 22, 20), (30, 80, 40), (60, 50, 110), 0.36, 0.42, True)


def canvas(width: int, height: int, top: BGR, bottom: BGR) -> Pixels:
    """A vertical gradient from `top` to `bottom`, as float32 BGR."""
    import numpy as np

    share = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    column = np.array(top, np.float32) * (1 - share) + np.array(bottom, np.float32) * share
    return np.repeat(column, width, axis=1)


def finish(image: Pixels, seed: int, *, blur: float = 1.5) -> Pixels:
    """Soften the drawn edges and add a little sensor noise, as a photo has."""
    import cv2
    import numpy as np

    softened = cv2.GaussianBlur(image, (0, 0), blur)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, softened.shape)
    return np.clip(softened + noise, 0, 255).astype(np.uint8)


def shade(colour: BGR, factor: float) -> BGR:
    blue, green, red = colour
    return (round(blue * factor), round(green * factor), round(red * factor))


@dataclass(frozen=True)
class _Face:
    """Where a face goes: the centre and half-axes of its skin ellipse, and its look."""

    x: int
    y: int
    half_width: int
    half_height: int
    look: Look


def draw_face(image: Pixels, centre: tuple[int, int], half_width: int, look: Look) -> None:
    """Draw a shaded face (with hair and neck) on `image`, centred at `centre`."""
    face = _Face(centre[0], centre[1], half_width, round(half_width * 1.2), look)
    # Back to front: each part is painted over the ones before it.
    _draw_neck_and_hair(image, face)
    _draw_lit_skin(image, face)
    _draw_hairline(image, face)
    for side in (-1, 1):
        _draw_eye(image, face, side)
    _draw_nose_and_mouth(image, face)


def _draw_neck_and_hair(image: Pixels, face: _Face) -> None:
    """The neck, and the hair behind the head (it shows around the skin)."""
    import cv2

    x, y, look = face.x, face.y, face.look
    half_width, half_height = face.half_width, face.half_height
    neck = (
        x - half_width // 3,
        y + half_height // 2,
        x + half_width // 3,
        y + half_height * 3 // 2,
    )
    cv2.rectangle(image, neck[:2], neck[2:], shade(look.skin, 0.8), -1)
    cv2.ellipse(
        image,
        (x, y - half_height // 6),
        (half_width * 28 // 25, half_height * 21 // 20),
        0,
        0,
        360,
        look.hair,
        -1,
    )


def _draw_lit_skin(image: Pixels, face: _Face) -> None:
    """Skin lit from the front: brightest in the middle, darker towards the outline."""
    import cv2
    import numpy as np

    x, y, half_width, half_height = face.x, face.y, face.half_width, face.half_height
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(mask, (x, y), (half_width, half_height), 0, 0, 360, 255, -1)
    rows, columns = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    distance = ((columns - x) / half_width) ** 2 + ((rows - y) / half_height) ** 2
    light = np.clip(1.08 - 0.35 * distance, 0.6, 1.1)[:, :, None]
    skin = np.array(face.look.skin, np.float32) * light
    image[mask > 0] = skin[mask > 0]


def _draw_hairline(image: Pixels, face: _Face) -> None:
    """The hair over the forehead."""
    import cv2

    cv2.ellipse(
        image,
        (face.x, face.y - face.half_height * 3 // 4),
        (face.half_width, face.half_height * 2 // 5),
        0,
        180,
        360,
        face.look.hair,
        -1,
    )


def _draw_eye(image: Pixels, face: _Face, side: int) -> None:
    """The brow, dark socket, white, iris and pupil of the eye on `side` (-1 left, 1 right)."""
    import cv2

    half_width, half_height, look = face.half_width, face.half_height, face.look
    eye_y, eye_x = face.y - half_height * 9 // 50, round(half_width * look.eye_spacing)
    eye = (face.x + side * eye_x, eye_y)
    cv2.ellipse(
        image,
        (eye[0], eye_y - half_height * 4 // 25),
        (half_width * 13 // 50, half_height // 20),
        0,
        180,
        360,
        look.hair,
        -1,
    )
    cv2.ellipse(
        image,
        eye,
        (half_width * 13 // 50, half_height * 11 // 100),
        0,
        0,
        360,
        shade(look.skin, 0.7),
        -1,
    )
    cv2.ellipse(
        image,
        eye,
        (half_width * 9 // 50, half_height * 6 // 100),
        0,
        0,
        360,
        (235, 235, 235),
        -1,
    )
    cv2.circle(image, eye, half_height // 20, look.eyes, -1)
    cv2.circle(image, eye, half_height // 45, (10, 10, 10), -1)


def _draw_nose_and_mouth(image: Pixels, face: _Face) -> None:
    """The shadow under the nose, the lips, and the moustache if the look has one."""
    import cv2

    x, y, look = face.x, face.y, face.look
    half_width, half_height = face.half_width, face.half_height
    cv2.ellipse(
        image,
        (x, y + half_height // 5),
        (half_width * 7 // 50, half_height // 20),
        0,
        0,
        180,
        shade(look.skin, 0.65),
        -1,
    )
    mouth = (x, y + half_height * 12 // 25)
    mouth_axes = (round(half_width * look.mouth_width), half_height * 2 // 25)
    cv2.ellipse(image, mouth, mouth_axes, 0, 0, 180, look.lips, -1)
    cv2.ellipse(
        image, mouth, (mouth_axes[0], half_height * 3 // 100), 0, 0, 360, shade(look.lips, 0.7), -1
    )
    if look.moustache:
        cv2.ellipse(
            image,
            (x, mouth[1] - half_height // 12),
            (mouth_axes[0], half_height // 25),
            0,
            180,
            360,
            look.hair,
            -1,
        )
