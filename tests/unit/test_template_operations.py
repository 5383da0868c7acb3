"""Operations in template.yaml (issue 14 item 5), checked on the CloudFormation that
aws-sam-translator makes of it: every function's log group keeps its logs LogRetentionDays,
every alarm watches a metric AWS or our code really publishes (the code's constants are
imported, so renaming a metric breaks this test) and notifies AlarmTopic, every dead-letter
queue and step queue is watched, the dashboard shows each alarm's metric, and asynchronous
invocations have a failure destination."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from retouch.core.metrics import NAMESPACE
from retouch.providers.metrics import BREAKER_OPENED
from retouch.queue.metrics import OUTBOX_BACKLOG
from retouch.tasks.metrics import TASKS_FINISHED
from retouch.tasks.records import TERMINAL

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("Prepare", "Generate", "Store", "Finalize")
#: Invoked asynchronously: the S3 notification and the EventBridge schedules.
ASYNC_FUNCTIONS = (
    "UploadTriggerFunction",
    "OutboxRelayFunction",
    "ReaperFunction",
    "MonitorFunction",
    "RollupFunction",
    "RetentionFunction",
    "PlanExpiryFunction",
    "BackupFunction",
    "BackupVerifyFunction",
)

Resources = dict[str, dict[str, Any]]


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam() -> Resources:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    resources: Resources = template["Resources"]
    return resources


@pytest.fixture(scope="module")
def cfn() -> Resources:
    """The template as `sam deploy` hands it to CloudFormation (code already uploaded)."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        translated = transform(
            template, {"DbHost": "db", "RedisUrl": "rediss://cache:6379"}, _NoManagedPolicies()
        )
    resources: Resources = translated["Resources"]
    return resources


def of_type(resources: Resources, kind: str) -> Resources:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def functions(sam: Resources) -> list[str]:
    return sorted(of_type(sam, "AWS::Serverless::Function"))


def alarm(cfn: Resources, name: str) -> dict[str, Any]:
    resource = cfn[name]
    assert resource["Type"] == "AWS::CloudWatch::Alarm", name
    properties: dict[str, Any] = resource["Properties"]
    return properties


def dims(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def stats(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The alarm's metrics, whether it has one (`MetricName`) or a math expression."""
    if "MetricName" in properties:
        return [properties]
    return [q["MetricStat"]["Metric"] for q in properties["Metrics"] if "MetricStat" in q]


def test_every_function_logs_to_its_own_group_with_the_retention_parameter(
    sam: Resources, cfn: Resources
) -> None:
    lambdas = of_type(cfn, "AWS::Lambda::Function")
    assert sorted(lambdas) == functions(sam)  # the translated functions are the template's
    groups = []
    for name, function in lambdas.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert cfn[group]["Type"] == "AWS::Logs::LogGroup"
        assert cfn[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        groups.append(group)
    assert len(set(groups)) == len(groups)


def test_every_function_has_a_throttles_alarm(sam: Resources, cfn: Resources) -> None:
    for name in functions(sam):
        throttles = alarm(cfn, f"{name}ThrottlesAlarm")
        assert (throttles["Namespace"], throttles["MetricName"]) == ("AWS/Lambda", "Throttles")
        assert dims(throttles) == {"FunctionName": {"Ref": name}}
        assert throttles["Threshold"] == 0


def test_every_dead_letter_queue_has_a_depth_alarm(cfn: Resources) -> None:
    dead_letter_queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in of_type(cfn, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    } | {"AsyncFailureQueue"}
    assert dead_letter_queues == {f"{s}DeadLetterQueue" for s in STEPS} | {"AsyncFailureQueue"}
    watched = {
        dims(a["Properties"])["QueueName"]["Fn::GetAtt"][0]
        for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Threshold"] == 0
        and a["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
    }
    assert watched == dead_letter_queues


def test_every_step_queue_has_an_oldest_message_age_alarm(cfn: Resources) -> None:
    for step in STEPS:
        age = alarm(cfn, f"{step}QueueAgeAlarm")
        assert (age["Namespace"], age["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
        assert dims(age) == {"QueueName": {"Fn::GetAtt": [f"{step}Queue", "QueueName"]}}
        assert age["Threshold"] == {"Ref": "StepQueueAgeAlarmSeconds"}


def test_both_apis_have_a_5xx_rate_and_a_p99_latency_alarm(cfn: Resources) -> None:
    # The REST API's name is the stack's (SAM's default title), which its alarms name.
    assert cfn["RetouchRestApi"]["Properties"]["Body"]["info"]["title"] == {"Ref": "AWS::StackName"}
    rest = {"ApiName": {"Ref": "AWS::StackName"}, "Stage": {"Ref": "Stage"}}
    http = {"ApiId": {"Ref": "RetouchHttpApi"}}
    for key, errors, dimensions in (("RestApi", "5XXError", rest), ("HttpApi", "5xx", http)):
        rate = alarm(cfn, f"{key}5xxRateAlarm")
        assert {(m["Namespace"], m["MetricName"]) for m in stats(rate)} == {
            ("AWS/ApiGateway", errors),
            ("AWS/ApiGateway", "Count"),
        }
        assert all(dims(m) == dimensions for m in stats(rate))
        assert rate["Threshold"] == {"Ref": "Api5xxRateAlarmPercent"}
        latency = alarm(cfn, f"{key}LatencyP99Alarm")
        assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")
        assert dims(latency) == dimensions


def test_the_business_alarms_watch_the_metrics_the_code_emits(cfn: Resources) -> None:
    backlog = alarm(cfn, "OutboxBacklogAlarm")
    assert (backlog["Namespace"], backlog["MetricName"]) == (NAMESPACE, OUTBOX_BACKLOG)
    assert backlog["TreatMissingData"] == "breaching"  # a relay that stopped reporting alarms
    breaker = alarm(cfn, "ProviderBreakerOpenedAlarm")
    assert (breaker["Namespace"], breaker["MetricName"]) == (NAMESPACE, BREAKER_OPENED)
    for single in (backlog, breaker):
        assert dims(single) == {"service": "retouch"}  # the rollup the code emits

    failures = alarm(cfn, "TaskFailureRateAlarm")
    by_status = {dims(m)["status"]: m for m in stats(failures)}
    assert set(by_status) == set(TERMINAL)  # failed / every way a task ends
    assert {(m["Namespace"], m["MetricName"]) for m in by_status.values()} == {
        (NAMESPACE, TASKS_FINISHED)
    }
    (expression,) = [q["Expression"] for q in failures["Metrics"] if q.get("ReturnData")]
    assert "100 * FILL(failed, 0) /" in expression


def test_every_alarm_notifies_the_encrypted_alarm_topic(cfn: Resources) -> None:
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 14 + 4 + 4 + 1 + 4 + 3
    for name, resource in alarms.items():
        assert resource["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert resource["Properties"]["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")
    assert cfn["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    email = cfn["AlarmEmailSubscription"]
    assert (email["Condition"], email["Properties"]["Endpoint"]) == (
        "HasAlarmEmail",
        {"Ref": "AlarmEmail"},
    )


def _dashboard(cfn: Resources) -> dict[str, Any]:
    """The dashboard's body with each `${X}` of its !Sub written `<X>`, parsed."""
    body = cfn["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))
    return parsed


def _as_sub(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return "<{}.{}>".format(*value["Fn::GetAtt"])


def test_the_dashboard_shows_every_alarms_metric(cfn: Resources) -> None:
    shown = set()
    for widget in _dashboard(cfn)["widgets"]:
        for line in widget["properties"]["metrics"]:
            fields = [f for f in line if isinstance(f, str)]
            if fields:
                shown.add((fields[0], fields[1], tuple(fields[2:])))
    for name, resource in of_type(cfn, "AWS::CloudWatch::Alarm").items():
        for metric in stats(resource["Properties"]):
            flat = tuple(x for d in metric["Dimensions"] for x in (d["Name"], _as_sub(d["Value"])))
            assert (metric["Namespace"], metric["MetricName"], flat) in shown, name


def test_asynchronous_invocations_have_a_failure_destination(cfn: Resources) -> None:
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == set(ASYNC_FUNCTIONS)
    for name, config in configs.items():
        on_failure = config["DestinationConfig"]["OnFailure"]["Destination"]
        assert on_failure == {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]}, name
        assert config["MaximumRetryAttempts"] <= 2
    # SAM grants each role the send it needs.
    for name in ASYNC_FUNCTIONS:
        role = json.dumps(cfn[f"{name}Role"]["Properties"])
        assert '"sqs:SendMessage"' in role and "AsyncFailureQueue" in role, name


def test_operations_use_the_partition_and_no_fixed_names() -> None:
    text = (ROOT / "template.yaml").read_text()
    start = text.index("  # Operations (issue 14 item 5; docs")
    block = text[start : text.index("  # --- The data tier and the network (DataTier=new", start)]
    assert "arn:aws:" not in block
    names = re.findall(r"^ +(\w*Name): (.*)", block, re.M)
    physical = [value for key, value in names if key != "MetricName" and key != "Name"]
    assert len(physical) > 20
    assert all("${AWS::StackName}" in value for value in physical), physical
