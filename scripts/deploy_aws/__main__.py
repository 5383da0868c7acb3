"""The AWS deploy, in order: lint the template, build (cached), deploy the stage's stack (the
deploy itself runs the migrations, the seed and the first admin: the template's `Migrations`
custom resource), then print the stack's outputs and smoke-check `GET /v1/features` on both APIs.

    scripts/deploy aws --stage dev|prod [--guided] [--first-admin EMAIL] [--dry-run]

Each step is a SAM CLI command with `--config-env <stage>` (samconfig.toml holds the stack name,
region, capabilities and parameters). `--guided` is for a stage's first deploy: SAM asks for the
parameters and saves them. `--dry-run` prints the commands and runs nothing. The first failing
step stops the deploy with its exit status (a failed migration has then already rolled the
stack back, its error in the stack's events); exit status 2 means refused before any command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib  # type: ignore[import-not-found,unused-ignore]  # 3.11+: the dev tools run on it

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = ROOT / "samconfig.toml"
TEMPLATE = "template.yaml"
PLACEHOLDER = "CHANGE_ME"
#: The outputs whose URL the smoke check calls (`<url>v1/features`, public and cached).
API_OUTPUTS = ("HttpApiUrl", "RestApiUrl")
SMOKE_PATH = "v1/features"
SMOKE_TIMEOUT_S = 15

Runner = Callable[[list[str]], int]


class DeployError(RuntimeError):
    """A step failed or the config is not ready; `status` is the exit status to end with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Stage:
    """One `[<stage>.*]` environment of samconfig.toml."""

    name: str
    stack_name: str
    region: str
    parameter_overrides: str


def load_stage(name: str, samconfig: Path = SAMCONFIG) -> Stage:
    """The stage's stack name, region and parameters from samconfig.toml."""
    config = tomllib.loads(samconfig.read_text()).get(name)
    if not isinstance(config, dict):
        raise DeployError(f"{samconfig.name} has no [{name}.*] environment", 2)
    glob = config.get("global", {}).get("parameters", {})
    deploy = config.get("deploy", {}).get("parameters", {})
    return Stage(
        name=name,
        stack_name=str(glob.get("stack_name", "")),
        region=str(glob.get("region", "")),
        parameter_overrides=str(deploy.get("parameter_overrides", "")),
    )


def deploy_commands(stage: Stage, *, guided: bool, first_admin: str | None) -> list[list[str]]:
    """The SAM CLI commands of a deploy, in order."""
    env = ["--config-env", stage.name]
    deploy = ["sam", "deploy", *env]
    if guided:
        deploy.append("--guided")
    if first_admin:
        # on the command line the overrides replace samconfig's: pass them all, plus this one
        kept = [
            p
            for p in shlex.split(stage.parameter_overrides)
            if not p.startswith("FirstAdminEmail=")
        ]
        deploy += ["--parameter-overrides", *kept, f"FirstAdminEmail={first_admin}"]
    return [
        ["sam", "validate", "--lint", "--template", TEMPLATE, *env],
        ["sam", "build", "--cached", "--parallel", "--template", TEMPLATE, *env],
        deploy,
    ]


def outputs_command(stage: Stage) -> list[str]:
    """The command that prints the stack's outputs as JSON."""
    return ["sam", "list", "stack-outputs", "--stack-name", stage.stack_name,
            "--region", stage.region, "--output", "json"]  # fmt: skip


def check_ready(stage: Stage, *, guided: bool) -> None:
    """Refuse a plain deploy while samconfig.toml still has a placeholder (the guided one asks
    for them) or names no stack or region."""
    if not stage.stack_name or not stage.region:
        raise DeployError(
            f"samconfig.toml: [{stage.name}.global.parameters] needs stack_name and region", 2
        )
    left = [p.split("=")[0] for p in shlex.split(stage.parameter_overrides) if PLACEHOLDER in p]
    if left and not guided:
        raise DeployError(
            f"samconfig.toml [{stage.name}.deploy.parameters] still has {PLACEHOLDER} for "
            f"{', '.join(left)}: set them, or run the first deploy with --guided",
            2,
        )


def smoke_check(outputs: dict[str, str], fetch: Callable[[str], int] | None = None) -> list[str]:
    """GET `/v1/features` on each API URL of the outputs; answers one line per URL, and
    raises DeployError when one does not answer 200."""
    fetch = fetch or _get_status
    lines, failed = [], []
    for key in API_OUTPUTS:
        if key in outputs:
            url = outputs[key].rstrip("/") + "/" + SMOKE_PATH
            status = fetch(url)
            lines.append(f"smoke: GET {url} -> {status}")
            if status != 200:
                failed.append(url)
    if failed or not lines:
        raise DeployError("\n".join([*lines, f"smoke check failed: {failed or 'no API URL'}"]), 1)
    return lines


def _get_status(url: str) -> int:
    """The HTTP status of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=SMOKE_TIMEOUT_S) as reply:  # noqa: S310 - https outputs
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _run(command: list[str]) -> int:
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603 - sam, fixed


def _read_outputs(stage: Stage) -> dict[str, str]:
    result = subprocess.run(  # noqa: S603 - sam, fixed arguments
        outputs_command(stage), cwd=ROOT, check=False, capture_output=True, text=True
    )
    if result.returncode:
        raise DeployError(f"cannot read the stack's outputs:\n{result.stderr}", result.returncode)
    return {item["OutputKey"]: item["OutputValue"] for item in json.loads(result.stdout)}


def run(
    args: argparse.Namespace,
    say: Callable[[str], Any] = print,
    runner: Runner = _run,
    samconfig: Path = SAMCONFIG,
) -> int:
    """Check, run each command (or print it with --dry-run), then outputs and smoke check."""
    stage = load_stage(args.stage, samconfig)
    check_ready(stage, guided=args.guided)
    commands = deploy_commands(stage, guided=args.guided, first_admin=args.first_admin)
    if args.dry_run:
        for command in [*commands, outputs_command(stage)]:
            say(shlex.join(command))
        say(f"GET <{'|'.join(API_OUTPUTS)}>{SMOKE_PATH}")
        return 0
    for command in commands:
        say(f"$ {shlex.join(command)}")
        status = runner(command)
        if status:
            raise DeployError(
                f"`{shlex.join(command[:2])}` failed (exit {status}): deploy stopped", status
            )
    outputs = _read_outputs(stage)
    for key, value in sorted(outputs.items()):
        say(f"{key}: {value}")
    for line in smoke_check(outputs):
        say(line)
    return 0


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/deploy aws")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--guided", action="store_true", help="first deploy: SAM asks, saves")
    parser.add_argument("--first-admin", metavar="EMAIL", help="promote this registered user")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run(args)
    except DeployError as error:
        print(error, file=sys.stderr)
        return error.status


if __name__ == "__main__":
    sys.exit(main())
