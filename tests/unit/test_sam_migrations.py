"""The deploy's migrations in the real resources: template.yaml translated by
aws-sam-translator (what CloudFormation receives), the `Migrations` custom resource wired to
MigrateFunction's published version, so a new package (new migrations or seed) re-runs it."""

from __future__ import annotations

from typing import Any

import pytest
from samtranslator.translator.transform import transform

from scripts.local.sam import TEMPLATE
from tests.unit.test_descriptors import _document


class _NoManagedPolicies:
    """The translator's IAM look-up: the template names no AWS managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


def _packaged() -> dict[str, Any]:
    """The template as `sam package` leaves it: every local code folder an S3 object."""
    template = _document(TEMPLATE)
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://deploy-bucket/{logical_id}.zip"
    return template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the pseudo parameters' region
        translated = transform(
            _packaged(),
            {"DbHost": "db.internal", "RedisUrl": "rediss://cache:6379"},
            _NoManagedPolicies(),
        )
    return translated["Resources"]  # type: ignore[no-any-return]


def test_the_migrations_resource_runs_the_published_migrate_function(
    resources: dict[str, Any],
) -> None:
    migrations = resources["Migrations"]
    assert migrations["Type"] == "AWS::CloudFormation::CustomResource"
    properties = migrations["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    assert properties["FirstAdminEmail"] == {"Ref": "FirstAdminEmail"}

    # its CodeVersion is the function's published version: a new package is a new value
    version = resources[properties["CodeVersion"]["Ref"]]
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": "MigrateFunction"}


def test_the_migrate_function_has_time_to_answer_and_reads_only_its_own_secrets(
    resources: dict[str, Any],
) -> None:
    function = resources["MigrateFunction"]["Properties"]
    assert function["Handler"] == "app.handler"
    # CloudFormation waits ServiceTimeout seconds for the answer: longer than the function runs
    assert function["Timeout"] < resources["Migrations"]["Properties"]["ServiceTimeout"] <= 3600

    role = resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert {"Ref": "RuntimeSecretsPolicy"} in role["ManagedPolicyArns"]
    assert not role.get("Policies")


def test_every_other_function_waits_for_the_migrations(resources: dict[str, Any]) -> None:
    # GIVEN the functions of the app (all but the one that runs the migrations)
    functions = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function" and logical_id != "MigrateFunction"
    }

    # THEN each is created or updated only after the Migrations resource answered, so new code
    # never serves a schema the deploy has not migrated yet
    assert len(functions) == 16  # with BackupFunction and BackupVerifyFunction
    for logical_id, resource in functions.items():
        depends = resource.get("DependsOn", [])
        assert "Migrations" in ([depends] if isinstance(depends, str) else depends), logical_id
