"""The deploy's packages: deterministic zips of a function's folder, and SCF's size limits
(20 MB inline, else a code bucket; 500 MB unzipped with the layers) enforced before upload."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest

from scripts.deploy_tencent.config import Plan, load_plan
from scripts.deploy_tencent.package import (
    INLINE_ZIP_LIMIT,
    UNZIPPED_LIMIT,
    Package,
    build_function,
    size_problems,
)
from tests.unit.test_deploy_config import _environment


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan("dev", _environment())


def _packages(
    plan: Plan, *, layer: int = 1, function: int = 1
) -> tuple[dict[str, Package], dict[str, Package]]:
    layers = {key: Package(f"layer-{key}", b"x" * layer, layer) for key in plan.layers}
    functions = {key: Package(f"fn-{key}", b"x" * function, function) for key in plan.functions}
    return layers, functions


def test_a_function_zip_is_its_folder_and_the_same_bytes_every_time(plan: Plan) -> None:
    health = plan.functions["health"]

    first, second = build_function(health, plan), build_function(health, plan)

    assert first.data == second.data
    assert zipfile.ZipFile(io.BytesIO(first.data)).namelist() == ["app.py"]


def test_packages_within_the_limits_pass(plan: Plan) -> None:
    assert size_problems(plan, *_packages(plan)) == []


def test_a_zip_past_the_inline_limit_needs_the_code_bucket(plan: Plan) -> None:
    layers, functions = _packages(plan, layer=INLINE_ZIP_LIMIT + 1)

    without_bucket = size_problems(replace(plan, code_bucket=""), layers, functions)

    assert len(without_bucket) == len(layers)
    assert all("needs a code bucket" in line for line in without_bucket)
    assert size_problems(plan, layers, functions) == []


def test_a_function_past_500_mb_unzipped_with_its_layers_is_refused(plan: Plan) -> None:
    layers, functions = _packages(plan, layer=UNZIPPED_LIMIT // 2, function=1)

    problems = size_problems(plan, layers, functions)

    assert problems == [
        f"function {key}: {UNZIPPED_LIMIT // 2 * 2 + 1} bytes unzipped with its layers "
        f"(SCF allows {UNZIPPED_LIMIT})"
        for key, function in plan.functions.items()
        if len(function.layers) == 2
    ]
    assert problems
