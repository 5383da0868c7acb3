"""The deploy, in order: check the config, build every package and check its size, then the
namespace, the layer versions, the functions and their triggers, the API Gateway service and
its APIs, and last the migration function's run (migrations, seed, first admin).

    scripts/deploy tencent --stage dev [--dry-run]

`--dry-run` stops after the packages are built and checked: nothing is called. Exit status 2
means the config or a package was refused before any call; 1 that a call failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scripts.deploy_tencent import apigw, cors, scf
from scripts.deploy_tencent.api import CloudError, TencentApi
from scripts.deploy_tencent.config import CONFIG, ConfigError, Plan, load_plan
from scripts.deploy_tencent.cos import cos_uploader
from scripts.deploy_tencent.package import (
    Package,
    PackageError,
    build_function,
    build_layer,
    size_problems,
)

MIGRATE = "migrate"


def build(plan: Plan) -> tuple[dict[str, Package], dict[str, Package]]:
    """Every layer's and function's package, or PackageError when SCF would refuse one."""
    layers = {key: build_layer(layer, plan) for key, layer in plan.layers.items()}
    functions = {key: build_function(function, plan) for key, function in plan.functions.items()}
    problems = size_problems(plan, layers, functions)
    if problems:
        raise PackageError("packages SCF would refuse:\n  " + "\n  ".join(problems))
    return layers, functions


def deploy(plan: Plan, environ: Mapping[str, str], say: Any = print) -> dict[str, Any]:
    """Build, then create or update everything of the plan; answers what was done."""
    layer_packages, function_packages = build(plan)
    api = TencentApi(plan.region, environ)
    upload = cos_uploader(plan, environ)
    scf.ensure_namespace(api, plan)
    versions = {
        key: scf.publish_layer(api, package, plan, upload)
        for key, package in layer_packages.items()
    }
    say(f"layers: {versions}")
    done: dict[str, Any] = {"layers": versions, "functions": {}, "triggers": {}}
    for key, function in plan.functions.items():
        done["functions"][key] = scf.upsert_function(
            api, function, function_packages[key], plan, versions, upload
        )
        done["triggers"][key] = scf.sync_triggers(api, function, plan)
        if scf.configure_async_invoke(api, function, plan):
            done.setdefault("async_invoke", []).append(key)
        triggers = done["triggers"][key] or "unchanged"
        say(f"{function.name}: {done['functions'][key]}; triggers {triggers}")
    service = apigw.ensure_service(api, plan)
    done["apis"] = apigw.sync_apis(api, plan, service["ServiceId"])
    api_ids = set(apigw.existing_apis(api, service["ServiceId"]).values())
    done["cors"] = cors.sync_cors(api, plan, service["ServiceId"], api_ids)
    say(
        f"API Gateway {service['ServiceId']}: {done['apis']}; https://{service.get('OuterSubDomain')}"
    )
    if MIGRATE in plan.functions:
        first_admin = environ.get("RETOUCH_FIRST_ADMIN_EMAIL") or None
        done["migrate"] = scf.invoke_migrate(api, plan.functions[MIGRATE], plan, first_admin)
        say(f"migrate: {done['migrate']}")
    return done


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy tencent")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--dry-run", action="store_true", help="build and check, call nothing")
    parser.add_argument("--config", type=Path, default=CONFIG, help="default: deploy/tencent.yml")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        plan = load_plan(args.stage, environ, args.config)
        if args.dry_run:
            layers, functions = build(plan)
            for package in (*layers.values(), *functions.values()):
                print(
                    f"{package.name}: {len(package.data)} bytes zipped, {package.unzipped} unzipped"
                )
            return 0
        deploy(plan, environ)
    except (ConfigError, PackageError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except CloudError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
