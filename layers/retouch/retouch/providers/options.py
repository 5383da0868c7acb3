"""Each provider kind's options model: the non-secret settings an operator keeps in
`provider_configs.options`. The catalog checks an admin's input against it before storing,
and the step function builds the adapter from it. Models import nothing heavy."""

from __future__ import annotations

import importlib

from pydantic import BaseModel

from retouch.core.schemas import RequestSchema


class NoOptions(RequestSchema):
    """A provider without settings: its options must be empty."""


#: Where each kind's options model lives ("module:Class"); kinds not listed take none.
_MODELS: dict[str, str] = {
    "runninghub": "retouch.providers.runninghub_options:RunningHubOptions",
    "tencent": "retouch.providers.tencent_options:TencentOptions",
    "hunyuan": "retouch.providers.tencent_options:HunyuanOptions",
}


def options_model(kind: str) -> type[BaseModel]:
    """The options model of provider `kind` (imported on first use)."""
    path = _MODELS.get(kind)
    if path is None:
        return NoOptions
    module, _, name = path.partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model
