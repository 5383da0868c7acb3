"""Failures of the local provider."""

from __future__ import annotations


class AlgorithmInputError(ValueError):
    """The input cannot be worked on: not a decodable image, empty, larger than the pixel budget,
    a parameter out of range or an unknown feature. Permanent: running again cannot succeed."""
