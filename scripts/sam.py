"""template.yaml (AWS SAM) as typed specs: the functions, their HTTP routes, schedules, queues
and storage triggers.

The local runtime (gateway, scheduler, `scripts/invoke`) and the descriptor tests read the
template through this module, so the cloud and the local stack can never disagree about which
handler serves which route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import yaml

from scripts.lambda_runtime import ROOT, load_function

TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

FUNCTION_TYPE = "AWS::Serverless::Function"
RouteType = Literal["Api", "HttpApi"]
LambdaHandler = Callable[[dict[str, Any], Any], Any]

#: Event shapes of the files in events/, named `<function>_<shape>[_<variant>].json`: HTTP
#: requests, and object-created events of S3 (Lambda) and COS (SCF).
HTTP_EVENT_SHAPES = ("aws_rest", "aws_http", "scf_apigw")
STORAGE_EVENT_SHAPES = ("aws_s3", "scf_cos")
EVENT_SHAPES = HTTP_EVENT_SHAPES + STORAGE_EVENT_SHAPES


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
    """An `SQS` event: the queue as written (a !GetAtt/!Ref or an ARN) and the batch size."""

    event_name: str
    queue: Any
    batch_size: int = 10

    @property
    def queue_name(self) -> str:
        """The queue's logical id when it is referenced, else the value as text."""
        if isinstance(self.queue, dict):
            target = self.queue.get("Fn::GetAtt") or self.queue.get("Ref")
            if isinstance(target, list):
                return str(target[0])
            if target is not None:
                return str(target)
        return str(self.queue)


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
    """The functions of one template, in template order."""

    path: Path
    functions: tuple[FunctionSpec, ...]

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
    """Read every function of a SAM template, with Globals.Function applied."""
    document = read_yaml(path)
    defaults = ((document.get("Globals") or {}).get("Function")) or {}
    functions = []
    for logical_id, resource in (document.get("Resources") or {}).items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = {**defaults, **(resource.get("Properties") or {})}
        functions.append(_function_spec(path.parent, logical_id, properties))
    return Template(path=path, functions=tuple(functions))


def _function_spec(base: Path, logical_id: str, properties: dict[str, Any]) -> FunctionSpec:
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
        routes=tuple(routes),
        schedules=tuple(schedules),
        queues=tuple(queues),
        storage_triggers=tuple(storage_triggers),
    )


def load_module(spec: FunctionSpec) -> ModuleType:
    """Import the function's entry file (under a name unique to its folder)."""
    return load_function(spec.module_file)


def load_handler(spec: FunctionSpec) -> LambdaHandler:
    """The function's handler, as Lambda would resolve `Handler`."""
    handler = getattr(load_module(spec), spec.handler_attribute, None)
    if not callable(handler):
        raise TemplateError(f"{spec.module_file} has no callable {spec.handler_attribute}")
    return handler  # type: ignore[no-any-return]
