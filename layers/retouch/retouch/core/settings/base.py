"""The base of every settings group."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationInfo


class SettingsGroup:
    """A group of settings: its annotated fields and validators, and nothing else. A plain
    class, not a pydantic model: `Settings` validates each group with a model of its own,
    built when the group is first needed (`lazy.py`)."""

    #: Fields of earlier groups this group's validators read (`earlier`): when one of them is
    #: set, the group is validated with the settings, even if none of its own variables is.
    reads_earlier: ClassVar[frozenset[str]] = frozenset()


def earlier(info: ValidationInfo, name: str) -> object:
    """The validated value of field `name`, declared before the field being validated: in its
    own group (`info.data`) or in an earlier one (the validation context); None when it is
    invalid or unknown."""
    if name in info.data:
        return info.data[name]
    context = info.context or {}
    return context.get(name)
