"""Validating task inputs against a feature's form (item 4 of the catalog issue).

Forms are compiled by fastjsonschema into plain Python functions, once per (feature,
version) and kept for the life of the instance: versions are never changed once stored. The
library is imported on the first validation, so functions that never validate inputs do not
pay for it at cold start. It implements drafts 4-7; the forms' subset
(`validation.check_form_schema`) means the same in those drafts and in 2020-12. The one
keyword it does not see is `pattern`: fastjsonschema would run it with `re`, which can
backtrack for ever, so patterns run here with `patterns.matches` (a timeout), and only on
values within the field's `maxLength`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from retouch.catalog.errors import InputsInvalid
from retouch.catalog.patterns import compile_pattern, matches
from retouch.catalog.schemas import FormSchema
from retouch.core.errors import FieldError

if TYPE_CHECKING:
    from fastjsonschema import JsonSchemaValueException
    from regex import Pattern

Validator = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class CompiledForm:
    """A form ready to check inputs: fastjsonschema's function for every keyword but
    `pattern`, and each string field's pattern with its `maxLength` (None: unbounded)."""

    validator: Validator
    patterns: dict[str, tuple[Pattern[str], int | None]]


_MAX_COMPILED = 256
_compiled: dict[tuple[str, int], tuple[dict[str, Any], CompiledForm]] = {}

# Stable `type` of each broken rule: the names pydantic gives the same failures elsewhere
# in the API, so a client handles one vocabulary.
_TYPES = {
    "required": "missing",
    "additionalProperties": "extra_forbidden",
    "enum": "enum",
    "minimum": "greater_than_equal",
    "maximum": "less_than_equal",
    "exclusiveMinimum": "greater_than",
    "exclusiveMaximum": "less_than",
    "minLength": "string_too_short",
    "maxLength": "string_too_long",
    "oneOf": "one_of",
    "anyOf": "any_of",
}
_TYPE_OF_JSON_TYPE = {
    "string": "string_type",
    "integer": "int_type",
    "number": "float_type",
    "boolean": "bool_type",
    "object": "dict_type",
}
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("{label}为必填项", "{label} is required"),
    "extra_forbidden": ("{label}不是此功能的参数", "{label} is not an input of this feature"),
    "enum": ("{label}必须是以下之一：{values}", "{label} must be one of: {values}"),
    "string_pattern_mismatch": ("{label}格式不正确", "{label} has an invalid format"),
    "upload": (
        "{label}必须是已上传文件的 ID（upl_…）",
        "{label} must be the id of an upload (upl_...)",
    ),
    "greater_than_equal": ("{label}不能小于 {limit}", "{label} must be at least {limit}"),
    "less_than_equal": ("{label}不能大于 {limit}", "{label} must be at most {limit}"),
    "greater_than": ("{label}必须大于 {limit}", "{label} must be greater than {limit}"),
    "less_than": ("{label}必须小于 {limit}", "{label} must be less than {limit}"),
    "string_too_short": ("{label}至少 {limit} 个字符", "{label} needs at least {limit} characters"),
    "string_too_long": ("{label}最多 {limit} 个字符", "{label} takes at most {limit} characters"),
    "one_of": ("请只提供以下一种：{values}", "give exactly one of: {values}"),
    "any_of": ("请至少提供以下一种：{values}", "give at least one of: {values}"),
    "string_type": ("{label}必须是字符串", "{label} must be a string"),
    "int_type": ("{label}必须是整数", "{label} must be an integer"),
    "float_type": ("{label}必须是数字", "{label} must be a number"),
    "bool_type": ("{label}必须是布尔值", "{label} must be true or false"),
    "dict_type": ("参数必须是 JSON 对象", "the inputs must be a JSON object"),
    "value_error": ("{label}的值无效", "{label} is invalid"),
}


def _refuse_remote(uri: str) -> NoReturn:
    # The form subset has no `$ref`; this makes sure no schema can ever make us fetch a URL.
    raise ValueError(f"remote references are not allowed: {uri}")


def compile_form(schema: dict[str, Any]) -> CompiledForm:
    """The compiled form, reporting every error; ValueError if it cannot compile."""
    import fastjsonschema  # here, not at module level: see the module docstring
    import regex

    definition = {keyword: value for keyword, value in schema.items() if keyword != "$schema"}
    properties = definition.get("properties")
    patterns: dict[str, tuple[Pattern[str], int | None]] = {}
    if isinstance(properties, dict):
        definition["properties"] = {name: dict(field) for name, field in properties.items()}
        try:
            for name, field in definition["properties"].items():
                if "pattern" in field:
                    patterns[name] = (compile_pattern(field.pop("pattern")), field.get("maxLength"))
        except (regex.error, TypeError) as exc:
            raise ValueError(str(exc)) from exc
    try:
        validator: Validator = fastjsonschema.compile(
            definition,
            handlers={"http": _refuse_remote, "https": _refuse_remote, "file": _refuse_remote},
            use_default=False,
            use_formats=False,
            fast_fail=False,
        )
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ValueError(str(exc)) from exc
    return CompiledForm(validator=validator, patterns=patterns)


def _compiled_form(form: FormSchema) -> CompiledForm:
    key = (form.feature_key, form.version)
    cached = _compiled.get(key)
    # A version never changes in one database; the comparison guards against a test (or a
    # restored backup) reusing a number for another schema.
    if cached is not None and cached[0] == form.json_schema:
        return cached[1]
    if len(_compiled) >= _MAX_COMPILED:
        _compiled.clear()
    compiled = compile_form(form.json_schema)
    _compiled[key] = (form.json_schema, compiled)
    return compiled


def validate_inputs(*, form: FormSchema, inputs: Any, language: str) -> dict[str, Any]:
    """Return `inputs` if they satisfy the form; else raise InputsInvalid (422
    VALIDATION_FAILED) listing every broken field as `inputs.<name>`, in zh-CN or en."""
    import fastjsonschema

    compiled = _compiled_form(form)
    failures: list[JsonSchemaValueException] = []
    try:
        compiled.validator(inputs)
    except fastjsonschema.JsonSchemaValuesException as exc:
        failures = exc.errors
    except fastjsonschema.JsonSchemaValueException as exc:
        failures = [exc]
    errors = _field_errors(failures, form.json_schema, inputs, language) if failures else []
    if isinstance(inputs, dict):
        errors += _pattern_errors(compiled, form.json_schema, inputs, language)
    if errors:
        raise InputsInvalid(errors, feature_key=form.feature_key, version=form.version)
    result: dict[str, Any] = inputs
    return result


def _pattern_errors(
    compiled: CompiledForm, schema: dict[str, Any], inputs: dict[str, Any], language: str
) -> list[FieldError]:
    # A value longer than its maxLength is already reported (string_too_long) and never
    # reaches the engine; a field that is not a string is reported by its type.
    describe = _Describer(schema, language)
    errors: list[FieldError] = []
    for name, (pattern, max_length) in compiled.patterns.items():
        value = inputs.get(name)
        if not isinstance(value, str) or (max_length is not None and len(value) > max_length):
            continue
        if not matches(pattern, value):
            upload = describe.properties.get(name, {}).get("x-upload")
            errors.append(describe.error(name, "upload" if upload else "string_pattern_mismatch"))
    return errors


class _Describer:
    def __init__(self, schema: dict[str, Any], language: str) -> None:
        self.properties: dict[str, Any] = schema.get("properties", {})
        self.language = language

    def label(self, name: str) -> str:
        field = self.properties.get(name, {})
        key = "title" if self.language == "en" else "x-title-zh"
        return str(field.get(key) or field.get("title") or name)

    def error(self, name: str | None, kind: str, **values: Any) -> FieldError:
        zh, en = _MESSAGES[kind]
        template = en if self.language == "en" else zh
        label = self.label(name) if name else ""
        return FieldError(
            field="inputs" if name is None else f"inputs.{name}",
            message=template.format(label=label, **values),
            type="string_pattern_mismatch" if kind == "upload" else kind,
        )


def _alternatives(branches: list[dict[str, Any]], language: str) -> str:
    def names(branch: dict[str, Any]) -> list[str]:
        found = list(branch.get("required", []))
        for keyword in ("oneOf", "anyOf"):
            for inner in branch.get(keyword, []):
                found.extend(names(inner))
        return found

    joiner = "；或 " if language != "en" else "; or "
    return joiner.join("/".join(names(branch)) for branch in branches)


def _field_errors(
    failures: list[JsonSchemaValueException], schema: dict[str, Any], inputs: Any, language: str
) -> list[FieldError]:
    describe = _Describer(schema, language)
    if not isinstance(inputs, dict):
        return [describe.error(None, "dict_type")]
    errors: list[FieldError] = []
    for failure in failures:
        rule = failure.rule or ""
        definition = failure.rule_definition
        path = failure.path[1:]  # drop the root name, "data"
        name = path[0] if path else None
        if rule == "required":
            errors += [describe.error(n, "missing") for n in definition if n not in inputs]
        elif rule == "additionalProperties":
            extra = [n for n in inputs if n not in describe.properties]
            errors += [describe.error(n, "extra_forbidden") for n in extra]
        elif rule in ("oneOf", "anyOf"):
            values = _alternatives(definition, language)
            errors.append(describe.error(name, _TYPES[rule], values=values))
        elif rule == "type":
            errors.append(describe.error(name, _TYPE_OF_JSON_TYPE.get(definition, "dict_type")))
        elif rule == "maxLength" and describe.properties.get(name or "", {}).get("x-upload"):
            errors.append(describe.error(name, "upload"))  # a URL, most likely
        elif rule == "enum":
            shown = "、" if language != "en" else ", "
            values = shown.join(json.dumps(v, ensure_ascii=False).strip('"') for v in definition)
            errors.append(describe.error(name, "enum", values=values))
        else:
            errors.append(describe.error(name, _TYPES.get(rule, "value_error"), limit=definition))
    unique = {(error.field, error.type): error for error in errors}
    return list(unique.values())


def upload_fields(form: FormSchema, inputs: dict[str, object]) -> dict[str, str]:
    """The inputs that name uploads (`x-upload: true` in the form): field → upload id."""
    properties = form.json_schema.get("properties", {})
    return {
        name: value
        for name, value in inputs.items()
        if isinstance(value, str) and properties.get(name, {}).get("x-upload") is True
    }
