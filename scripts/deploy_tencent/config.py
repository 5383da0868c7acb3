"""deploy/tencent.yml read for one stage: every `${stage}` and `${env:NAME}` resolved, every
rule SCF or our security model sets checked before the first API call.

A config that breaks a rule is refused whole (`ConfigError`, one line per problem): a missing
variable, a secret given as a value instead of a `tcssm:` reference, a trigger still marked
`pending`, account mail that could not be sent (`mail.py`), more variables or layers or
same-type triggers than SCF allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.deploy_tencent.captcha import captcha_problems
from scripts.deploy_tencent.mail import is_unset_password, mail_problems

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "tencent.yml"

#: SCF quotas (docs/deploy-tencent.md, "Limits"): a function's variables take at most 4 KB,
#: it binds at most 5 layer versions and at most 10 triggers of one type.
ENVIRONMENT_LIMIT_BYTES = 4096
LAYERS_PER_FUNCTION = 5
TRIGGERS_PER_TYPE = 10
#: Variables whose value must be a Secrets Manager reference, never the secret itself.
SECRET_VARIABLES = re.compile(
    r"RETOUCH_(DB_PASSWORD_SECRET|JWT_KEYS_SECRET|REDIS_AUTH_SECRET|BACKUP_SIGNING_KEYS_SECRET"
    r"|MAIL_SMTP_PASSWORD_SECRET|SECRET_[A-Z0-9_]+)"
)
#: A URL that carries credentials (`scheme://user:password@host`).
URL_CREDENTIALS = re.compile(r"^[a-z]+://[^/@\s]*@")
#: A Tencent SSM reference (names: letters, digits, `-` and `_`; core/settings checks the same).
SECRET_REFERENCE = re.compile(
    r"tcssm:[A-Za-z0-9][A-Za-z0-9_-]{0,127}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?"
)
#: Variables that hold a secret's value; SCF gets their `_SECRET` reference instead.
PLAIN_SECRETS = frozenset({"RETOUCH_DB_PASSWORD", "RETOUCH_JWT_KEYS"})
_PLACEHOLDER = re.compile(r"\$\{(stage|env:([A-Za-z_][A-Za-z0-9_]*))\}")
DEFAULT_HANDLER = "app.main_handler"


class ConfigError(ValueError):
    """The config cannot be deployed; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("cannot deploy:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Trigger:
    """One SCF trigger (`kind` is SCF's Type) or the routes of the API Gateway service."""

    kind: str
    name: str
    desc: str
    routes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Function:
    key: str
    name: str
    code: Path
    handler: str
    memory: int
    timeout: int
    environment: dict[str, str]
    layers: tuple[str, ...]
    include: tuple[Path, ...]
    requirements: tuple[Path, ...]
    triggers: tuple[Trigger, ...]
    #: SCF's retry policy for asynchronous invocations (UpdateFunctionEventInvokeConfig):
    #: retries after the first try, and how long an undelivered event is kept; None: SCF's own.
    async_invoke: AsyncInvoke | None = None


@dataclass(frozen=True)
class AsyncInvoke:
    retries: int
    message_ttl_s: int


@dataclass(frozen=True)
class Layer:
    name: str
    requirements: tuple[Path, ...]
    packages: tuple[Path, ...]


@dataclass(frozen=True)
class Plan:
    """What one stage deploys."""

    stage: str
    region: str
    namespace: str
    role: str
    vpc_id: str
    subnet_id: str
    code_bucket: str
    cls_logset_id: str
    cls_topic_id: str
    runtime: str
    python_version: str
    platform: str
    api_service: str
    api_environment: str
    api_timeout: int
    layers: dict[str, Layer]
    functions: dict[str, Function]


class _Resolver:
    """Replaces placeholders, remembering every variable the environment lacks."""

    def __init__(self, stage: str, environ: Mapping[str, str]) -> None:
        self.stage, self.environ, self.missing = stage, environ, set[str]()

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return _PLACEHOLDER.sub(self._one, value)
        return value

    def _one(self, match: re.Match[str]) -> str:
        if match.group(1) == "stage":
            return self.stage
        name = match.group(2)
        if name not in self.environ:
            self.missing.add(name)
        return self.environ.get(name, "")


def load_plan(stage: str, environ: Mapping[str, str], path: Path = CONFIG) -> Plan:
    """The stage's plan, or ConfigError naming every problem."""
    document = yaml.safe_load(path.read_text())
    if stage not in document["stages"]:
        raise ConfigError([f"unknown stage {stage!r} (known: {', '.join(document['stages'])})"])
    resolve = _Resolver(stage, environ)
    settings = resolve(document["stages"][stage])
    functions = {
        key: _function(key, resolve(config), resolve(document["environment"]))
        for key, config in document["functions"].items()
    }
    layers = {
        name: Layer(
            name=f"retouch-{name}-{stage}",
            requirements=tuple(ROOT / item for item in config.get("requirements", [])),
            packages=tuple(ROOT / item for item in config.get("packages", [])),
        )
        for name, config in document["layers"].items()
    }
    problems = [f"environment variable {name} is not set" for name in sorted(resolve.missing)]
    problems += [line for function in functions.values() for line in _problems(function, layers)]
    problems += [line for line in _pending(document["functions"])]
    if problems:
        raise ConfigError(problems)
    return Plan(
        stage=stage,
        region=settings["region"],
        namespace=settings["namespace"],
        role=settings["role"],
        vpc_id=settings["vpc"]["vpc_id"],
        subnet_id=settings["vpc"]["subnet_id"],
        code_bucket=settings.get("code_bucket", ""),
        cls_logset_id=settings["logs"]["logset_id"],
        cls_topic_id=settings["logs"]["topic_id"],
        runtime=document["runtime"],
        python_version=str(document["python_version"]),
        platform=document["platform"],
        api_service=settings["api_service"],
        api_environment=document["api"]["environment"],
        api_timeout=int(document["api"]["timeout"]),
        layers=layers,
        functions=functions,
    )


def _function(key: str, config: dict[str, Any], shared: dict[str, str]) -> Function:
    environment = {
        name: str(value) for name, value in {**shared, **config.get("environment", {})}.items()
    }
    async_invoke = config.get("async_invoke")
    return Function(
        key=key,
        name=config.get("name", f"retouch-{key.replace('_', '-')}"),
        code=ROOT / config["code"],
        handler=config.get("handler", DEFAULT_HANDLER),
        memory=int(config.get("memory", 512)),
        timeout=int(config.get("timeout", 10)),
        environment=environment,
        layers=tuple(config.get("layers", ["retouch"])),
        include=tuple(ROOT / item for item in config.get("include", [])),
        requirements=tuple(ROOT / item for item in config.get("requirements", [])),
        triggers=tuple(_trigger(key, item) for item in config.get("triggers", [])),
        async_invoke=None
        if async_invoke is None
        else AsyncInvoke(
            retries=int(async_invoke["retries"]),
            message_ttl_s=int(async_invoke["message_ttl_s"]),
        ),
    )


def _trigger(key: str, config: dict[str, Any]) -> Trigger:
    kind = config["type"]
    if "pending" in config:
        return Trigger(kind=kind, name="", desc="")
    if kind == "apigw":
        routes = tuple(
            (method, path) for method, path in (r.split(" ", 1) for r in config["routes"])
        )
        return Trigger(kind=kind, name="api", desc="", routes=routes)
    if kind == "cos":
        # SCF names a COS trigger by its bucket's domain; its description is this JSON.
        event = {
            "event": config["events"],
            "filter": {"Prefix": config.get("prefix", ""), "Suffix": ""},
        }
        return Trigger(kind=kind, name=config["bucket"], desc=json.dumps(event, sort_keys=True))
    if kind == "timer":
        return Trigger(kind=kind, name=config["name"], desc=config["cron"])
    desc = config["desc"]
    text = desc if isinstance(desc, str) else json.dumps(desc, sort_keys=True)
    return Trigger(kind=kind, name=config.get("name", f"{key}-{kind}"), desc=text)


def _problems(function: Function, layers: Mapping[str, Layer]) -> list[str]:
    where = f"function {function.key}"
    problems = [
        f"{where}: unknown layer {name!r}" for name in function.layers if name not in layers
    ]
    if len(function.layers) > LAYERS_PER_FUNCTION:
        problems.append(f"{where}: {len(function.layers)} layers, SCF binds {LAYERS_PER_FUNCTION}")
    for name, value in function.environment.items():
        if name in PLAIN_SECRETS:
            problems.append(f"{where}: {name} would put a secret in a variable; set {name}_SECRET")
        elif is_unset_password(name, value, function.environment):
            continue
        elif SECRET_VARIABLES.fullmatch(name) and not SECRET_REFERENCE.fullmatch(value):
            problems.append(f"{where}: {name} must be a tcssm:<name> reference, not a value")
        elif name == "RETOUCH_REDIS_URL" and URL_CREDENTIALS.match(value):
            problems.append(
                f"{where}: {name} carries a password; set RETOUCH_REDIS_AUTH_SECRET instead"
            )
    problems += mail_problems(where, function.environment)
    problems += captcha_problems(where, function.environment)
    size = len(json.dumps(function.environment, separators=(",", ":")).encode())
    if size > ENVIRONMENT_LIMIT_BYTES:
        problems.append(
            f"{where}: variables take {size} bytes, SCF allows {ENVIRONMENT_LIMIT_BYTES}"
        )
    kinds = [trigger.kind for trigger in function.triggers]
    problems += [
        f"{where}: {kinds.count(kind)} {kind} triggers, SCF allows {TRIGGERS_PER_TYPE}"
        for kind in sorted(set(kinds))
        if kinds.count(kind) > TRIGGERS_PER_TYPE
    ]
    if not (function.code / function.handler.rpartition(".")[0]).with_suffix(".py").is_file():
        problems.append(f"{where}: no {function.handler} in {function.code.relative_to(ROOT)}")
    return problems


def _pending(functions: Mapping[str, Any]) -> list[str]:
    return [
        f"function {key}: its {trigger['type']} trigger is not declared yet ({trigger['pending']})"
        for key, config in functions.items()
        for trigger in config.get("triggers", [])
        if "pending" in trigger
    ]
