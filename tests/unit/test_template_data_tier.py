"""template.yaml's data tier and network, checked on what CloudFormation would create: the
template translated by aws-sam-translator for each way to deploy (DataTier new with and
without the NAT gateway, existing with and without a VPC), its conditions applied. Every
function in the VPC, the database reached through the proxy over TLS, Redis over TLS, no
fixed physical name, no `arn:aws:` literal, and concurrency inside the connection budget of
docs/capacity.md."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from typing import Any

import pytest

from retouch.catalog.errors import ConfigInvalid
from retouch.catalog.schemas import ProviderWrite
from retouch.catalog.validation import check_provider
from scripts.local.sam import TEMPLATE
from tests.unit.cfn_support import broken_rules, looked_up, translated
from tests.unit.processes import Command, Started, declare

NEW = {"DataTier": "new"}
NEW_WITHOUT_NAT = {"DataTier": "new", "NatGateway": "false"}
EXISTING = {
    "DataTier": "existing",
    "DbHost": "db.proxy-abc.eu-west-1.rds.amazonaws.com",
    "RedisUrl": "rediss://cache.abc.euw1.cache.amazonaws.com:6379/0",
    "ExistingSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "ExistingSecurityGroupIds": "sg-0123456789abcdef0",
    "DbTlsCaFile": "/opt/python/rds-global-bundle.pem",
}
EXISTING_WITHOUT_VPC = {
    "DataTier": "existing",
    "DbHost": "db.abc.eu-west-1.rds.amazonaws.com",
    "RedisUrl": "rediss://redis.example.net:6380/0",
}
DEPLOYS = {
    "new": NEW,
    "new-without-nat": NEW_WITHOUT_NAT,
    "existing": EXISTING,
    "existing-without-vpc": EXISTING_WITHOUT_VPC,
}
#: Properties that give a resource its physical name: absent (CloudFormation generates one)
#: or derived from the stack's name or from a resource whose name is generated.
NAME_PROPERTIES = {
    "RoleName",
    "BucketName",
    "FunctionName",
    "QueueName",
    "TopicName",
    "LayerName",
    "TableName",
    "DBProxyName",
    "DBClusterIdentifier",
    "DBInstanceIdentifier",
    "DBSubnetGroupName",
    "ReplicationGroupId",
    "CacheSubnetGroupName",
    "ServerlessCacheName",
    "GroupName",
    "ManagedPolicyName",
    "LogGroupName",
    "AlarmName",
    "DashboardName",
    "Name",
}
#: Aurora MySQL's max_connections at the default AuroraMaxAcu (8 ACUs = 16 GiB), from its
#: formula GREATEST(log2(mem/805306368)*45, log2(mem/8187281408)*1000), rounded down to the
#: figure docs/capacity.md budgets with.
MAX_CONNECTIONS_AT_DEFAULT_ACU = 1000
#: Connections kept for migrations, the first admin and an operator's client.
OPERATOR_CONNECTIONS = 20


@functools.cache
def _template(deploy: str) -> dict[str, Any]:
    """The template as deployed one way (translated once per run: the tests only read it)."""
    return translated(TEMPLATE, DEPLOYS[deploy])


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _of_type(template, "AWS::Lambda::Function")


@pytest.mark.parametrize("deploy", ["new", "new-without-nat", "existing"])
def test_every_function_runs_in_the_private_subnets(deploy: str) -> None:
    template = _template(deploy)

    configs = {
        logical_id: properties.get("VpcConfig")
        for logical_id, properties in _functions(template).items()
    }

    expected = (
        {
            "SubnetIds": [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}],
            "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
        }
        if DEPLOYS[deploy]["DataTier"] == "new"
        else {
            "SubnetIds": {"Ref": "ExistingSubnetIds"},
            "SecurityGroupIds": {"Ref": "ExistingSecurityGroupIds"},
        }
    )
    assert len(configs) == 22  # the 21 of the app and the deploy's MigrateFunction
    assert all(config == expected for config in configs.values()), configs


def test_existing_tier_without_subnets_runs_outside_a_vpc_and_creates_no_network() -> None:
    template = _template("existing-without-vpc")

    assert all("VpcConfig" not in f for f in _functions(template).values())
    assert not _of_type(template, "AWS::EC2::VPC")


def _variables(template: dict[str, Any]) -> dict[str, Any]:
    every: list[dict[str, Any]] = [
        f["Environment"]["Variables"] for f in _functions(template).values()
    ]
    first, *rest = every
    assert all({k: v for k, v in other.items() if k in first} == first for other in rest)
    return first


@pytest.mark.parametrize("deploy", ["new", "new-without-nat"])
def test_new_tier_wires_the_proxy_redis_over_tls_and_the_generated_secrets(deploy: str) -> None:
    variables = _variables(_template(deploy))

    assert variables["RETOUCH_DB_HOST"] == {"Fn::GetAtt": ["DbProxy", "Endpoint"]}
    assert variables["RETOUCH_DB_TLS"] == "true"
    assert variables["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"  # the VPC's STS endpoint
    assert "RETOUCH_DB_TLS_CA_FILE" not in variables  # the proxy's ACM certificate
    assert variables["RETOUCH_REDIS_URL"]["Fn::Sub"].startswith(
        "rediss://${RedisReplicationGroup.PrimaryEndPoint.Address}:"
    )
    assert variables["RETOUCH_DB_PASSWORD_SECRET"] == {
        "Fn::Sub": "secretsmanager:${DbPasswordGenerated}"
    }
    assert variables["RETOUCH_JWT_KEYS_SECRET"] == {"Fn::Sub": "secretsmanager:${JwtKeysGenerated}"}


def test_existing_tier_takes_the_given_endpoints_secrets_and_ca_bundle() -> None:
    variables = _variables(_template("existing"))

    assert variables["RETOUCH_DB_HOST"] == {"Ref": "DbHost"}
    assert variables["RETOUCH_REDIS_URL"] == {"Ref": "RedisUrl"}
    assert variables["RETOUCH_DB_TLS_CA_FILE"] == {"Ref": "DbTlsCaFile"}
    assert variables["RETOUCH_DB_PASSWORD_SECRET"] == {
        "Fn::Sub": "secretsmanager:${DbPasswordSecret}"
    }
    assert not _of_type(_template("existing"), "AWS::RDS::DBProxy")
    assert not _of_type(_template("existing"), "AWS::SecretsManager::Secret")


def test_proxy_requires_tls_and_authenticates_with_the_generated_login() -> None:
    template = _template("new")
    (proxy,) = _of_type(template, "AWS::RDS::DBProxy").values()
    (targets,) = _of_type(template, "AWS::RDS::DBProxyTargetGroup").values()
    (cluster,) = _of_type(template, "AWS::RDS::DBCluster").values()
    (writer,) = _of_type(template, "AWS::RDS::DBInstance").values()

    assert proxy["RequireTLS"] is True
    assert proxy["Auth"] == [
        {"AuthScheme": "SECRETS", "SecretArn": {"Ref": "DbProxySecret"}, "IAMAuth": "DISABLED"}
    ]
    assert targets["DBClusterIdentifiers"] == [{"Ref": "DatabaseCluster"}]
    assert targets["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"] == {
        "Ref": "ProxyMaxConnectionsPercent"
    }
    assert cluster["StorageEncrypted"] is True
    assert set(cluster["ServerlessV2ScalingConfiguration"]) == {"MinCapacity", "MaxCapacity"}
    assert writer["DBInstanceClass"] == "db.serverless"
    assert writer["PubliclyAccessible"] is False


def test_generated_secrets_have_the_shapes_the_app_and_the_proxy_read() -> None:
    secrets = _of_type(_template("new"), "AWS::SecretsManager::Secret")

    # the password: a plain string without characters JSON or MySQL would need escaped
    assert secrets["DbPasswordGenerated"]["GenerateSecretString"]["ExcludePunctuation"] is True
    assert "SecretStringTemplate" not in secrets["DbPasswordGenerated"]["GenerateSecretString"]
    # the JWT keys: {"k1": "<64 characters>"}, kid → key, at least 32 bytes
    jwt = secrets["JwtKeysGenerated"]["GenerateSecretString"]
    assert (jwt["SecretStringTemplate"], jwt["GenerateStringKey"]) == ("{}", "k1")
    assert jwt["PasswordLength"] >= 32
    # the proxy's login: JSON of the same user and password
    login = secrets["DbProxySecret"]["SecretString"]["Fn::Sub"]
    resolved = login.replace("${DbUser}", "retouch").replace("${DbPasswordGenerated}", "arn:x")
    assert json.loads(resolved) == {
        "username": "retouch",
        "password": "{{resolve:secretsmanager:arn:x}}",
    }


@pytest.mark.parametrize(("deploy", "nat"), [("new", True), ("new-without-nat", False)])
def test_nat_gateway_and_public_subnets_exist_only_when_asked(deploy: str, nat: bool) -> None:
    template = _template(deploy)

    assert bool(_of_type(template, "AWS::EC2::NatGateway")) is nat
    assert len(_of_type(template, "AWS::EC2::Subnet")) == (4 if nat else 2)
    services = {
        e["ServiceName"]["Fn::Sub"].rpartition(".")[2]
        for e in _of_type(template, "AWS::EC2::VPCEndpoint").values()
    }
    assert services == {"s3", "sqs", "sts", "secretsmanager", "ssm", "monitoring"}


def test_security_groups_open_only_mysql_redis_and_https() -> None:
    template = _template("new")
    groups = _of_type(template, "AWS::EC2::SecurityGroup")
    rules = [
        rule
        for group in groups.values()
        for rule in [*group.get("SecurityGroupIngress", []), *group.get("SecurityGroupEgress", [])]
    ]
    rules += [*_of_type(template, "AWS::EC2::SecurityGroupEgress").values()]

    assert {(rule.get("FromPort"), rule.get("ToPort")) for rule in rules} <= {
        (3306, 3306),
        (6379, 6379),
        (443, 443),
        (None, None),  # the data tier's "no egress" placeholder
    }
    assert all(
        rule.get("CidrIp") in {None, "127.0.0.1/32"}
        for rule in rules
        if rule.get("FromPort") != 443
    )
    (redis,) = _of_type(template, "AWS::ElastiCache::ReplicationGroup").values()
    assert redis["TransitEncryptionEnabled"] is True and redis["AtRestEncryptionEnabled"] is True


@pytest.mark.parametrize("deploy", sorted(DEPLOYS))
def test_no_resource_has_a_fixed_physical_name(deploy: str) -> None:
    template = _template(deploy)
    resources = set(template["Resources"])

    fixed = {
        f"{logical_id}.{key}": value
        for logical_id, resource in template["Resources"].items()
        for key, value in (resource.get("Properties") or {}).items()
        if key in NAME_PROPERTIES
        and resource["Type"] not in {"AWS::EC2::VPCEndpoint", "AWS::IAM::Role"} | _NAMED_BY_REF
        and not _derived(value, resources)
    }
    roles = {i: p for i, p in _of_type(template, "AWS::IAM::Role").items() if "RoleName" in p}

    assert fixed == {}
    assert roles == {}


#: Types whose `...Name` property refers to another resource (by !Ref) rather than names it.
_NAMED_BY_REF = {
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBProxyTargetGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    # An alias's name is its function's own (`live`), not a name in the account.
    "AWS::Lambda::Alias",
}


def _derived(value: Any, resources: set[str]) -> bool:
    """A name made from the stack's name or a generated one (`Ref`/`GetAtt` of a resource)."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"] in resources
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        names = set(re.findall(r"\$\{([A-Za-z0-9:]+)", text))
        return "AWS::StackName" in names or bool(names & resources)
    return False


def test_the_template_names_no_partition_and_translates_cleanly_for_china() -> None:
    # GIVEN the source and the template translated for a China region (partition aws-cn)
    source = TEMPLATE.read_text()
    china = json.dumps(translated(TEMPLATE, NEW, region="cn-north-1"))

    # THEN no ARN spells the aws partition
    assert "arn:aws:" not in source
    assert "arn:aws:" not in china
    assert "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" in china


def test_upload_credentials_role_is_unnamed_and_assumable_by_its_path() -> None:
    template = _template("new")
    role = template["Resources"]["UploadCredentialsRole"]["Properties"]
    statements = [
        statement
        for policy in template["Resources"]["UploadsFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Action") == "sts:AssumeRole"
    ]

    assert "RoleName" not in role
    assert role["Path"] == {"Fn::Sub": "/retouch/${AWS::StackName}/"}
    assert [s["Resource"] for s in statements] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/retouch/${AWS::StackName}/*"}
    ]


def test_data_survives_a_stack_delete_but_a_failed_first_create_leaves_nothing() -> None:
    resources = _template("new")["Resources"]

    for logical_id in (
        "UploadsBucket",
        "DatabaseCluster",
        "DbPasswordGenerated",
        "JwtKeysGenerated",
    ):
        assert resources[logical_id]["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] in {"Retain", "Snapshot"}
    # deletion protection is the stage's unless named (tests/unit/test_template_backups.py)
    cluster = resources["DatabaseCluster"]["Properties"]
    assert cluster["DeletionProtection"] == {
        "Fn::FindInMap": ["Backups", {"Ref": "Stage"}, "DeletionProtection"]
    }


def _reserved(template: dict[str, Any]) -> dict[str, int]:
    return {
        logical_id: looked_up(f["ReservedConcurrentExecutions"], template["Mappings"])
        for logical_id, f in _functions(template).items()
        if "ReservedConcurrentExecutions" in f
    }


def test_every_function_reserves_its_share_of_the_connection_budget() -> None:
    template = _template("new")
    reserved = _reserved(template)
    percent = int(template["Parameters"]["ProxyMaxConnectionsPercent"]["Default"])

    assert set(reserved) == set(_functions(template))
    assert all(isinstance(share, int) and share >= 1 for share in reserved.values())
    assert sum(reserved.values()) + OPERATOR_CONNECTIONS <= (
        MAX_CONNECTIONS_AT_DEFAULT_ACU * percent // 100
    )


def test_without_caps_no_function_reserves_concurrency() -> None:
    template = translated(TEMPLATE, {**NEW, "CapConcurrency": "false"})

    assert _reserved(template) == {}


def test_every_queue_source_is_capped_within_its_function_reservation() -> None:
    template = _template("new")
    reserved = _reserved(template)
    mappings = _of_type(template, "AWS::Lambda::EventSourceMapping")

    assert len(mappings) == 4
    for source in mappings.values():
        function = source["FunctionName"]["Ref"]
        maximum = looked_up(source["ScalingConfig"]["MaximumConcurrency"], template["Mappings"])
        assert 2 <= maximum <= reserved[function], function


# cfn-lint with its informational rules too, for each way to deploy (the default run is in
# test_descriptors). Known and left to the operations work: the step queues' explicit
# deletion and retention policies (I3011/I3013 on AWS::SQS::Queue).
CFN_LINT_INFORMATIONAL = (
    "import sys; from pathlib import Path; from cfnlint.api import lint_file, ManualArgs; "
    "matches = lint_file(Path(sys.argv[1]), config=ManualArgs(include_checks=['I'])); "
    "print(*(f'{m.rule.id} {\"/\".join(map(str, m.path))}' for m in matches), sep='\\n')"
)
declare(
    "cfn-lint:template-informational",
    lambda _: Command(
        args=[sys.executable, "-c", CFN_LINT_INFORMATIONAL, str(TEMPLATE)],
        env=os.environ,
        cwd=TEMPLATE.parent,
    ),
    module=__name__,
)


def test_template_passes_cfn_lint_informational_rules(background: Started) -> None:
    result = background.result("cfn-lint:template-informational")
    findings = [line for line in result.stdout.splitlines() if line]
    queues = re.compile(r"I301[13] Resources/(Prepare|Generate|Store|Finalize)(DeadLetter)?Queue\b")

    assert result.returncode == 0, result.stderr
    assert [line for line in findings if not queues.match(line)] == []


@pytest.mark.parametrize("secret", ["DbPasswordGenerated", "JwtKeysGenerated", "DbProxySecret"])
def test_a_provider_cannot_be_pointed_at_a_generated_secret(secret: str) -> None:
    # GIVEN the ARN such a secret gets (CloudFormation names it after its logical id)
    arn = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{secret}-Ab12Cd"
    template = _template("new")

    # THEN an admin's provider config naming it is refused by the catalog
    write = {"key": "runninghub", "kind": "runninghub", "concurrency_limit": 5}
    write["credential_ref"] = f"secretsmanager:{arn}"
    with pytest.raises(ConfigInvalid) as caught:
        check_provider(ProviderWrite.model_validate(write))
    # (an ARN is not a `retouch/providers/<key>` name: refused as not a reference at all)
    refused = [(e.field, e.type) for e in caught.value.errors]
    assert refused == [("credential_ref", "raw_secret")]
    # AND the functions that read vendor credentials are granted only retouch/providers/*
    for function in ("GenerateStepFunction", "CallbacksFunction"):
        policies = template["Resources"][f"{function}Role"]["Properties"]["Policies"]
        granted = [
            statement["Resource"]
            for policy in policies
            for statement in policy["PolicyDocument"]["Statement"]
            if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
        ]
        assert json.dumps(granted).count("secret:retouch/providers/*") == len(granted) == 1


@pytest.mark.parametrize(
    ("parameters", "broken"),
    [
        (NEW, []),
        (EXISTING, []),
        (EXISTING_WITHOUT_VPC, []),
        ({**EXISTING, "DbHost": ""}, ["DbHost"]),
        ({"DataTier": "existing"}, ["DbHost", "RedisUrl"]),
    ],
)
def test_an_existing_tier_without_its_database_or_redis_is_refused_before_any_resource(
    parameters: dict[str, str], broken: list[str]
) -> None:
    template = _template("new")

    refused = broken_rules(template, parameters)

    assert [description.split()[2] for description in refused] == broken


#: Account mail through SES's SMTP interface in the stack's region (the Rules want the sender
#: and both links with a host).
MAIL = {
    "MailSmtpHost": "email-smtp.eu-west-1.amazonaws.com",
    "MailFrom": "Retouch <no-reply@example.com>",
    "EmailVerificationUrl": "https://app.example.com/verify-email?token=",
    "PasswordResetUrl": "https://app.example.com/reset-password?token=",
}
_SMTP_PORT = {"Ref": "MailSmtpPort"}


@functools.cache
def _with_mail(nat: bool) -> dict[str, Any]:
    return translated(TEMPLATE, {**(NEW if nat else NEW_WITHOUT_NAT), **MAIL})


def _egress_to_smtp(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for rule in _of_type(template, "AWS::EC2::SecurityGroupEgress").values()
        if rule["FromPort"] == _SMTP_PORT
    ]


def test_without_a_nat_gateway_account_mail_reaches_ses_through_its_smtp_endpoint() -> None:
    template = _with_mail(nat=False)
    assert broken_rules(template, {**NEW_WITHOUT_NAT, **MAIL}) == []

    # an interface endpoint for SES's SMTP, whose private DNS answers for the host's name
    endpoint = template["Resources"]["SmtpEndpoint"]["Properties"]
    assert endpoint["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.email-smtp"}
    assert endpoint["VpcEndpointType"] == "Interface" and endpoint["PrivateDnsEnabled"] is True
    assert endpoint["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    # its group lets the functions in on SMTP's two ports, and nothing else in
    (group,) = endpoint["SecurityGroupIds"]
    ingress = template["Resources"][group["Ref"]]["Properties"]["SecurityGroupIngress"]
    assert {(rule["FromPort"], rule["ToPort"]) for rule in ingress} == {(465, 465), (587, 587)}
    assert {rule["SourceSecurityGroupId"]["Ref"] for rule in ingress} == {"FunctionSecurityGroup"}
    # and the functions may leave on the mail's port towards that group alone
    (egress,) = _egress_to_smtp(template)
    assert egress["GroupId"] == {"Ref": "FunctionSecurityGroup"}
    assert egress["DestinationSecurityGroupId"] == {"Ref": "SmtpEndpointSecurityGroup"}
    assert "CidrIp" not in egress


def test_with_the_nat_gateway_account_mail_leaves_on_its_port_and_no_smtp_endpoint_is_made() -> (
    None
):
    template = _with_mail(nat=True)

    assert "SmtpEndpoint" not in template["Resources"]
    (egress,) = _egress_to_smtp(template)
    assert egress["CidrIp"] == "0.0.0.0/0" and egress["ToPort"] == _SMTP_PORT


@pytest.mark.parametrize("deploy", ["new", "new-without-nat", "existing"])
def test_without_a_mail_host_no_smtp_endpoint_or_rule_is_made(deploy: str) -> None:
    template = _template(deploy)

    assert "SmtpEndpoint" not in template["Resources"]
    assert _egress_to_smtp(template) == []
