"""Codecs: how a cached value becomes the JSON text stored in Redis, and back."""

from __future__ import annotations

from functools import cached_property
from typing import Generic, Protocol, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


class Codec(Protocol[T]):
    """Turns a value into text and back; `decode(encode(v)) == v`."""

    def encode(self, value: T) -> str: ...

    def decode(self, data: str) -> T: ...


class JsonCodec(Generic[T]):
    """JSON through a pydantic `TypeAdapter` of `type_` (a model, `list[Model]`, `dict`, ...).

    The adapter is built on first use, not when the codec is declared, so a module may hold
    its codecs as constants without paying for schema building at import time (cold start).
    """

    def __init__(self, type_: type[T]) -> None:
        self._type = type_

    @cached_property
    def _adapter(self) -> TypeAdapter[T]:
        return TypeAdapter(self._type)

    def encode(self, value: T) -> str:
        return self._adapter.dump_json(value).decode()

    def decode(self, data: str) -> T:
        return self._adapter.validate_json(data)
