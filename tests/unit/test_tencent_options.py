"""The Tencent adapters' options models (what operators edit) and the adapters' import cost."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from retouch.providers.tencent_options import (
    FaceFusionOptions,
    HunyuanOptions,
    OutfitOptions,
    TencentOptions,
)
from tests.unit.conftest import declare_isolated
from tests.unit.processes import Started

MODELS: list[type[BaseModel]] = [TencentOptions, HunyuanOptions, FaceFusionOptions, OutfitOptions]
CHECK = (
    "import sys; import retouch.providers.tencent, retouch.providers.tencent_options; "
    "loaded = sorted(name for name in sys.modules if name.split('.')[0] == 'tencentcloud'); "
    "print(' '.join(loaded)); sys.exit(bool(loaded))"
)


declare_isolated("tencent-options:imports", CHECK, module=__name__)


def test_importing_the_adapters_loads_no_tencent_sdk(background: Started) -> None:
    result = background.result("tencent-options:imports")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_defaults_are_the_production_ones() -> None:
    options = TencentOptions()
    hunyuan = HunyuanOptions()

    assert (options.region, options.endpoint, options.logo_add) == ("ap-guangzhou", "", 0)
    assert options.result_hosts == (".myqcloud.com",)
    assert options.outfit.clothes_types == {
        "upper": "Upper-body",
        "lower": "Lower-body",
        "full": "Dress",
    }
    assert sorted(hunyuan.prompts) == ["eraser", "outpaint"]


@pytest.mark.parametrize("model", MODELS)
def test_every_field_is_documented_for_operators(model: type[BaseModel]) -> None:
    properties = model.model_json_schema()["properties"]

    assert properties
    for name, schema in properties.items():
        assert schema.get("description"), f"{model.__name__}.{name} has no docstring"


@pytest.mark.parametrize("model", MODELS)
def test_no_option_holds_a_secret(model: type[BaseModel]) -> None:
    assert not [
        name
        for name in model.model_fields
        if any(word in name for word in ("secret", "key", "token", "password"))
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"secret_key": "x"},  # unknown fields are refused, secrets included
        {"endpoint": "http://127.0.0.1:9000/path"},
        {"endpoint": "127.0.0.1:9000"},
        {"timeout_s": 0},
        {"logo_add": 2},
        {"region": "Guangzhou"},
        {"result_hosts": ["https://x.myqcloud.com/"]},
        {"result_hosts": ["*.myqcloud.com"]},
        {"outpaint_default_ratio": "2:1"},
        {"facefusion": {"fuse_face_degree": 101}},
        {"outfit": {"clothes_types": {"upper": "Shirt"}}},
    ],
)
def test_invalid_tencent_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TencentOptions.model_validate(options)


@pytest.mark.parametrize(
    "options",
    [{"prompts": {"outpaint": ""}}, {"default_resolution": "big"}, {"revise": 3}],
)
def test_invalid_hunyuan_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HunyuanOptions.model_validate(options)


def test_options_are_frozen_and_hosts_lowercased() -> None:
    options = TencentOptions.model_validate(
        {"endpoint": "http://127.0.0.1:9000", "result_hosts": [".MyQcloud.com", "cdn.example.com"]}
    )

    assert options.result_hosts == (".myqcloud.com", "cdn.example.com")
    with pytest.raises(ValidationError):
        options.region = "ap-beijing"
