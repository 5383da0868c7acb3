"""`scripts/deploy aws`: the exact SAM CLI commands a deploy runs per stage, what it refuses
before running any, how a failing step stops it, the smoke check, and samconfig.toml's
settings against what template.yaml needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import tomllib  # type: ignore[import-not-found,unused-ignore]

from scripts.deploy_aws.__main__ import (
    SAMCONFIG,
    DeployError,
    parse,
    run,
    smoke_check,
)
from scripts.local.sam import TEMPLATE
from tests.unit.test_descriptors import _document

ROOT = Path(__file__).resolve().parents[2]
READY = """
[{stage}.global.parameters]
stack_name = "retouch-{stage}"
region = "ap-southeast-1"
[{stage}.deploy.parameters]
parameter_overrides = "Stage={stage} DbHost=db.internal RedisUrl=rediss://c:6379 FirstAdminEmail="
"""


def _samconfig(tmp_path: Path, stage: str, text: str = READY) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text(text.format(stage=stage))
    return path


def _dry_run(samconfig: Path, *argv: str) -> list[str]:
    lines: list[str] = []
    assert run(parse([*argv, "--dry-run"]), lines.append, samconfig=samconfig) == 0
    return lines


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_dry_run_prints_the_exact_commands_of_a_stage(tmp_path: Path, stage: str) -> None:
    lines = _dry_run(_samconfig(tmp_path, stage), "--stage", stage)

    assert lines == [
        f"sam validate --lint --template template.yaml --config-env {stage}",
        f"sam build --cached --parallel --template template.yaml --config-env {stage}",
        f"sam deploy --config-env {stage}",
        f"sam list stack-outputs --stack-name retouch-{stage} --region ap-southeast-1"
        " --output json",
        "GET <HttpApiUrl|RestApiUrl>v1/features",
    ]


def test_guided_first_deploy_with_a_first_admin_keeps_the_other_overrides(tmp_path: Path) -> None:
    lines = _dry_run(
        _samconfig(tmp_path, "dev"), "--stage", "dev", "--guided", "--first-admin", "me@x.io"
    )

    assert lines[2] == (
        "sam deploy --config-env dev --guided --parameter-overrides Stage=dev "
        "DbHost=db.internal RedisUrl=rediss://c:6379 FirstAdminEmail=me@x.io"
    )


def test_a_placeholder_left_in_samconfig_refuses_a_plain_deploy_before_any_command(
    tmp_path: Path,
) -> None:
    ran: list[list[str]] = []
    text = READY.replace("db.internal", "CHANGE_ME")

    def sam(command: list[str]) -> int:
        ran.append(command)
        return 0

    with pytest.raises(DeployError) as refused:
        run(parse(["--stage", "dev"]), print, sam, _samconfig(tmp_path, "dev", text))

    assert refused.value.status == 2 and "DbHost" in str(refused.value)
    assert ran == []


def test_a_stage_missing_from_samconfig_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as refused:
        run(parse(["--stage", "prod", "--dry-run"]), print, samconfig=_samconfig(tmp_path, "dev"))

    assert refused.value.status == 2 and "[prod.*]" in str(refused.value)


def test_a_failing_step_stops_the_deploy_with_its_exit_status(tmp_path: Path) -> None:
    # GIVEN sam whose build fails with exit status 1
    ran: list[list[str]] = []

    def sam(command: list[str]) -> int:
        ran.append(command)
        return 1 if command[1] == "build" else 0

    # WHEN the deploy runs
    with pytest.raises(DeployError) as stopped:
        run(parse(["--stage", "dev"]), print, sam, _samconfig(tmp_path, "dev"))

    # THEN it stopped there: nothing deployed, the build's status is the deploy's
    assert [command[1] for command in ran] == ["validate", "build"]
    assert stopped.value.status == 1 and "sam build" in str(stopped.value)


@pytest.mark.parametrize(
    "argv",
    [["--stage", "qa"], [], ["--stage", "dev", "--first-admin"]],
    ids=["unknown-stage", "no-stage", "admin-without-email"],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(argv)

    assert exited.value.code == 2


def test_the_bash_entry_routes_aws_and_refuses_an_unknown_cloud() -> None:
    aws = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "deploy"), "aws", "--stage", "dev", "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
    )
    other = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "deploy"), "gcp"], capture_output=True, text=True, check=False
    )

    # the committed samconfig.toml deploys a new account as it stands (DataTier=new, no
    # placeholder): the dry run prints the whole plan, from validate to the smoke check
    assert aws.returncode == 0, aws.stderr
    assert aws.stdout.splitlines()[0].startswith("sam validate --lint")
    assert "sam deploy --config-env dev" in aws.stdout and "v1/features" in aws.stdout
    assert other.returncode == 2 and "scripts/deploy aws --stage" in other.stderr


def test_the_smoke_check_needs_200_from_every_api() -> None:
    outputs = {"HttpApiUrl": "https://h.example/", "RestApiUrl": "https://r.example/dev/"}
    fetched: list[str] = []

    def fetch(url: str) -> int:
        fetched.append(url)
        return 200 if url.startswith("https://h.") else 502

    assert smoke_check({"HttpApiUrl": outputs["HttpApiUrl"]}, lambda _url: 200) == [
        "smoke: GET https://h.example/v1/features -> 200"
    ]
    with pytest.raises(DeployError) as failed:
        smoke_check(outputs, fetch)
    assert fetched == ["https://h.example/v1/features", "https://r.example/dev/v1/features"]
    assert failed.value.status == 1 and "r.example" in str(failed.value).splitlines()[-1]
    with pytest.raises(DeployError):
        smoke_check({}, fetch)


def _needed_capabilities() -> set[str]:
    """CAPABILITY_IAM for IAM resources, NAMED_IAM when one has a fixed name, AUTO_EXPAND for
    the SAM transform."""
    template = _document(TEMPLATE)
    resources = template["Resources"].values()
    name_keys = ("RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName")
    named = any(
        resource["Type"].startswith("AWS::IAM::")
        and any(key in resource.get("Properties", {}) for key in name_keys)
        for resource in resources
    )
    return {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} | (
        {"CAPABILITY_NAMED_IAM"} if named else set()
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_samconfig_stage_has_the_capabilities_the_template_needs_and_resolves_s3(
    stage: str,
) -> None:
    deploy = tomllib.loads(SAMCONFIG.read_text())[stage]["deploy"]["parameters"]

    assert set(deploy["capabilities"].split()) == _needed_capabilities()
    assert deploy["resolve_s3"] is True and deploy["fail_on_empty_changeset"] is False
    # prod shows the change set and waits for a yes; dev does not
    assert deploy["confirm_changeset"] is (stage == "prod")
    assert f"Stage={stage}" in deploy["parameter_overrides"]
    assert "Password" not in deploy["parameter_overrides"]
