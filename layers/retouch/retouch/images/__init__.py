"""Images as bytes: what an object really is (type and dimensions from its header, never from
decoding pixels), the pixel cap every decode checks first (`inspect_within`), and the
normalised copy the pipeline works on. Used by uploads (the upload trigger), the pipeline
(prepare, store) and the providers (results, local algorithms).

OpenCV is imported on first use by `normalize` (and the local provider) only; importing this
package sets OpenCV's own pixel cap before that can happen (`limit_image_decoders`).
"""

from retouch.core.settings import limit_image_decoders
from retouch.images.inspection import (
    ImageHeader,
    NotAnImage,
    TooManyPixels,
    inspect_image,
    inspect_within,
)
from retouch.images.normalize import MAX_SIDE, normalize

limit_image_decoders()

__all__ = [
    "MAX_SIDE",
    "ImageHeader",
    "NotAnImage",
    "TooManyPixels",
    "inspect_image",
    "inspect_within",
    "normalize",
]
