"""template.yaml (AWS SAM) as typed specs: the functions, their HTTP routes, schedules, queues
and storage triggers, and the template's SQS queues under their local names.

The local runtime (gateway, scheduler, `scripts/invoke`) and the descriptor tests read the
template through this module, so the cloud and the local stack can never disagree about which
handler serves which route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import yaml

from retouch.queue.messages import InvalidQueueName, check_queue_name
from scripts.local.lambda_runtime import ROOT, load_function

TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

FUNCTION_TYPE = "AWS::Serverless::Function"
QUEUE_TYPE = "AWS::SQS::Queue"
#: Template queue names start with the stack's name; code and the local runtime leave it out.
STACK_NAME_PREFIX = "${AWS::StackName}-"
#: A function's Timeout when neither it nor Globals sets one (SAM's default).
DEFAULT_TIMEOUT_S = 3
#: One entry file serves both clouds: `handler` for Lambda (the template's Handler), and
#: this attribute for Tencent SCF (deploy/tencent.yml's `app.main_handler`).
SCF_HANDLER_ATTRIBUTE = "main_handler"
RouteType = Literal["Api", "HttpApi"]
LambdaHandler = Callable[[dict[str, Any], Any], Any]

#: Event shapes of the files in events/, named `<function>_<shape>[_<variant>].json`: HTTP
#: requests, object-created events of S3 (Lambda) and COS (SCF), queue messages of SQS
#: (Lambda) and the scf queue backend's invocations or CMQ (SCF), and schedules:
#: EventBridge's scheduled event (Lambda) and the SCF timer trigger. Shapes starting with
#: `scf_` go to the SCF entry point.
HTTP_EVENT_SHAPES = ("aws_rest", "aws_http", "scf_apigw")
STORAGE_EVENT_SHAPES = ("aws_s3", "scf_cos")
QUEUE_EVENT_SHAPES = ("aws_sqs", "scf_invoke", "scf_cmq")
SCHEDULE_EVENT_SHAPES = ("aws_schedule", "scf_timer")
#: CloudFormation's custom-resource request (the `Migrations` resource, for MigrateFunction).
CUSTOM_RESOURCE_EVENT_SHAPES = ("aws_cfn",)
EVENT_SHAPES = (
    HTTP_EVENT_SHAPES
    + STORAGE_EVENT_SHAPES
    + QUEUE_EVENT_SHAPES
    + SCHEDULE_EVENT_SHAPES
    + CUSTOM_RESOURCE_EVENT_SHAPES
)


class TemplateError(ValueError):
    """template.yaml does not describe a function the way the local runtime needs."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route of a function: an `Api` (REST v1) or `HttpApi` (v2) event."""

    method: str  # upper case; ANY matches every method
    path: str  # API Gateway template, e.g. /v1/tasks/{id} or /{proxy+}
    event_type: RouteType
    event_name: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """A `Schedule` or `ScheduleV2` event: `rate(...)` or `cron(...)`."""

    event_name: str
    expression: str
    enabled: bool = True
    input: str | None = None  # JSON the rule sends instead of the scheduled-event shape


@dataclass(frozen=True, slots=True)
class QueueTrigger:
    """An `SQS` event: the queue as written (a !GetAtt/!Ref or an ARN) and the batch size.
    `Template.queue_for` resolves it to the queue the local runtime reads."""

    event_name: str
    queue: Any
    batch_size: int = 10


@dataclass(frozen=True, slots=True)
class QueueResource:
    """An `AWS::SQS::Queue` of the template (or a queue named by ARN), under its local name:
    the name code publishes to, i.e. QueueName without the `${AWS::StackName}-` prefix, or
    the logical id when QueueName is absent."""

    logical_id: str
    name: str
    visibility_timeout_s: int | None = None  # VisibilityTimeout; None: SQS's default
    max_receive_count: int | None = None  # RedrivePolicy.maxReceiveCount; None: no redrive
    dead_letter_queue: str | None = None  # local name of RedrivePolicy.deadLetterTargetArn
    stack_prefixed: bool = False  # QueueName is `!Sub "${AWS::StackName}-<name>"`


@dataclass(frozen=True, slots=True)
class StorageTrigger:
    """An `S3` event: object-created notifications of a bucket of the template."""

    event_name: str
    bucket: Any
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One `AWS::Serverless::Function` of the template."""

    logical_id: str
    code_uri: Path  # absolute
    handler: str  # module.attribute, e.g. app.handler
    timeout_s: int = DEFAULT_TIMEOUT_S  # Timeout, or Globals' Timeout
    routes: tuple[Route, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    queues: tuple[QueueTrigger, ...] = ()
    storage_triggers: tuple[StorageTrigger, ...] = ()

    @property
    def module_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def event_prefix(self) -> str:
        """The prefix of this function's files in events/: HealthFunction -> health."""
        name = self.logical_id.removesuffix("Function")
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

    @property
    def has_events(self) -> bool:
        return bool(self.routes or self.schedules or self.queues or self.storage_triggers)


@dataclass(frozen=True, slots=True)
class Template:
    """The functions of one template, in template order, its SQS queues and its Mappings."""

    path: Path
    functions: tuple[FunctionSpec, ...]
    queues: tuple[QueueResource, ...] = ()
    mappings: dict[str, Any] = field(default_factory=dict)

    def queue_for(self, trigger: QueueTrigger) -> QueueResource:
        """The queue an `SQS` event reads: a queue of the template (`!GetAtt Q.Arn`,
        `!Ref Q`), or one named by its ARN (literal or `!Sub`)."""
        return self._queue_at(trigger.queue, f"the SQS event {trigger.event_name}")

    def _queue_at(self, reference: Any, what: str) -> QueueResource:
        target = _referenced_id(reference)
        if target is not None:
            for queue in self.queues:
                if queue.logical_id == target:
                    return queue
            raise TemplateError(f"{what} names {target}, which is no {QUEUE_TYPE} of the template")
        name = _local_queue_name(reference, what=what, arn=True)
        for queue in self.queues:
            if queue.name == name:
                return queue
        return QueueResource(logical_id=name, name=name)

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.logical_id == logical_id:
                return spec
        known = ", ".join(spec.logical_id for spec in self.functions)
        raise TemplateError(f"no function {logical_id} in {self.path.name} (known: {known})")

    def function_for_event(self, event_file: Path) -> tuple[FunctionSpec, str]:
        """The function and shape an events/ file is for, from its name (see events/README.md)."""
        stem = event_file.stem
        for spec in sorted(self.functions, key=lambda item: -len(item.event_prefix)):
            rest = stem.removeprefix(spec.event_prefix + "_")
            if rest == stem:
                continue
            for shape in EVENT_SHAPES:
                if rest == shape or rest.startswith(shape + "_"):
                    return spec, shape
        raise TemplateError(f"{event_file.name} names no function of {self.path.name}")


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that reads the short tags (!Ref, !GetAtt, !Sub, ...) as their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def read_yaml(path: Path) -> Any:
    """Parse a CloudFormation/SAM (or any) YAML file, tolerating the short intrinsic tags."""
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader


def load_template(path: Path = TEMPLATE) -> Template:
    """Read every function of a SAM template, with Globals.Function applied, and its queues."""
    document = read_yaml(path)
    defaults = ((document.get("Globals") or {}).get("Function")) or {}
    resources: dict[str, Any] = document.get("Resources") or {}
    mappings: dict[str, Any] = document.get("Mappings") or {}
    functions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = {**defaults, **(resource.get("Properties") or {})}
        functions.append(_function_spec(path.parent, logical_id, properties, mappings))
    return Template(
        path=path,
        functions=tuple(functions),
        queues=_queues(resources, mappings),
        mappings=mappings,
    )


def _number(value: Any, mappings: dict[str, Any], *, what: str) -> int | None:
    """An integer property: a literal, or `!FindInMap` with literal keys; None when absent."""
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        keys = value["Fn::FindInMap"]
        try:
            value = mappings[keys[0]][keys[1]][keys[2]]
        except (KeyError, TypeError, IndexError) as exc:
            raise TemplateError(f"{what}: no mapping value at {keys!r}") from exc
    return None if value is None else int(value)


def _sub_text(value: Any) -> Any:
    """The text of `!Sub text` or `!Sub [text, {variables}]`; anything else as it is."""
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    if isinstance(text, list) and text:
        text = text[0]
    return text


def _queues(resources: dict[str, Any], mappings: dict[str, Any]) -> tuple[QueueResource, ...]:
    """The template's SQS queues; a RedrivePolicy's dead-letter target by its local name."""
    names = {
        logical_id: _local_queue_name(
            (resource.get("Properties") or {}).get("QueueName", logical_id), what=logical_id
        )
        for logical_id, resource in resources.items()
        if resource.get("Type") == QUEUE_TYPE
    }
    queues = []
    for logical_id, name in names.items():
        properties = resources[logical_id].get("Properties") or {}
        redrive = properties.get("RedrivePolicy") or {}
        if isinstance(redrive, str):  # CloudFormation also takes the policy as JSON text
            redrive = json.loads(redrive)
        target = redrive.get("deadLetterTargetArn")
        target_id = _referenced_id(target)
        if target is None:
            dead_letter_queue = None
        elif target_id is not None:
            if target_id not in names:
                raise TemplateError(f"{logical_id}'s RedrivePolicy names no queue: {target_id}")
            dead_letter_queue = names[target_id]
        else:
            dead_letter_queue = _local_queue_name(target, what=logical_id, arn=True)
        queue_name = _sub_text(properties.get("QueueName"))
        queues.append(
            QueueResource(
                logical_id=logical_id,
                name=name,
                visibility_timeout_s=_number(
                    properties.get("VisibilityTimeout"), mappings, what=logical_id
                ),
                max_receive_count=_number(
                    redrive.get("maxReceiveCount"), mappings, what=logical_id
                ),
                dead_letter_queue=dead_letter_queue,
                stack_prefixed=isinstance(queue_name, str)
                and queue_name.startswith(STACK_NAME_PREFIX),
            )
        )
    return tuple(queues)


def _referenced_id(value: Any) -> str | None:
    """The logical id of `!Ref X` or `!GetAtt X.Attribute`, else None."""
    if not isinstance(value, dict):
        return None
    target = value.get("Fn::GetAtt", value.get("Ref"))
    if isinstance(target, list) and target:
        return str(target[0])
    return None if target is None else str(target)


def _local_queue_name(value: Any, *, what: str, arn: bool = False) -> str:
    """The local name of a QueueName (or, with `arn`, of a queue ARN): literal or `!Sub`, with
    the `${AWS::StackName}-` prefix removed. Any other substitution cannot be resolved."""
    text = _sub_text(value)
    if not isinstance(text, str):
        raise TemplateError(f"{what}: cannot read a queue name from {value!r}")
    if arn:  # arn:aws:sqs:<region>:<account>:<name>, and the name may start with the prefix
        text = text.replace(":" + STACK_NAME_PREFIX, ":").rpartition(":")[2]
    name = text.removeprefix(STACK_NAME_PREFIX)
    try:
        return check_queue_name(name)
    except InvalidQueueName as exc:
        raise TemplateError(f"{what}: the queue name {name!r} cannot be used locally") from exc


def _function_spec(
    base: Path, logical_id: str, properties: dict[str, Any], mappings: dict[str, Any]
) -> FunctionSpec:
    code_uri, handler = properties.get("CodeUri"), properties.get("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{logical_id} needs a local CodeUri and a module.attribute Handler")
    routes, schedules, queues, storage_triggers = [], [], [], []
    for name, event in (properties.get("Events") or {}).items():
        kind, event_properties = event.get("Type"), event.get("Properties") or {}
        if kind in ("Api", "HttpApi"):
            # An HttpApi event without Path/Method is the API's catch-all $default route.
            routes.append(
                Route(
                    method=str(event_properties.get("Method", "any")).upper(),
                    path=str(event_properties.get("Path", "/{proxy+}")),
                    event_type=kind,
                    event_name=name,
                )
            )
        elif kind in ("Schedule", "ScheduleV2"):
            key = "Schedule" if kind == "Schedule" else "ScheduleExpression"
            enabled = event_properties.get("Enabled", event_properties.get("State", True))
            schedules.append(
                Schedule(
                    event_name=name,
                    expression=str(event_properties[key]),
                    enabled=enabled not in (False, "DISABLED"),
                    input=event_properties.get("Input"),
                )
            )
        elif kind == "SQS":
            queues.append(
                QueueTrigger(
                    event_name=name,
                    queue=event_properties.get("Queue"),
                    batch_size=int(event_properties.get("BatchSize", 10)),
                )
            )
        elif kind == "S3":
            names = event_properties.get("Events", [])
            storage_triggers.append(
                StorageTrigger(
                    event_name=name,
                    bucket=event_properties.get("Bucket"),
                    events=tuple([names] if isinstance(names, str) else names),
                )
            )
    return FunctionSpec(
        logical_id=logical_id,
        code_uri=(base / code_uri).resolve(),
        handler=handler,
        timeout_s=_number(properties.get("Timeout"), mappings, what=logical_id)
        or DEFAULT_TIMEOUT_S,
        routes=tuple(routes),
        schedules=tuple(schedules),
        queues=tuple(queues),
        storage_triggers=tuple(storage_triggers),
    )


def load_module(spec: FunctionSpec) -> ModuleType:
    """Import the function's entry file (under a name unique to its folder)."""
    return load_function(spec.module_file)


def load_handler(spec: FunctionSpec, *, shape: str | None = None) -> LambdaHandler:
    """The function's handler, as Lambda would resolve `Handler`; for an event of an SCF shape
    (`scf_...`), the SCF entry point in the same file, as SCF would call it."""
    attribute = spec.handler_attribute
    if shape is not None and shape.startswith("scf_"):
        attribute = SCF_HANDLER_ATTRIBUTE
    handler = getattr(load_module(spec), attribute, None)
    if not callable(handler):
        raise TemplateError(f"{spec.module_file} has no callable {attribute}")
    return handler  # type: ignore[no-any-return]
