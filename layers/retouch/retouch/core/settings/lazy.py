"""`GroupedSettings`: one flat, frozen view of the settings groups, each group validated by a
pydantic model of its own, built the first time the group is needed.

Building one pydantic model of every `RETOUCH_*` field (≈ 170) cost about 35-45 ms of CPU on
every cold start, whatever the function read. Here a group's model is built when the group is
validated, and a group is validated when the settings are (`model_validate`) if it can fail:
it has a required field, or one of its variables is set, or a variable one of its validators
reads from an earlier group (`SettingsGroup.reads_earlier`) is set. Any other group holds its
defaults only, which validate by construction (`tests/unit/test_settings_groups.py` pins it),
so it is built the first time one of its fields is read. A misconfigured variable therefore
still fails the first `get_settings()`, in the order the fields are declared, and an unknown
`RETOUCH_*` name after every invalid one, as one model reported them.

A field read is a plain attribute read once its group is validated: the group's values are
kept in the instance's `__dict__`, ahead of the class's non-data descriptor that builds it.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any, ClassVar, TypeGuard

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from typing_extensions import Self

from retouch.core.settings.base import SettingsGroup


class _GroupField:
    """A field read before its group was validated: validates the group, then answers."""

    __slots__ = ("group", "name")

    def __init__(self, name: str, group: type[SettingsGroup]) -> None:
        self.name, self.group = name, group

    def __get__(self, settings: GroupedSettings | None, owner: type[GroupedSettings]) -> Any:
        if settings is None:
            return owner.model_fields[self.name]
        settings._validate_group(self.group)
        return settings.__dict__[self.name]


_MODELS: dict[type[SettingsGroup], type[BaseModel]] = {}


def group_model(group: type[SettingsGroup]) -> type[BaseModel]:
    """The pydantic model of one group (its fields and validators), built once per process."""
    model = _MODELS.get(group)
    if model is None:
        config = ConfigDict(frozen=True, extra="ignore")
        namespace = {"__module__": group.__module__, "model_config": config}
        model = _MODELS[group] = type(group.__name__, (group, BaseModel), namespace)
    return model


def _field_names(group: type[SettingsGroup]) -> tuple[str, ...]:
    annotations = inspect.get_annotations(group)
    return tuple(name for name, kind in annotations.items() if "ClassVar" not in str(kind))


class GroupedSettings:
    """The base of `Settings`: its settings groups (its bases) in the order pydantic took a
    composed model's fields, from the last base to the first."""

    model_fields: ClassVar[dict[str, FieldInfo]]
    _groups: ClassVar[tuple[type[SettingsGroup], ...]]
    _triggers: ClassVar[dict[type[SettingsGroup], frozenset[str] | None]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        groups = [base for base in reversed(cls.__mro__) if _is_group(base)]
        cls._groups, cls.model_fields, cls._triggers = tuple(groups), {}, {}
        for group in groups:
            names = _field_names(group)
            fields = {name: _field_info(group, name) for name in names}
            cls.model_fields.update(fields)
            required = any(field.is_required() for field in fields.values())
            cls._triggers[group] = None if required else frozenset(names) | group.reads_earlier
            for name in names:
                setattr(cls, name, _GroupField(name, group))

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> Self:
        """Settings from `values` (field name → raw value): every group that can fail is
        validated now; pydantic's ValidationError names the first bad field, else the first
        unknown name."""
        settings = cls.__new__(cls)
        object.__setattr__(settings, "_values", dict(values))
        object.__setattr__(settings, "_validated", set())
        object.__setattr__(settings, "_lock", threading.RLock())
        for group, triggers in cls._triggers.items():
            if triggers is None or not triggers.isdisjoint(values):
                settings._validate_group(group)
        unknown = next((name for name in values if name not in cls.model_fields), None)
        if unknown is not None:
            error = {"type": "extra_forbidden", "loc": (unknown,), "input": values[unknown]}
            raise ValidationError.from_exception_data(cls.__name__, [error])  # type: ignore[list-item]
        return settings

    def _validate_group(self, group: type[SettingsGroup]) -> None:
        validated: set[type[SettingsGroup]] = self.__dict__["_validated"]
        if group in validated:
            return
        with self.__dict__["_lock"]:  # a random default key is drawn once, whichever thread
            if group in validated:
                return
            for name in group.reads_earlier:  # its group's defaults, if not validated yet
                getattr(self, name)
            model = group_model(group).model_validate(self._values, context=self.__dict__)
            self.__dict__.update({name: getattr(model, name) for name in _field_names(group)})
            validated.add(group)

    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with `update`'s values (not validated, as pydantic's model_copy)."""
        for group in self._groups:
            self._validate_group(group)
        copy = self.__class__.__new__(self.__class__)
        copy.__dict__.update(self.__dict__, _lock=threading.RLock(), **update)
        copy.__dict__["_validated"] = set(self._validated)
        return copy

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"settings are frozen: {name} cannot be set")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={self.__dict__[name]!r}" for name in self.model_fields if name in self.__dict__
        )
        return f"{self.__class__.__name__}({shown})"

    _values: dict[str, Any]
    _validated: set[type[SettingsGroup]]


def _is_group(base: type) -> TypeGuard[type[SettingsGroup]]:
    grouped = issubclass(base, GroupedSettings)
    return issubclass(base, SettingsGroup) and base is not SettingsGroup and not grouped


def _field_info(group: type[SettingsGroup], name: str) -> FieldInfo:
    if name not in group.__dict__:
        return FieldInfo()  # annotated without a default: required
    declared = group.__dict__[name]
    return declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)
