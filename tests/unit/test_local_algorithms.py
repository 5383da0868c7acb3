"""The local provider's algorithms on the sample pictures: real outputs of the right shape that
change what each feature should change and keep the rest; inputs it cannot work on refused
quickly, before any pixel is decoded."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest

from retouch.providers.local.algorithms import run
from retouch.providers.local.errors import AlgorithmInputError
from retouch.providers.local.faces import find_face
from retouch.providers.local.samples import SAMPLE_FORMS, sample_images
from tests.conftest import LogLines
from tests.unit.conftest import declare_isolated
from tests.unit.image_support import png
from tests.unit.processes import Started

SAMPLES = sample_images()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decoded(data: bytes) -> Any:
    assert data.startswith(PNG_SIGNATURE)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def run_on_samples(feature: str, params: dict[str, Any] | None = None) -> Any:
    images = {field: SAMPLES[name] for field, name in SAMPLE_FORMS[feature].items()}
    return decoded(run(feature, images, params or {}))


def difference(first: Any, second: Any) -> Any:
    """Per-pixel absolute difference summed over the colour channels."""
    return np.abs(first.astype(np.int32) - second.astype(np.int32)).sum(axis=2)


def test_sample_images_are_deterministic_pngs() -> None:
    again = sample_images()

    assert again == SAMPLES
    assert all(data.startswith(PNG_SIGNATURE) for data in SAMPLES.values())


def test_the_face_detector_finds_both_sample_faces_and_none_in_the_scene() -> None:
    portrait, face = decoded(SAMPLES["portrait"]), decoded(SAMPLES["face"])

    assert find_face(portrait) is not None
    assert find_face(face) is not None
    assert find_face(decoded(SAMPLES["scene"])) is None


@pytest.mark.parametrize("refine_edges", [False, True])
def test_cutout_is_rgba_with_a_transparent_background_and_an_opaque_subject(
    refine_edges: bool,
) -> None:
    product = decoded(SAMPLES["product"])

    result = run_on_samples("cutout", {"refine_edges": refine_edges})

    assert result.shape == (*product.shape[:2], 4)
    alpha = result[:, :, 3]
    corners = [alpha[0, 0], alpha[0, -1], alpha[-1, 0], alpha[-1, -1]]
    assert corners == [0, 0, 0, 0]
    assert alpha[400, 510] == 255  # the middle of the mug
    assert 0.1 < (alpha == 255).mean() < 0.6
    assert (alpha == 0).mean() > 0.3
    np.testing.assert_array_equal(result[:, :, :3], product)


def test_eraser_fills_the_masked_region_and_leaves_far_pixels_unchanged() -> None:
    scene = decoded(SAMPLES["scene"])
    mask = decoded(SAMPLES["scene_mask"]) > 127

    result = run_on_samples("eraser", {"dilate": 6})

    assert result.shape == scene.shape
    # The dark post is gone: what replaced it is much brighter than the post was.
    post = mask & (scene.sum(axis=2) < 200)
    assert result[post].mean() > scene[post].mean() + 60
    far = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    np.testing.assert_array_equal(result[far], scene[far])


def test_eraser_dilate_grows_the_region_it_fills() -> None:
    scene = decoded(SAMPLES["scene"])

    narrow = (difference(run_on_samples("eraser", {"dilate": 0}), scene) > 0).sum()
    wide = (difference(run_on_samples("eraser", {"dilate": 24}), scene) > 0).sum()

    assert wide > narrow * 1.3


def test_eraser_accepts_a_mask_of_another_size() -> None:
    scene = decoded(SAMPLES["scene"])
    mask = cv2.resize(decoded(SAMPLES["scene_mask"]), (300, 200))
    images = {"image": SAMPLES["scene"], "mask": cv2.imencode(".png", mask)[1].tobytes()}

    result = decoded(run("eraser", images, {}))

    assert result.shape == scene.shape
    assert difference(result, scene)[400:500, 570:600].mean() > 100


@pytest.mark.parametrize(
    ("ratio", "width", "height"), [("16:9", 16, 9), ("9:16", 9, 16), ("1:1", 1, 1), ("4:3", 4, 3)]
)
def test_outpaint_extends_to_the_ratio_and_keeps_the_original_pixels_exactly(
    ratio: str, width: int, height: int
) -> None:
    scene = decoded(SAMPLES["scene"])

    result = run_on_samples("outpaint", {"ratio": ratio})

    result_height, result_width = result.shape[:2]
    assert abs(result_width * height - result_height * width) <= max(width, height)
    assert result_width >= scene.shape[1]
    assert result_height >= scene.shape[0]
    top = (result_height - scene.shape[0]) // 2
    left = (result_width - scene.shape[1]) // 2
    inside = result[top : top + scene.shape[0], left : left + scene.shape[1]]
    np.testing.assert_array_equal(inside, scene)


def test_outpaint_fills_the_new_borders_with_colours_of_the_picture() -> None:
    scene = decoded(SAMPLES["scene"])

    result = run_on_samples("outpaint", {"ratio": "16:9"})

    left = (result.shape[1] - scene.shape[1]) // 2
    border = result[:, :left].reshape(-1, 3).astype(np.float64)
    assert border.std(axis=0).max() > 10  # not one flat colour
    # Sky above, meadow below, as at the picture's own left edge.
    assert result[50, 0, 0] > result[600, 0, 0] + 60


def test_outpaint_margins_add_exactly_those_pixels() -> None:
    scene = decoded(SAMPLES["scene"])
    params = {"top": 10, "bottom": 20, "left": 30, "right": 40}

    result = run_on_samples("outpaint", params)

    assert result.shape == (scene.shape[0] + 30, scene.shape[1] + 70, 3)
    np.testing.assert_array_equal(result[10 : 10 + scene.shape[0], 30 : 30 + scene.shape[1]], scene)


def test_outpaint_keeps_a_huge_canvas_within_the_output_bound() -> None:
    params = {"left": 2048, "right": 2048, "ratio": "16:9"}

    result = run_on_samples("outpaint", params)

    assert max(result.shape[:2]) <= 2048
    assert abs(result.shape[1] * 9 - result.shape[0] * 16) <= 16


@pytest.mark.parametrize(("extension", "feature"), [(".jpg", "cutout"), (".webp", "outpaint")])
def test_jpeg_and_webp_inputs_work_like_png(extension: str, feature: str) -> None:
    scene = decoded(SAMPLES["scene"])
    encoded = cv2.imencode(extension, scene)[1].tobytes()

    result = decoded(
        run(feature, {"image": encoded}, {"ratio": "1:1"} if feature == "outpaint" else {})
    )

    assert result.shape[:2] == ((1024, 1024) if feature == "outpaint" else scene.shape[:2])


def test_faceswap_replaces_the_detected_face_and_nothing_far_from_it(
    log_lines: LogLines,
) -> None:
    portrait = decoded(SAMPLES["portrait"])
    box = find_face(portrait)
    assert box is not None

    result = run_on_samples("faceswap")

    assert result.shape == portrait.shape
    changed = difference(result, portrait)
    assert changed[box.y : box.y + box.height, box.x : box.x + box.width].mean() > 20
    assert changed[box.y + 2 * box.height :].max() == 0
    assert log_lines.with_message("faceswap: no face found, using the centred region") == []


def test_faceswap_without_a_face_falls_back_to_the_centre_and_says_so(
    log_lines: LogLines,
) -> None:
    scene = decoded(SAMPLES["scene"])
    images = {"image": SAMPLES["scene"], "face": SAMPLES["face"]}

    result = decoded(run("faceswap", images, {}))

    changed = difference(result, scene)
    height, width = scene.shape[:2]
    assert changed[height * 2 // 5 : height * 3 // 5, width * 2 // 5 : width * 3 // 5].mean() > 20
    assert changed[:, : width // 4].max() == 0
    (line,) = log_lines.with_message("faceswap: no face found, using the centred region")
    assert line["field"] == "image"


# Rows of the sample person: the shirt's middle, and the legs.
CHEST = (slice(400, 560), slice(260, 510))
LEGS = (slice(700, 900), slice(300, 470))


@pytest.mark.parametrize(
    ("garment_type", "dressed", "kept"), [("upper", CHEST, LEGS), ("lower", LEGS, CHEST)]
)
def test_outfit_dresses_the_chosen_band_and_mostly_keeps_the_rest(
    garment_type: str, dressed: Any, kept: Any
) -> None:
    portrait = decoded(SAMPLES["portrait"])

    result = run_on_samples("outfit", {"garment_type": garment_type})

    assert result.shape == portrait.shape
    changed = difference(result, portrait) > 30
    assert changed[dressed].mean() > 0.6
    assert changed[kept].mean() < 0.05
    assert changed[:, :150].mean() == 0  # the wall beside the person


def test_outfit_full_dresses_both_bands() -> None:
    portrait = decoded(SAMPLES["portrait"])

    changed = difference(run_on_samples("outfit", {"garment_type": "full"}), portrait) > 30

    assert changed[CHEST].mean() > 0.6
    assert changed[LEGS].mean() > 0.6


BOMB = png(20_000, 20_000, pixels=False)


@pytest.mark.parametrize(
    ("feature", "images", "params"),
    [
        ("cutout", {"image": b"not an image at all"}, {}),
        ("cutout", {"image": b""}, {}),
        ("cutout", {"image": BOMB}, {}),
        ("cutout", {"image": png(64, 64)[:60]}, {}),  # header intact, pixels truncated
        ("cutout", {"image": png(8, 8)}, {}),
        ("cutout", {}, {}),
        ("eraser", {"image": SAMPLES["scene"], "mask": BOMB}, {}),
        ("eraser", {"image": SAMPLES["scene"], "mask": SAMPLES["scene_mask"]}, {"dilate": 65}),
        ("outfit", {"image": SAMPLES["portrait"], "garment": SAMPLES["garment"]}, {}),
        ("outfit", {"image": BOMB, "garment": SAMPLES["garment"]}, {"garment_type": "hat"}),
        ("outpaint", {"image": SAMPLES["scene"]}, {"ratio": "wide"}),
        ("outpaint", {"image": SAMPLES["scene"]}, {"left": -1}),
        ("recolor", {"image": SAMPLES["scene"]}, {}),
    ],
)
def test_input_it_cannot_work_on_is_refused_quickly(
    feature: str, images: dict[str, bytes], params: dict[str, Any]
) -> None:
    started = time.perf_counter()

    with pytest.raises(AlgorithmInputError):
        run(feature, images, params)

    assert time.perf_counter() - started < 0.5


def test_a_picture_over_the_configured_pixel_budget_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_UPLOAD_MAX_PIXELS", str(1024 * 683 - 1))

    with pytest.raises(AlgorithmInputError, match="1024x683 is more than 699391 pixels"):
        run("outpaint", {"image": SAMPLES["scene"]}, {"ratio": "1:1"})


declare_isolated(
    "local-algorithms:imports",
    "import sys; import retouch.providers.local.algorithms, retouch.providers.local.samples; "
    "loaded = [name for name in ('cv2', 'numpy') if name in sys.modules]; "
    "print(loaded); sys.exit(bool(loaded))",
    module=__name__,
)


def test_importing_the_algorithms_loads_neither_opencv_nor_numpy(background: Started) -> None:
    result = background.result("local-algorithms:imports")

    assert result.returncode == 0, result.stdout + result.stderr
