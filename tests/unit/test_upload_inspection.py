"""The upload trigger's header reader: real type by magic bytes, dimensions without pixels."""

from __future__ import annotations

import struct

import pytest

from retouch.images.inspection import ImageHeader, NotAnImage, inspect_image
from tests.unit.image_support import jpeg, png, webp_lossless


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def test_reads_png_ihdr_without_touching_the_pixels() -> None:
    assert inspect_image(png(20_000, 20_000, pixels=False)) == ImageHeader(
        "image/png", 20_000, 20_000
    )


def test_reads_the_jpeg_frame_header_after_other_segments_and_fill_bytes() -> None:
    data = jpeg(1920, 1080)
    padded = data[:2] + b"\xff" + data[2:]  # a fill byte before the first marker
    progressive = data.replace(b"\xff\xc0", b"\xff\xc2")

    assert inspect_image(data) == ImageHeader("image/jpeg", 1920, 1080)
    assert inspect_image(padded).width == 1920
    assert inspect_image(progressive).height == 1080


def test_reads_the_three_webp_headers() -> None:
    lossy = _riff(b"VP8 ", b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 300, 200))
    extended = _riff(
        b"VP8X", b"\x00" * 4 + (299).to_bytes(3, "little") + (99).to_bytes(3, "little")
    )

    assert inspect_image(lossy) == ImageHeader("image/webp", 300, 200)
    assert inspect_image(webp_lossless(16_384, 1)) == ImageHeader("image/webp", 16_384, 1)
    assert inspect_image(extended) == ImageHeader("image/webp", 300, 100)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a\x01\x00\x01\x00",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x89PNG\r\n\x1a\n",  # signature only
        png(5, 5)[:20],  # IHDR cut short
        png(0, 5),  # a zero dimension
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # JPEG without a frame header
        b"\xff\xd8\xff\xda\x00\x08",  # scan data before any frame
        b"\xff\xd8\xff\xe0\x00\x00",  # a segment length below 2 (would loop forever)
        b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP8X\x00\x00",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
    ids=[
        "empty",
        "gif",
        "svg",
        "png-signature-only",
        "png-truncated",
        "png-zero-width",
        "jpeg-no-frame",
        "jpeg-scan-first",
        "jpeg-short-segment",
        "webp-vp8-no-start-code",
        "webp-vp8x-truncated",
        "riff-wave",
    ],
)
def test_anything_else_is_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        inspect_image(data)
