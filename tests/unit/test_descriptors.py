"""template.yaml, the routes in code and the files in events/ agree (deploy/tencent.yml is held
to the template by test_deploy_config.py)."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import Route

from retouch.catalog.schemas import STEP_ORDER
from retouch.pipeline.messages import step_queue
from scripts.local.lambda_runtime import ROOT
from scripts.local.queue_rules import live_queues, queue_problems
from scripts.local.sam import (
    EVENT_SHAPES,
    EVENTS,
    HTTP_EVENT_SHAPES,
    QUEUE_EVENT_SHAPES,
    SCHEDULE_EVENT_SHAPES,
    STORAGE_EVENT_SHAPES,
    TEMPLATE,
    FunctionSpec,
    Template,
    load_handler,
    load_module,
    load_template,
    read_yaml,
)
from scripts.local.scheduler import scheduled_event
from tests.unit.processes import Command, Started, declare

EVENT_FILES = sorted(EVENTS.glob("*.json"))


@cache
def _document(path: Path) -> Any:
    """A descriptor as parsed YAML, read once per run (the tests only read it)."""
    return read_yaml(path)


@cache
def _template() -> Template:
    return load_template()


TEMPLATE_FUNCTIONS = _template().functions
HTTP_FUNCTIONS = [spec for spec in TEMPLATE_FUNCTIONS if spec.routes]
STORAGE_FUNCTIONS = [spec for spec in TEMPLATE_FUNCTIONS if spec.storage_triggers]
QUEUE_FUNCTIONS = [spec for spec in TEMPLATE_FUNCTIONS if spec.queues]
SCHEDULED_FUNCTIONS = [spec for spec in TEMPLATE_FUNCTIONS if spec.schedules]
Routes = set[tuple[str, str]]


def _pins(requirements: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    return {line.lower() for line in lines if line}


def _normalised(path: str) -> str:
    # OpenAPI writes a greedy FastAPI `{name:path}` as `{name}`; API Gateway writes `{name+}`.
    return path.replace("+}", "}")


def _template_routes(spec: FunctionSpec, event_type: str) -> Routes:
    # (the REST API's OPTIONS routes carry CORS preflights to the app's middleware, which
    # answers them on any path: tests/unit/test_template_cors.py)
    return {
        (route.method, _normalised(route.path))
        for route in spec.routes
        if route.event_type == event_type and route.method != "OPTIONS"
    }


def _code_routes(spec: FunctionSpec) -> Routes:
    """The (method, path) pairs the function's FastAPI app serves, read from its OpenAPI
    document (the public view of the routes; a route hidden from the schema is not seen)."""
    app = getattr(load_module(spec), "app", None)
    assert isinstance(app, FastAPI), f"{spec.logical_id} has routes but no FastAPI `app`"
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    } | _unlisted_routes(app)


def _unlisted_routes(app: FastAPI) -> Routes:
    """Routes kept out of the OpenAPI document on purpose (the admin function's console page),
    read from the routers the app was built from (`app.state.routers`: FastAPI includes
    routers lazily)."""
    return {
        (method, route.path)
        for router in app.state.routers
        for route in router.routes
        if type(route) is Route and not route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }


# What `cfnlint.api.lint_file` reports for the file named by argv[1], one match a line.
CFN_LINT = (
    "import sys; from pathlib import Path; from cfnlint.api import lint_file; "
    "matches = lint_file(Path(sys.argv[1])); print(*matches, sep='\\n', end=''); "
    "sys.exit(bool(matches))"
)


# cfn-lint over the SAM template (offline, with the SAM transform), beside the other tests.
declare(
    "cfn-lint:template",
    lambda _: Command(
        args=[sys.executable, "-c", CFN_LINT, str(TEMPLATE)], env=os.environ, cwd=ROOT
    ),
    module=__name__,
)


def test_template_passes_cfn_lint(background: Started) -> None:
    # GIVEN the SAM template WHEN cfn-lint checks it
    result = background.result("cfn-lint:template")

    # THEN it reports nothing
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_layer_requirements_are_exactly_the_pins_of_requirements_layer_txt() -> None:
    # GIVEN the file SAM builds the layer from and the pinned lock file
    layer = _pins(ROOT / "layers" / "retouch" / "requirements.txt")
    locked = _pins(ROOT / "requirements" / "layer.txt")

    # THEN they pin the same packages at the same versions, and only pins
    assert layer == locked
    assert all(re.fullmatch(r"[a-z0-9_.-]+==[\w.+-]+", pin) for pin in layer)


@pytest.mark.parametrize(
    ("step", "locks"),
    [("prepare", ["local-provider.txt"]), ("generate", ["local-provider.txt", "vendors.txt"])],
)
def test_provider_steps_ship_exactly_the_pins_of_their_lock_files(
    step: str, locks: list[str]
) -> None:
    # GIVEN the requirements SAM builds into a step that decodes images or calls vendors, and
    # the lock files of what it runs (OpenCV for `local`; the Tencent SDK for the vendors)
    shipped = _pins(ROOT / "functions" / "steps" / step / "requirements.txt")
    locked = set().union(*(_pins(ROOT / "requirements" / lock) for lock in locks))

    # THEN the same pins; and no API function ships OpenCV or a vendor SDK
    assert shipped == locked
    assert not list((ROOT / "functions" / "http").glob("*/requirements.txt"))


def test_template_reader_reads_short_intrinsic_tags_as_their_long_form(tmp_path: Path) -> None:
    # GIVEN YAML with CloudFormation's short tags, which a plain safe loader rejects
    source = tmp_path / "tags.yaml"
    source.write_text(
        "ref: !Ref Stage\n"
        "attribute: !GetAtt Queue.Arn\n"
        "text: !Sub 'https://${Api}.example.com/'\n"
        "choice: !If [HasVpc, !Ref Subnets, !Ref AWS::NoValue]\n"
    )

    # WHEN the template reader parses it
    document = read_yaml(source)

    # THEN each tag is its JSON long form
    assert document == {
        "ref": {"Ref": "Stage"},
        "attribute": {"Fn::GetAtt": ["Queue", "Arn"]},
        "text": {"Fn::Sub": "https://${Api}.example.com/"},
        "choice": {"Fn::If": ["HasVpc", {"Ref": "Subnets"}, {"Ref": "AWS::NoValue"}]},
    }


def test_template_declares_at_least_one_function() -> None:
    assert [spec.logical_id for spec in TEMPLATE_FUNCTIONS]


def _custom_resource_services() -> set[str]:
    """The functions some custom resource of the template names as its ServiceToken."""
    resources = _document(TEMPLATE)["Resources"].values()
    tokens = [
        resource["Properties"]["ServiceToken"]
        for resource in resources
        if resource["Type"] == "AWS::CloudFormation::CustomResource"
        or resource["Type"].startswith("Custom::")
    ]
    return {token["Fn::GetAtt"][0] for token in tokens if "Fn::GetAtt" in token}


@pytest.mark.parametrize("spec", TEMPLATE_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_every_function_has_events_and_a_loadable_handler(spec: FunctionSpec) -> None:
    # GIVEN a function of the template
    # THEN something triggers it (an event, or a custom resource the deploy runs it for), and
    # its handler resolves as Lambda would resolve it
    assert spec.has_events or spec.logical_id in _custom_resource_services()
    assert spec.module_file.is_file()
    assert callable(load_handler(spec))


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_rest_and_http_api_routes_are_exactly_the_routes_in_code(spec: FunctionSpec) -> None:
    # GIVEN the routes the function's app serves
    in_code = _code_routes(spec)

    # THEN the REST API and the HTTP API route exactly those to it
    assert _template_routes(spec, "Api") == in_code
    assert _template_routes(spec, "HttpApi") == in_code


#: The functions that build providers (and so read the vendors' credentials).
PROVIDER_FUNCTIONS = {"GenerateStepFunction", "CallbacksFunction"}


@pytest.mark.parametrize("logical_id", sorted(PROVIDER_FUNCTIONS))
def test_functions_that_build_providers_may_read_the_vendor_secrets(logical_id: str) -> None:
    policies = _document(TEMPLATE)["Resources"][logical_id]["Properties"]["Policies"]
    granted = {name for policy in policies if isinstance(policy, dict) for name in policy}

    assert {"AWSSecretsManagerGetSecretValuePolicy", "SSMParameterReadPolicy"} <= granted


@pytest.mark.parametrize("spec", TEMPLATE_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_every_function_reads_its_own_secrets_at_run_time(spec: FunctionSpec) -> None:
    # GIVEN the variables of the template: references, no resolved secret
    template = _document(TEMPLATE)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert "RETOUCH_DB_PASSWORD" not in variables and "RETOUCH_JWT_KEYS" not in variables
    assert {"RETOUCH_DB_PASSWORD_SECRET", "RETOUCH_JWT_KEYS_SECRET"} <= set(variables)
    assert "resolve:secretsmanager" not in json.dumps(template["Globals"])

    # THEN the function may read exactly those secrets (the Redis token's only when there is
    # one) and use the stack's key, nothing else
    policies = template["Resources"][spec.logical_id]["Properties"]["Policies"]
    assert {"Ref": "RuntimeSecretsPolicy"} in policies
    statement, key = template["Resources"]["RuntimeSecretsPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    # (the generated secrets with DataTier=new, the named ones with DataTier=existing)
    condition, generated, named = statement["Resource"]["Fn::If"]
    assert condition == "NewDataTier"
    assert len(generated) == len(named) == 3
    assert named[2] == {
        "Fn::If": ["HasRedisAuthSecret", {"Ref": "RedisAuthSecretArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert key["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_every_event_file_names_a_function_and_a_shape() -> None:
    template = _template()

    resolved = [template.function_for_event(path) for path in EVENT_FILES]

    assert EVENT_FILES
    assert all(shape in EVENT_SHAPES for _, shape in resolved)


def _sample_shapes(spec: FunctionSpec) -> set[str]:
    template = _template()
    return {
        shape
        for path in EVENT_FILES
        for function, shape in [template.function_for_event(path)]
        if function.logical_id == spec.logical_id
    }


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_every_http_function_has_a_sample_event_of_each_shape(spec: FunctionSpec) -> None:
    assert _sample_shapes(spec) == set(HTTP_EVENT_SHAPES)


@pytest.mark.parametrize("spec", STORAGE_FUNCTIONS, ids=lambda spec: spec.logical_id)
def test_every_storage_triggered_function_has_an_s3_and_a_cos_sample_event(
    spec: FunctionSpec,
) -> None:
    assert _sample_shapes(spec) == set(STORAGE_EVENT_SHAPES)


def test_every_queue_triggered_function_has_an_sqs_an_scf_invoke_and_a_cmq_sample_event() -> None:
    # One test over all of them rather than one per function: there may be none yet.
    assert {spec.logical_id: _sample_shapes(spec) for spec in QUEUE_FUNCTIONS} == {
        spec.logical_id: set(QUEUE_EVENT_SHAPES) for spec in QUEUE_FUNCTIONS
    }


def test_every_scheduled_function_has_an_eventbridge_and_an_scf_timer_sample_event() -> None:
    assert SCHEDULED_FUNCTIONS
    assert {spec.logical_id: _sample_shapes(spec) for spec in SCHEDULED_FUNCTIONS} == {
        spec.logical_id: set(SCHEDULE_EVENT_SHAPES) for spec in SCHEDULED_FUNCTIONS
    }


def test_the_local_scheduler_sends_the_shape_of_the_eventbridge_samples() -> None:
    # GIVEN the sample scheduled events and the one the local scheduler builds
    samples = [json.loads(path.read_text()) for path in EVENTS.glob("*_aws_schedule.json")]
    local = scheduled_event("OutboxRelayFunction-EveryMinute", datetime.now(timezone.utc))

    # THEN they have the same fields, and the local one is a scheduled event too
    assert samples
    assert all(set(sample) == set(local) for sample in samples)
    assert all(sample["detail-type"] == local["detail-type"] for sample in samples)


def test_every_queue_of_the_template_follows_the_queue_rules() -> None:
    # GIVEN the template's queues WHEN scripts.local.queue_rules checks them (redrive to a DLQ,
    # stack-prefixed name, visibility >= 6 x the consumer's or the declared step timeout)
    problems = queue_problems(_template())

    # THEN none breaks a rule
    assert problems == []


def test_every_step_queue_code_publishes_to_is_a_queue_of_the_template() -> None:
    steps = (*STEP_ORDER, "finalize")

    names = {queue.name for queue in _template().queues}

    assert {step_queue(step) for step in steps} <= names


def _send_policy_queues(logical_id: str) -> set[str]:
    """The queues (logical ids) a function's SQSSendMessagePolicy entries allow it to send to."""
    properties = _document(TEMPLATE)["Resources"][logical_id]["Properties"]
    return {
        policy["SQSSendMessagePolicy"]["QueueName"]["Fn::GetAtt"][0]
        for policy in properties.get("Policies") or []
        if isinstance(policy, dict) and "SQSSendMessagePolicy" in policy
    }


def test_the_outbox_relay_may_send_to_every_queue_but_the_dead_letter_queues() -> None:
    # GIVEN the template's queues that are not a dead-letter queue of another
    live = {queue.logical_id for queue in live_queues(_template())}

    # THEN the relay, which publishes whatever the outbox holds, may send to exactly those
    assert live
    assert _send_policy_queues("OutboxRelayFunction") == live


def test_task_creation_may_send_to_the_first_step_queue() -> None:
    template = _template()
    first = {queue.logical_id for queue in template.queues if queue.name == step_queue("prepare")}

    assert first
    assert _send_policy_queues("TasksFunction") == first


def test_every_custom_resource_function_has_a_cloudformation_sample_event() -> None:
    services = _custom_resource_services()

    assert services == {"MigrateFunction"}
    assert {
        logical_id: _sample_shapes(_template().function(logical_id)) for logical_id in services
    } == {logical_id: {"aws_cfn"} for logical_id in services}
