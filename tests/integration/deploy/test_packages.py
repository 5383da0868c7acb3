"""The real packages (deploy/tencent.yml's layers from the real lock files, wheels for SCF's
CPython 3.10 on manylinux2014_x86_64) build and fit SCF's size limits. Wheels are downloaded
once per lock (.local/deploy-wheels/<hash>/), so a rerun only zips."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from scripts.deploy_tencent.__main__ import build
from scripts.deploy_tencent.config import load_plan
from scripts.deploy_tencent.package import INLINE_ZIP_LIMIT, UNZIPPED_LIMIT
from tests.integration.deploy.test_deploy_tencent import DEPLOY_ENV

pytestmark = pytest.mark.integration


def test_the_real_packages_build_for_python_3_10_and_fit_scf_limits(tmp_path: Path) -> None:
    plan = load_plan("dev", DEPLOY_ENV)

    layers, functions = build(plan)

    names = set(zipfile.ZipFile(io.BytesIO(layers["retouch"].data)).namelist())
    assert {"retouch/__init__.py", "pydantic/__init__.py", "fastapi/__init__.py"} <= names
    assert layers["retouch"].inline and all(package.inline for package in functions.values())
    assert len(layers["retouch"].data) <= INLINE_ZIP_LIMIT
    for key, function in plan.functions.items():
        total = functions[key].unzipped + sum(layers[n].unzipped for n in function.layers)
        assert total <= UNZIPPED_LIMIT, key
