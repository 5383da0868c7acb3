"""template.yaml's data protection, checked on what CloudFormation would create (translated by
aws-sam-translator, conditions applied): one key of the stack with rotation, under which the
generated secrets, every log group, the functions' configuration and the async failure queue
are; Redis behind a generated AUTH token the functions read at run time; no function variable
holding a secret or a URL with credentials; access logs for both APIs (route templates, never
paths); a versioned uploads bucket that forgets deleted objects, with server access logs; and
Aurora with IAM authentication and enhanced monitoring."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from scripts.local.sam import TEMPLATE
from tests.unit.cfn_support import translated

NEW = {"DataTier": "new"}
EXISTING = {
    "DataTier": "existing",
    "DbHost": "db.proxy-abc.eu-west-1.rds.amazonaws.com",
    "RedisUrl": "rediss://cache.abc.euw1.cache.amazonaws.com:6379/0",
    "RedisAuthSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis-AbCdEf",
}
EXISTING_WITHOUT_AUTH = {
    "DataTier": "existing",
    "DbHost": "db.abc.eu-west-1.rds.amazonaws.com",
    "RedisUrl": "rediss://redis.example.net:6380/0",
}
DEPLOYS = {"new": NEW, "existing": EXISTING, "existing-without-auth": EXISTING_WITHOUT_AUTH}
KEY_ARN = {"Fn::GetAtt": ["DataKey", "Arn"]}
#: A value that would be a secret or carry one: a resolved secret, a password, a URL's userinfo.
SECRET_SHAPED = re.compile(r"resolve:secretsmanager|resolve:ssm-secure|://[^/\s]*@", re.I)


@functools.cache
def _template(deploy: str) -> dict[str, Any]:
    return translated(TEMPLATE, DEPLOYS[deploy])


def _of_type(deploy: str, kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in _template(deploy)["Resources"].items()
        if resource["Type"] == kind
    }


def test_the_stack_key_rotates_and_lets_cloudwatch_logs_use_it_for_this_account_only() -> None:
    key = _template("new")["Resources"]["DataKey"]
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}

    assert key["Properties"]["EnableKeyRotation"] is True
    # kept with the retained secrets it encrypts (a failed first create leaves nothing)
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    logs = statements["CloudWatchLogsOfThisAccount"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert "${AWS::AccountId}:log-group:" in context["Fn::Sub"]
    assert statements["AccountAdministers"]["Principal"]["AWS"]["Fn::Sub"].endswith(":root")


@pytest.mark.parametrize("deploy", sorted(DEPLOYS))
def test_every_log_group_is_under_the_stack_key_with_the_retention(deploy: str) -> None:
    groups = _of_type(deploy, "AWS::Logs::LogGroup")

    # the 15 functions' groups and the two APIs' access logs
    assert len(groups) >= 17
    for name, group in groups.items():
        assert group["KmsKeyId"] == KEY_ARN, name
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_the_generated_secrets_and_the_failure_queue_are_under_the_stack_key() -> None:
    secrets = _of_type("new", "AWS::SecretsManager::Secret")

    assert set(secrets) == {
        "DbPasswordGenerated",
        "DbProxySecret",
        "JwtKeysGenerated",
        "BackupSigningKeysGenerated",
        "RedisAuthGenerated",
    }
    assert all(secret["KmsKeyId"] == {"Ref": "DataKey"} for secret in secrets.values())
    queue = _template("new")["Resources"]["AsyncFailureQueue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    # the proxy decrypts its login only through Secrets Manager
    (role,) = _template("new")["Resources"]["DbProxyRole"]["Properties"]["Policies"]
    decrypt = role["PolicyDocument"]["Statement"][1]
    assert decrypt["Resource"] == KEY_ARN
    assert "kms:ViaService" in decrypt["Condition"]["StringEquals"]


@pytest.mark.parametrize("deploy", sorted(DEPLOYS))
def test_no_function_variable_holds_a_secret_and_all_are_encrypted(deploy: str) -> None:
    functions = _of_type(deploy, "AWS::Lambda::Function")

    assert functions
    for name, function in functions.items():
        variables = function["Environment"]["Variables"]
        assert not SECRET_SHAPED.search(json.dumps(variables)), name
        assert not {n for n in variables if n.endswith(("_PASSWORD", "_TOKEN", "_KEYS"))}, name
        assert function["KmsKeyArn"] == KEY_ARN, name


def test_redis_takes_a_generated_token_that_the_functions_read_at_run_time() -> None:
    token = _template("new")["Resources"]["RedisAuthGenerated"]["Properties"]
    (group,) = _of_type("new", "AWS::ElastiCache::ReplicationGroup").values()
    (function, *_) = _of_type("new", "AWS::Lambda::Function").values()

    # ElastiCache's rules for a token: 16-128 characters, none of @ " / (no punctuation at all)
    assert 16 <= token["GenerateSecretString"]["PasswordLength"] <= 128
    assert token["GenerateSecretString"]["ExcludePunctuation"] is True
    assert group["TransitEncryptionEnabled"] is True
    assert group["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${RedisAuthGenerated}}}"}
    variables = function["Environment"]["Variables"]
    assert variables["RETOUCH_REDIS_AUTH_SECRET"] == {
        "Fn::Sub": "secretsmanager:${RedisAuthGenerated}"
    }
    assert "@" not in variables["RETOUCH_REDIS_URL"]["Fn::Sub"]


def test_an_existing_redis_token_is_read_by_its_arn_and_only_when_named() -> None:
    (with_auth, *_) = _of_type("existing", "AWS::Lambda::Function").values()
    (without, *_) = _of_type("existing-without-auth", "AWS::Lambda::Function").values()

    assert with_auth["Environment"]["Variables"]["RETOUCH_REDIS_AUTH_SECRET"] == {
        "Fn::Sub": "secretsmanager:${RedisAuthSecretArn}"
    }
    assert "RETOUCH_REDIS_AUTH_SECRET" not in without["Environment"]["Variables"]
    policy = _template("existing")["Resources"]["RuntimeSecretsPolicy"]["Properties"]
    assert {"Ref": "RedisAuthSecretArn"} in policy["PolicyDocument"]["Statement"][0]["Resource"]


@pytest.mark.parametrize(
    "url",
    [
        "rediss://:password@cache.example:6379/0",
        "rediss://user:pw@cache.example:6379/0",
        "redis://cache.example:6379/0?password=x",
    ],
)
def test_the_redis_url_parameter_refuses_credentials(url: str) -> None:
    pattern = _template("existing")["Parameters"]["RedisUrl"]["AllowedPattern"]

    assert not re.fullmatch(pattern, url)
    assert re.fullmatch(pattern, EXISTING["RedisUrl"])
    assert "NoEcho" not in _template("existing")["Parameters"]["RedisUrl"]


@pytest.mark.parametrize(
    ("api", "setting", "route"),
    [
        ("AWS::ApiGateway::Stage", "AccessLogSetting", "$context.resourcePath"),
        ("AWS::ApiGatewayV2::Stage", "AccessLogSettings", "$context.routeKey"),
    ],
)
def test_both_apis_write_json_access_logs_with_the_route_never_the_path(
    api: str, setting: str, route: str
) -> None:
    (stage,) = _of_type("new", api).values()
    logs = stage[setting]
    fields = json.loads(logs["Format"])

    group = logs["DestinationArn"]["Fn::GetAtt"][0]
    assert _template("new")["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    assert {"requestId", "ip", "route", "status", "latencyMs", "integrationError"} <= set(fields)
    assert fields["route"] == route
    # a callback's path holds its job's token: no field may log the path itself
    assert not {"$context.path", "$context.http.path", "$context.rawPath"} & set(fields.values())


def test_the_rest_api_may_log_once_the_account_names_a_logging_role() -> None:
    account = _of_type("new", "AWS::ApiGateway::Account")
    skipped = translated(TEMPLATE, {**NEW, "ApiGatewayLoggingRole": "existing"})

    assert account["ApiGatewayAccount"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]
    }
    assert "ApiGatewayAccount" not in skipped["Resources"]


def test_uploads_are_versioned_forget_deleted_objects_and_log_access() -> None:
    resources = _template("new")["Resources"]
    bucket = resources["UploadsBucket"]["Properties"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert rule["Status"] == "Enabled" and "Prefix" not in rule
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 7
    assert rule["ExpiredObjectDeleteMarker"] is True
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


def test_the_access_log_bucket_is_private_tls_only_and_writable_by_s3_logging_alone() -> None:
    resources = _template("new")["Resources"]
    bucket = resources["AccessLogsBucket"]["Properties"]
    statements = {
        s["Sid"]: s
        for s in resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }

    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {
        "Ref": "AccessLogDays"
    }
    writer = statements["UploadsBucketAccessLogs"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    tls = statements["TlsOnly"]
    assert tls["Effect"] == "Deny" and tls["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def test_aurora_has_iam_authentication_and_enhanced_monitoring() -> None:
    resources = _template("new")["Resources"]
    role = resources["DatabaseMonitoringRole"]["Properties"]
    writer = resources["DatabaseWriter"]["Properties"]

    assert resources["DatabaseCluster"]["Properties"]["EnableIAMDatabaseAuthentication"] is True
    assert writer["MonitoringInterval"] == 60
    assert writer["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    (managed,) = role["ManagedPolicyArns"]
    assert managed["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::aws:policy/")
