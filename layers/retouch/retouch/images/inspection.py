"""What an uploaded object really is: its type from magic bytes and its dimensions from the
image header, never from decoding pixels (a 20,000 × 20,000 PNG is a few hundred bytes of
header and 1.6 GB of pixels: a decompression bomb).

Only the three accepted formats are read, each with a few fixed-layout header fields, so this
is a small parser rather than an image library in the shared layer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# JPEG start-of-frame markers (baseline, progressive, lossless, ...); not DHT/JPG/DAC.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG or WebP whose header we can read."""


class TooManyPixels(NotAnImage):
    """The header declares more pixels than allowed. Refused unread, as bytes that are no
    image are: decoding it could take more memory than the process has."""


@dataclass(frozen=True, slots=True)
class ImageHeader:
    content_type: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect_image(data: bytes) -> ImageHeader:
    """The real type and dimensions of `data`; NotAnImage when it is none of our formats."""
    try:
        if data.startswith(PNG_SIGNATURE):
            header = _png(data)
        elif data.startswith(JPEG_SIGNATURE):
            header = _jpeg(data)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            header = _webp(data)
        else:
            raise NotAnImage("unknown magic bytes")
    except (struct.error, IndexError):
        raise NotAnImage("truncated image header") from None
    if header.width < 1 or header.height < 1:
        raise NotAnImage("an image dimension is zero")
    return header


def inspect_within(data: bytes, *, max_pixels: int) -> ImageHeader:
    """The header of `data`, checked before anything decodes it: NotAnImage when it is none of
    our formats, TooManyPixels when it declares more than `max_pixels`."""
    header = inspect_image(data)
    if header.pixels > max_pixels:
        raise TooManyPixels(f"{header.width}x{header.height} is more than {max_pixels} pixels")
    return header


def _png(data: bytes) -> ImageHeader:
    # The first chunk must be IHDR: length 13, then width and height (big-endian).
    length, kind = struct.unpack_from(">I4s", data, 8)
    if kind != b"IHDR" or length != 13:
        raise NotAnImage("PNG without IHDR first")
    width, height = struct.unpack_from(">II", data, 16)
    return ImageHeader("image/png", width, height)


def _jpeg(data: bytes) -> ImageHeader:
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            raise NotAnImage("JPEG marker expected")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            break
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, position + 5)
            return ImageHeader("image/jpeg", width, height)
        if length < 2:
            raise NotAnImage("JPEG segment length below 2")
        position += 2 + length
    raise NotAnImage("JPEG without a frame header")


def _webp(data: bytes) -> ImageHeader:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
        if data[23:26] != b"\x9d\x01\x2a":
            raise NotAnImage("VP8 without its start code")
        width, height = struct.unpack_from("<HH", data, 26)
        return ImageHeader("image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise NotAnImage("VP8L without its signature")
        (bits,) = struct.unpack_from("<I", data, 21)
        return ImageHeader("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        if len(data) < 30:
            raise NotAnImage("truncated VP8X header")
        return ImageHeader("image/webp", width, height)
    raise NotAnImage("unknown WebP chunk")
