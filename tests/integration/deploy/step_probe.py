"""Child process of tests/integration/deploy/test_lambda_sizes.py: the OpenCV work our steps do,
run by whatever `cv2`, `numpy` and `retouch` are first on the path, as SHA-256 digests.

    python step_probe.py

Prints one JSON object: the Python version, where `cv2` was loaded from, and the digest of every
sample picture, of every local-provider feature run on its sample form (`algorithms.run`: Haar
face detection, GrabCut, inpainting, seamless cloning, warps, blurs, morphology, PNG codecs)
and of `prepare`'s normalisation. Two OpenCV builds that give the same digests computed the
same pixels.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import cv2

from retouch.images.normalize import normalize
from retouch.providers.local.algorithms import run
from retouch.providers.local.samples import SAMPLE_FORMS, sample_images

#: Parameters that take each feature through its fuller path (edges refined, a dilated mask…).
PARAMS: dict[str, dict[str, Any]] = {
    "cutout": {"refine_edges": True},
    "eraser": {"dilate": 4},
    "outfit": {"garment_type": "upper"},
    "outpaint": {"ratio": "16:9"},
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    samples = sample_images()
    digests = {f"sample:{name}": _digest(data) for name, data in samples.items()}
    for feature, form in SAMPLE_FORMS.items():
        images = {field: samples[name] for field, name in form.items()}
        digests[f"feature:{feature}"] = _digest(run(feature, images, PARAMS.get(feature, {})))
    for name in ("portrait", "scene"):
        digests[f"normalize:{name}"] = _digest(normalize(samples[name]))
    python = ".".join(map(str, sys.version_info[:2]))
    print(json.dumps({"python": python, "cv2": cv2.__file__, "digests": digests}))  # noqa: T201


if __name__ == "__main__":
    main()
