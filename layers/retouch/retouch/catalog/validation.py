"""Rules for what operators may store: pipelines and provider configs (forms: `form_rules`).

Each check collects every problem as a `FieldError` and raises `ConfigInvalid` (422
VALIDATION_FAILED) before anything is written.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from pydantic import ValidationError

from retouch.catalog.errors import ConfigInvalid
from retouch.catalog.patterns import MAX_VALUE_LENGTH
from retouch.catalog.schemas import (
    SCHEMA_DIALECT,
    STEP_ORDER,
    UPLOAD_ID_PATTERN,
    PipelineStep,
    ProviderWrite,
)
from retouch.core.errors import FieldError
from retouch.providers.credentials import own_references
from retouch.providers.destinations import DestinationPolicy, refused_destinations
from retouch.providers.options import options_model

MAX_TIMEOUT_S = 900
MAX_RETRIES = 5

_MESSAGES: dict[str, tuple[str, str]] = {
    "not_object": ("必须是 JSON 对象", "must be a JSON object"),
    "too_large": ("表单定义过大", "the form is too large"),
    "unsupported_keyword": ("不支持该关键字", "this keyword is not supported"),
    "dialect": ("仅支持 JSON Schema 2020-12", f"must be {SCHEMA_DIALECT}"),
    "root_type": ("表单根类型必须是 object", "the form must have type object"),
    "closed": ("必须为 false（不允许未声明的字段）", "must be false (no undeclared fields)"),
    "no_fields": ("至少需要一个字段", "at least one field is needed"),
    "too_many_fields": ("字段过多", "too many fields"),
    "field_name": ("字段名须为小写字母、数字和下划线", "names are lower-case letters, digits, _"),
    "field_type": (
        "类型必须是 string、integer、number 或 boolean",
        "type must be string, integer, number or boolean",
    ),
    "string_list": ("必须是不重复的字符串列表", "must be a list of distinct strings"),
    "unknown_field": ("引用了未声明的字段", "names a field that is not declared"),
    "enum": ("必须是非空、不重复的取值列表", "must be a non-empty list of distinct values"),
    "number": ("必须是数字", "must be a number"),
    "count": ("必须是非负整数", "must be a non-negative integer"),
    "pattern": ("不是有效的正则表达式", "is not a valid regular expression"),
    "pattern_construct": (
        "不支持反向引用、环视、除 (?:…) 和命名分组外的 (?…) 写法，以及非量词的 {（请写 \\{）",
        "backreferences, lookarounds, (?…) other than (?:…) and named groups, and a { that "
        "is not a count (write \\{) are not supported",
    ),
    "pattern_backtracking": (
        "重复的分组内不能再含量词或 |（可能导致回溯爆炸）",
        "a repeated group may not hold a quantifier or | (it can backtrack exponentially)",
    ),
    "pattern_max_length": (
        f"设置了 pattern 的字段必须设置 maxLength（不超过 {MAX_VALUE_LENGTH}）",
        f"a field with a pattern needs a maxLength of at most {MAX_VALUE_LENGTH}",
    ),
    "text": ("必须是字符串", "must be a string"),
    "branches": ("必须是非空的分支列表", "must be a non-empty list of alternatives"),
    "upload": (
        f"上传字段必须是 string 且 pattern 为 {UPLOAD_ID_PATTERN}",
        f"an upload field must be a string with pattern {UPLOAD_ID_PATTERN}",
    ),
    "flag": ("必须是布尔值", "must be true or false"),
    "invalid_schema": ("不是有效的 JSON Schema", "is not a valid JSON Schema"),
    "no_steps": ("流水线至少需要 generate 步骤", "a pipeline needs a generate step"),
    "unknown_step": (
        "未知步骤（可用：prepare、generate、store）",
        "unknown step (known: prepare, generate, store)",
    ),
    "step_order": (
        "步骤重复或顺序错误（prepare → generate → store）",
        "steps repeat or are out of order (prepare, generate, store)",
    ),
    "step_keys": ("不支持该步骤参数", "this step setting is not supported"),
    "providers_required": (
        "generate 步骤需要非空、不重复的供应商列表",
        "generate needs a non-empty list of distinct providers",
    ),
    "providers_not_allowed": ("只有 generate 步骤可以指定供应商", "only generate names providers"),
    "unknown_provider": ("未知的供应商", "unknown provider"),
    "timeout": (
        f"必须是 1 到 {MAX_TIMEOUT_S} 之间的整数",
        f"must be an integer 1..{MAX_TIMEOUT_S}",
    ),
    "retries": (f"必须是 0 到 {MAX_RETRIES} 之间的整数", f"must be an integer 0..{MAX_RETRIES}"),
    "raw_secret": (
        "只能填写凭证引用（secretsmanager:、ssm:、env:RETOUCH_SECRET_…），不能填写密钥本身",
        "must be a reference (secretsmanager:, ssm:, env:RETOUCH_SECRET_...), "
        "never the secret itself",
    ),
    "foreign_secret": (
        "只能引用本服务商自己的密钥：secretsmanager:retouch/providers/<key>、"
        "ssm:/retouch/providers/<key> 或 env:RETOUCH_SECRET_<KEY>",
        "must name this provider's own secret: secretsmanager:retouch/providers/<key>, "
        "ssm:/retouch/providers/<key> or env:RETOUCH_SECRET_<KEY>",
    ),
    "destination_not_allowed": (
        "不在该类服务商允许访问的地址之列（由代码和部署配置决定，接口无法放宽）",
        "is not an address this provider kind may reach (set by the code and the deploy's "
        "settings; the API cannot widen it)",
    ),
    "options": (
        "不符合该服务商的配置格式",
        "does not match the settings this provider kind takes",
    ),
    "endpoint": (
        "必须是不含账号、密码或查询参数的 http(s) 地址",
        "must be an http(s) URL without user info or query",
    ),
}


class Collector:
    def __init__(self, language: str) -> None:
        self.language = language
        self.errors: list[FieldError] = []

    def add(self, field: str, kind: str) -> None:
        zh, en = _MESSAGES[kind]
        self.errors.append(
            FieldError(field=field, message=en if self.language == "en" else zh, type=kind)
        )

    def fail(self, field: str, kind: str) -> NoReturn:
        self.add(field, kind)
        raise ConfigInvalid(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigInvalid(self.errors)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def string_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(item, str) for item in value)
        and len(set(value)) == len(value)
    )


def check_pipeline(
    steps: object, *, providers: set[str], language: str = "en"
) -> list[PipelineStep]:
    """Return the steps if they name known steps in order and existing providers; else raise
    ConfigInvalid. `generate` is required and names its provider chain; `finalize` is
    implicit and may not be listed."""
    out = Collector(language)
    if not isinstance(steps, list) or not steps:
        out.fail("steps", "no_steps")
    last = -1
    seen: set[str] = set()
    for index, step in enumerate(steps):
        path = f"steps[{index}]"
        if not isinstance(step, dict):
            out.add(path, "not_object")
            continue
        for extra in step.keys() - {"step", "providers", "timeout_s", "retries"}:
            out.add(f"{path}.{extra}", "step_keys")
        name = step.get("step")
        if name not in STEP_ORDER:
            out.add(f"{path}.step", "unknown_step")
            continue
        position = STEP_ORDER.index(name)
        if position <= last:
            out.add(f"{path}.step", "step_order")
        last = max(last, position)
        seen.add(name)
        _check_step_settings(step, path, providers, out)
    if "generate" not in seen and not out.errors:
        out.add("steps", "no_steps")
    out.raise_if_any()
    return [PipelineStep.model_validate(step) for step in steps]


def _check_step_settings(
    step: dict[str, Any], path: str, providers: set[str], out: Collector
) -> None:
    chain = step.get("providers")
    if step["step"] != "generate":
        if chain is not None:
            out.add(f"{path}.providers", "providers_not_allowed")
    elif not string_list(chain) or not chain:
        out.add(f"{path}.providers", "providers_required")
    else:
        for index, provider in enumerate(chain):
            if provider not in providers:
                out.add(f"{path}.providers[{index}]", "unknown_provider")
    timeout = step.get("timeout_s")
    if timeout is not None and not (is_count(timeout) and 1 <= timeout <= MAX_TIMEOUT_S):
        out.add(f"{path}.timeout_s", "timeout")
    retries = step.get("retries")
    if retries is not None and not (is_count(retries) and retries <= MAX_RETRIES):
        out.add(f"{path}.retries", "retries")


# Where a secret may live: a Secrets Manager name, an SSM parameter path, or one of our
# environment variables (filled from a secret store by the deploy).
_CREDENTIAL_REF = re.compile(
    r"secretsmanager:[A-Za-z0-9/_+=.@-]{1,512}"
    r"|ssm:/[A-Za-z0-9/_.-]{1,1000}"
    r"|env:RETOUCH_SECRET_[A-Z0-9_]{1,64}"
)
_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def check_provider(
    provider: ProviderWrite, *, language: str = "en", policy: DestinationPolicy | None = None
) -> ProviderWrite:
    """Return the provider if it holds only a reference to its own secret, and an endpoint
    and result hosts on the allowlist of its kind (`policy`: the deploy's, by default); else
    raise ConfigInvalid (the value is never echoed back)."""
    out = Collector(language)
    ref = provider.credential_ref
    if ref is not None and not _CREDENTIAL_REF.fullmatch(ref):
        out.add("credential_ref", "raw_secret")
    elif ref is not None and ref not in own_references(provider.key):
        out.add("credential_ref", "foreign_secret")
    if provider.endpoint is not None and not _ENDPOINT.fullmatch(provider.endpoint):
        out.add("endpoint", "endpoint")
    try:
        options_model(provider.kind).model_validate(provider.options)
    except ValidationError as exc:
        for error in exc.errors():
            out.add(".".join(["options", *map(str, error["loc"])]), "options")
    policy = policy or DestinationPolicy.from_settings()
    malformed = {error.field for error in out.errors}
    for field in refused_destinations(provider.kind, provider.endpoint, provider.options, policy):
        if field not in malformed:
            out.add(field, "destination_not_allowed")
    out.raise_if_any()
    return provider
