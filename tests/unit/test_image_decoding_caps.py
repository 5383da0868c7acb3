"""Every decode checks the header against the pixel cap first (`inspect_within`), and OpenCV's
own cap (OPENCV_IO_MAX_IMAGE_PIXELS, read once when cv2 loads) is set in every process that
imports cv2 through our code: a decompression bomb is refused before any pixel is
allocated."""

from __future__ import annotations

import json

import pytest

from retouch.core.settings.storage import DECODER_MAX_PIXELS
from retouch.images import TooManyPixels, inspect_within, normalize
from tests.unit.conftest import UNIT_ENV, declare_isolated
from tests.unit.image_support import png
from tests.unit.processes import Started

#: In a fresh interpreter: import one of our modules that use OpenCV, then cv2 itself, and
#: decode a PNG whose header declares 10000 × 10000 pixels (above our cap, below OpenCV's
#: default 2**30): with the cap set, OpenCV refuses it from its header with an assertion.
CHECK = (
    "import json, os, sys; import {module}; import cv2, numpy as np; "
    "from tests.unit.image_support import png; "
    "refused = ''\n"
    "try:\n"
    "    cv2.imdecode(np.frombuffer(png(10000, 10000, pixels=False), np.uint8), cv2.IMREAD_COLOR)\n"
    "except cv2.error as exc:\n"
    "    refused = str(exc)\n"
    "print(json.dumps({{'cap': os.environ.get('OPENCV_IO_MAX_IMAGE_PIXELS'), "
    "'refused': refused}}))"
)
LAYER = {**UNIT_ENV, "PYTHONPATH": "layers/retouch:."}

for name, module in {
    "decoder-cap:local-provider": "retouch.providers.local.images",
    "decoder-cap:prepare": "retouch.images.normalize",
}.items():
    declare_isolated(name, CHECK.format(module=module), module=__name__, env=LAYER)
declare_isolated(
    "decoder-cap:deployment",
    CHECK.format(module="retouch.images"),
    module=__name__,
    env={**LAYER, "OPENCV_IO_MAX_IMAGE_PIXELS": "1000"},
)


@pytest.mark.parametrize("name", ["decoder-cap:local-provider", "decoder-cap:prepare"])
def test_opencv_is_loaded_with_its_pixel_cap_set_and_refuses_a_bomb(
    background: Started, name: str
) -> None:
    result = background.result(name)

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["cap"] == str(DECODER_MAX_PIXELS)
    assert "CV_IO_MAX_IMAGE_PIXELS" in outcome["refused"]


def test_a_cap_the_deployment_set_is_kept(background: Started) -> None:
    result = background.result("decoder-cap:deployment")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cap"] == "1000"


def test_no_header_cap_can_exceed_opencvs() -> None:
    from pydantic import ValidationError

    from retouch.core.settings import Settings

    with pytest.raises(ValidationError, match="upload_max_pixels"):
        Settings.model_validate(
            {
                "db_host": "127.0.0.1",
                "db_user": "unit",
                "db_name": "unit",
                "redis_url": "redis://127.0.0.1:9/0",
                "upload_max_pixels": DECODER_MAX_PIXELS + 1,
            }
        )


def test_inspect_within_refuses_a_header_above_the_cap_and_passes_one_at_it() -> None:
    assert inspect_within(png(100, 50), max_pixels=5000).pixels == 5000

    with pytest.raises(TooManyPixels, match="100x51 is more than 5000 pixels"):
        inspect_within(png(100, 51), max_pixels=5000)


def test_normalize_refuses_a_pixel_bomb_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_UPLOAD_MAX_PIXELS", "5000")

    with pytest.raises(TooManyPixels):
        normalize(png(100, 51))
    assert normalize(png(100, 50)).startswith(b"\x89PNG")
