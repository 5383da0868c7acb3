"""The `local` provider: real results for the five features from classical OpenCV algorithms,
offline (`algorithms.run`), and sample images made from code (`samples.sample_images`).

OpenCV and numpy are imported inside the functions that use them, so importing this package
costs nothing where they are not installed (they are, only for the step that runs it).
"""

# Every module of this package may import cv2; `retouch.images` sets OpenCV's own pixel cap
# (OPENCV_IO_MAX_IMAGE_PIXELS), which OpenCV reads once when it loads, so it comes first.
import retouch.images  # noqa: F401
