"""Images as bytes: what an object really is (type and dimensions from its header, never from
decoding pixels) and the normalised copy the pipeline works on. Used by uploads (the upload
trigger), the pipeline (prepare, store) and the providers (results, local algorithms).
OpenCV is imported on first use by `normalize` only."""

from retouch.images.inspection import ImageHeader, NotAnImage, inspect_image
from retouch.images.normalize import MAX_SIDE, normalize

__all__ = ["MAX_SIDE", "ImageHeader", "NotAnImage", "inspect_image", "normalize"]
