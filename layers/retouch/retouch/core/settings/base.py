"""The base of every settings group."""

from __future__ import annotations


class SettingsGroup:
    """A group of settings: its annotated fields and validators, and nothing else. A plain
    class, not a pydantic model: `Settings` compiles the fields and validators of every group
    into one validator (`compiled.py`), without the cost of building a model."""
