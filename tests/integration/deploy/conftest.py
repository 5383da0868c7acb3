"""The `migrate` function's built package, shared by its SCF and AWS (custom resource) tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from scripts.deploy_tencent.config import load_plan
from scripts.deploy_tencent.package import build_function
from scripts.local.lambda_runtime import load_function
from tests.integration.deploy.test_deploy_tencent import DEPLOY_ENV, _test_config


@pytest.fixture(scope="module")
def migrate_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The migrate function's app.py, loaded from its built package."""
    root = tmp_path_factory.mktemp("migrate")
    plan = load_plan("dev", DEPLOY_ENV, _test_config(root))
    package = build_function(plan.functions["migrate"], plan)
    unpacked = root / "package"
    zipfile.ZipFile(io.BytesIO(package.data)).extractall(unpacked)
    (unpacked / "yoyo").rename(root / "yoyo-of-the-package")  # the dev tools' yoyo runs here
    return load_function(unpacked / "app.py")
