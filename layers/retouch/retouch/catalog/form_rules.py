"""The forms operators may store: a small subset of JSON Schema draft 2020-12.

The subset means the same in every draft the validator implements (4-7) and in 2020-12, and
cannot reach outside the document: no `$ref`, no `format`, no conditionals. Every problem is
collected and reported at once (`ConfigInvalid`, 422 VALIDATION_FAILED).
"""

from __future__ import annotations

import json
import re
from typing import Any

from retouch.catalog.forms import compile_form
from retouch.catalog.patterns import MAX_VALUE_LENGTH, refusal
from retouch.catalog.schemas import SCHEMA_DIALECT, UPLOAD_ID_PATTERN
from retouch.catalog.validation import Collector, is_count, is_number, string_list

MAX_FORM_BYTES = 32_768
MAX_FIELDS = 32

_ANNOTATIONS = {"title", "description", "x-title-zh", "x-description-zh"}
_ROOT_KEYWORDS = _ANNOTATIONS | {
    "$schema",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "oneOf",
    "anyOf",
}
_FIELD_KEYWORDS = _ANNOTATIONS | {
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "x-upload",
}
_BRANCH_KEYWORDS = _ANNOTATIONS | {"required", "oneOf", "anyOf"}
_FIELD_TYPES = {"string", "integer", "number", "boolean"}
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _check_keywords(node: dict[str, Any], path: str, allowed: set[str], out: Collector) -> None:
    """Refuse keywords outside `allowed`; annotations must be strings."""
    for keyword in node.keys() - allowed:
        out.add(f"{path}.{keyword}", "unsupported_keyword")
    for keyword in _ANNOTATIONS & node.keys():
        if not isinstance(node[keyword], str):
            out.add(f"{path}.{keyword}", "text")


def _check_field(node: object, path: str, out: Collector) -> None:
    if not isinstance(node, dict):
        out.add(path, "not_object")
        return
    _check_keywords(node, path, _FIELD_KEYWORDS, out)
    if node.get("type") not in _FIELD_TYPES and ("type" in node or "enum" not in node):
        out.add(f"{path}.type", "field_type")
    if "enum" in node:
        values = node["enum"]
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str | int | float | bool) for v in values)
            or len({json.dumps(v) for v in values}) != len(values)
        ):
            out.add(f"{path}.enum", "enum")
    for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if keyword in node and not is_number(node[keyword]):
            out.add(f"{path}.{keyword}", "number")
    for keyword in ("minLength", "maxLength"):
        if keyword in node and not is_count(node[keyword]):
            out.add(f"{path}.{keyword}", "count")
    if "pattern" in node:
        _check_pattern(node, path, out)
    if "x-upload" in node:
        if not isinstance(node["x-upload"], bool):
            out.add(f"{path}.x-upload", "flag")
        elif node["x-upload"] and (
            node.get("type") != "string" or node.get("pattern") != UPLOAD_ID_PATTERN
        ):
            out.add(path, "upload")


def _check_pattern(node: dict[str, Any], path: str, out: Collector) -> None:
    """A pattern the engine runs in bounded time (`patterns.refusal`), on a bounded value."""
    refused = refusal(node["pattern"])
    if refused is not None:
        out.add(f"{path}.pattern", refused)
    max_length = node.get("maxLength")
    if not (
        is_count(max_length) and isinstance(max_length, int) and max_length <= MAX_VALUE_LENGTH
    ):
        out.add(f"{path}.maxLength", "pattern_max_length")


def _check_branches(node: dict[str, Any], path: str, fields: set[str], out: Collector) -> None:
    """`oneOf` / `anyOf` alternatives that may only require declared fields."""
    for keyword in ("oneOf", "anyOf"):
        if keyword not in node:
            continue
        branches = node[keyword]
        if not isinstance(branches, list) or not branches:
            out.add(f"{path}.{keyword}", "branches")
            continue
        for index, branch in enumerate(branches):
            where = f"{path}.{keyword}[{index}]"
            if not isinstance(branch, dict):
                out.add(where, "not_object")
                continue
            _check_keywords(branch, where, _BRANCH_KEYWORDS, out)
            _check_required(branch, where, fields, out)
            _check_branches(branch, where, fields, out)


def _check_required(node: dict[str, Any], path: str, fields: set[str], out: Collector) -> None:
    if "required" not in node:
        return
    required = node["required"]
    if not string_list(required):
        out.add(f"{path}.required", "string_list")
    elif not set(required) <= fields:
        out.add(f"{path}.required", "unknown_field")


def check_form_schema(schema: object, *, language: str = "en") -> dict[str, Any]:
    """Return `schema` if it is a form of the allowed subset; else raise ConfigInvalid.

    The subset: an object (`additionalProperties: false`) of up to 32 flat fields, each a
    string, integer, number or boolean with enum, bounds, lengths and pattern (with a
    `maxLength` of at most MAX_VALUE_LENGTH; `patterns.refusal`); `required`;
    `oneOf` / `anyOf` alternatives of `required` sets; annotations `title`, `description`
    (English) and `x-title-zh`, `x-description-zh`; `x-upload: true` marks an upload id.
    """
    out = Collector(language)
    path = "json_schema"  # the admin request's field (`FormCreate.json_schema`)
    if not isinstance(schema, dict):
        out.fail(path, "not_object")
    if len(json.dumps(schema)) > MAX_FORM_BYTES:
        out.fail(path, "too_large")
    _check_keywords(schema, path, _ROOT_KEYWORDS, out)
    if schema.get("$schema", SCHEMA_DIALECT) != SCHEMA_DIALECT:
        out.add(f"{path}.$schema", "dialect")
    if schema.get("type") != "object":
        out.add(f"{path}.type", "root_type")
    if schema.get("additionalProperties") is not False:
        out.add(f"{path}.additionalProperties", "closed")
    properties = schema.get("properties")
    fields: set[str] = set()
    if not isinstance(properties, dict) or not properties:
        out.add(f"{path}.properties", "no_fields")
    elif len(properties) > MAX_FIELDS:
        out.add(f"{path}.properties", "too_many_fields")
    else:
        for name, field in properties.items():
            if not _FIELD_NAME.fullmatch(name):
                out.add(f"{path}.properties.{name}", "field_name")
            _check_field(field, f"{path}.properties.{name}", out)
        fields = set(properties)
    _check_required(schema, path, fields, out)
    _check_branches(schema, path, fields, out)
    out.raise_if_any()
    # The subset is also one the validator must accept (e.g. its regex dialect).
    try:
        compile_form(schema)
    except ValueError:
        out.fail(path, "invalid_schema")
    return schema
