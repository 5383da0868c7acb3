"""`CompiledSettings`: the settings groups validated by one pydantic-core validator, compiled
from their declarations without building a pydantic model.

A pydantic model of the ≈ 170 `RETOUCH_*` fields cost about 20 ms of CPU on every cold start
(collecting `FieldInfo`s and generating each field's core schema in Python); pydantic-core
builds the validator itself from that schema in about 0.2 ms. The settings use a handful of
types (int, float, str, bool, `SecretStr`, a `Literal`, `X | None`, `list[str]`,
`dict[str, SecretStr]`), the `annotated_types` bounds and a pattern, and field validators: this
module writes the core schema pydantic would for exactly those, once per process on the first
`model_validate`, so the values, the order of validation, each error's type, location and
message are pydantic-core's as before. `tests/unit/test_settings_schema.py` validates the same
inputs with a pydantic model of the same groups and compares the outcomes field by field.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeGuard, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic._internal._decorators import FieldValidatorDecoratorInfo, PydanticDescriptorProxy
from pydantic.fields import FieldInfo
from pydantic_core import CoreConfig, SchemaValidator, core_schema
from typing_extensions import Self

from retouch.core.settings.base import SettingsGroup

_BOUNDS = {
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}
_SCALAR_NAMES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_SCALARS = {
    int: core_schema.int_schema,
    float: core_schema.float_schema,
    str: core_schema.str_schema,
    bool: core_schema.bool_schema,
}


def _is_group(base: type) -> TypeGuard[type[SettingsGroup]]:
    compiled = issubclass(base, CompiledSettings)
    return issubclass(base, SettingsGroup) and base is not SettingsGroup and not compiled


def _field_names(group: type[SettingsGroup]) -> list[str]:
    annotations = inspect.get_annotations(group)
    return [name for name, kind in annotations.items() if "ClassVar" not in str(kind)]


def _field_info(group: type[SettingsGroup], name: str) -> FieldInfo:
    if name not in group.__dict__:
        return FieldInfo()  # annotated without a default: required
    declared = group.__dict__[name]
    return declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)


def _constraints(field: FieldInfo) -> dict[str, Any]:
    """The bounds and pattern of `Field(...)` as core-schema keywords."""
    found: dict[str, Any] = {}
    for item in field.metadata:
        for kind, keyword in _BOUNDS.items():
            if isinstance(item, kind):
                found[keyword] = getattr(item, keyword)
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            found["pattern"] = pattern
    return found


def _type_schema(kind: Any, constraints: dict[str, Any]) -> core_schema.CoreSchema:
    """The core schema of one settings type, its constraints applied where pydantic applies
    them (the inner type of `X | None`)."""
    if kind in _SCALARS:
        return _SCALARS[kind](**constraints)  # type: ignore[no-any-return, operator]
    if kind is SecretStr and not constraints:
        return SecretStr.__get_pydantic_core_schema__(SecretStr, None)  # type: ignore[arg-type]
    origin, arguments = get_origin(kind), get_args(kind)
    if origin is Literal and not constraints:
        return core_schema.literal_schema(list(arguments))
    if origin in (Union, types.UnionType) and len(arguments) == 2 and type(None) in arguments:
        inner = next(argument for argument in arguments if argument is not type(None))
        return core_schema.nullable_schema(_type_schema(inner, constraints))
    if origin is list and not constraints:
        return core_schema.list_schema(_type_schema(arguments[0], {}))
    if origin is dict and not constraints:
        keys, values = (_type_schema(argument, {}) for argument in arguments)
        return core_schema.dict_schema(keys, values)
    raise TypeError(f"a settings field of type {kind!r} {constraints or ''} is not supported")


def _validators(group: type[SettingsGroup]) -> dict[str, list[tuple[str, Any]]]:
    """Field name → its group's (mode, bound method) field validators, in declaration order."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for name, attribute in vars(group).items():
        if isinstance(attribute, PydanticDescriptorProxy):
            info = attribute.decorator_info
            if not isinstance(info, FieldValidatorDecoratorInfo) or info.mode not in (
                "before",
                "after",
            ):
                raise TypeError(f"settings validator {name}: only before/after field validators")
            for field in info.fields:
                found.setdefault(field, []).append((info.mode, getattr(group, name)))
    return found


def _validated(schema: core_schema.CoreSchema, validators: list[tuple[str, Any]]) -> Any:
    for mode, function in validators:  # as pydantic: each wraps the schema built so far
        takes_info = len(inspect.signature(function).parameters) == 2
        if mode == "before" and takes_info:
            schema = core_schema.with_info_before_validator_function(function, schema)
        elif mode == "before":
            schema = core_schema.no_info_before_validator_function(function, schema)
        elif takes_info:
            schema = core_schema.with_info_after_validator_function(function, schema)
        else:
            schema = core_schema.no_info_after_validator_function(function, schema)
    return schema


def _field_schema(
    kind: Any, field: FieldInfo, validators: list[tuple[str, Any]]
) -> core_schema.ModelField:
    schema = _validated(_type_schema(kind, _constraints(field)), validators)
    if field.is_required():
        return core_schema.model_field(schema)
    default: dict[str, Any] = {"validate_default": bool(field.validate_default)}
    if field.default_factory is not None:
        default["default_factory"] = field.default_factory
    else:
        default["default"] = field.default
    return core_schema.model_field(core_schema.with_default_schema(schema, **default))


def _resolve(annotation: str, module: str, seen: dict[tuple[str, str], Any]) -> Any:
    """The type an annotation names (they are strings: `from __future__ import annotations`);
    each distinct text is evaluated once, a builtin scalar not at all."""
    kind = _SCALAR_NAMES.get(annotation)
    if kind is None:
        key = (module, annotation)
        if key not in seen:
            seen[key] = eval(annotation, vars(sys.modules[module]))  # noqa: S307 - our own code
        kind = seen[key]
    return kind


def compile_validator(title: str, groups: tuple[type[SettingsGroup], ...]) -> SchemaValidator:
    """One validator of every field of `groups`, in order; unknown names refused."""
    fields: dict[str, core_schema.ModelField] = {}
    seen: dict[tuple[str, str], Any] = {}
    for group in groups:
        annotations = inspect.get_annotations(group)
        validators = _validators(group)
        for name in _field_names(group):
            kind = _resolve(annotations[name], group.__module__, seen)
            field = _field_info(group, name)
            fields[name] = _field_schema(kind, field, validators.get(name, []))
    # The fields of a model, as pydantic builds them (its `model` wrapper, which makes the
    # instance, aside): the same field by field validation, `info.data` and `info.field_name`.
    schema = core_schema.model_fields_schema(fields, extra_behavior="forbid")
    return SchemaValidator(schema, CoreConfig(title=title))


class CompiledSettings:
    """The base of `Settings`: its settings groups (its bases), taken from the last base to
    the first, as pydantic took a composed model's fields."""

    model_fields: ClassVar[dict[str, FieldInfo]]
    _groups: ClassVar[tuple[type[SettingsGroup], ...]]
    _validator: ClassVar[SchemaValidator | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._groups = tuple(base for base in reversed(cls.__mro__) if _is_group(base))
        cls._validator = None
        cls.model_fields = {
            name: _field_info(group, name) for group in cls._groups for name in _field_names(group)
        }

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> Self:
        """Settings from `values` (field name → raw value); pydantic's ValidationError lists
        the bad fields in declaration order, then the unknown names."""
        if cls._validator is None:
            cls._validator = compile_validator(cls.__name__, cls._groups)
        fields, _extra, _fields_set = cls._validator.validate_python(dict(values))
        settings = cls.__new__(cls)
        settings.__dict__.update(fields)
        return settings

    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with `update`'s values (not validated, as pydantic's model_copy)."""
        copy = self.__class__.__new__(self.__class__)
        copy.__dict__.update(self.__dict__, **update)
        return copy

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"settings are frozen: {name} cannot be set")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{self.__class__.__name__}({shown})"
