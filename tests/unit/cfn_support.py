"""The SAM template as CloudFormation would deploy it, for one set of parameters: translated by
aws-sam-translator (what `sam deploy` submits), then its conditions evaluated, the resources
they exclude removed and every `Fn::If` replaced by its branch. Enough of CloudFormation's
condition language for template.yaml; anything else it meets is an error, not a guess."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

#: Stands for `AWS::NoValue` while branches are chosen: removed from maps and lists.
_NO_VALUE = object()


def translated(
    path: Path, parameters: dict[str, str], *, region: str = "eu-west-1"
) -> dict[str, Any]:
    """`path` translated to plain CloudFormation for `region` with `parameters` (the rest at
    their defaults), its conditions applied and its mappings looked up."""
    document = yaml_parse(path.read_text())
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artefacts/{properties[key].strip('/')}.zip"
    # A session with a region (no credentials, no call): the translator asks it for one. It
    # asks IAM for managed policies only by name, which template.yaml never lists.
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=region))
    output = translator.translate(document, parameter_values=dict(parameters))
    values = {
        name: parameters.get(name, spec.get("Default"))
        for name, spec in (output.get("Parameters") or {}).items()
    }
    return _applied(output, values)


def broken_rules(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The `AssertDescription` of every rule assertion that `parameters` (the rest at their
    defaults) break: CloudFormation refuses such a deploy before creating anything."""
    values = {
        name: parameters.get(name, spec.get("Default"))
        for name, spec in (template.get("Parameters") or {}).items()
    }

    def no_condition(name: str) -> bool:
        raise ValueError(f"a rule cannot name the condition {name}")

    return [
        assertion["AssertDescription"]
        for rule in (template.get("Rules") or {}).values()
        if _evaluate(rule.get("RuleCondition", True), values, no_condition)
        for assertion in rule["Assertions"]
        if not _evaluate(assertion["Assert"], values, no_condition)
    ]


def looked_up(node: Any, mappings: dict[str, Any]) -> Any:
    """`node`, or the value its `Fn::FindInMap` of literal keys names."""
    if isinstance(node, dict) and set(node) == {"Fn::FindInMap"}:
        name, top, second = node["Fn::FindInMap"]
        return mappings[name][top][second]
    return node


def _applied(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    conditions: dict[str, bool] = {}
    definitions = template.get("Conditions") or {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(_evaluate(definitions[name], values, condition))
        return conditions[name]

    result = copy.deepcopy(template)
    result["Resources"] = {
        logical_id: _chosen(resource, condition)
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or condition(resource["Condition"])
    }
    result["Outputs"] = {
        name: _chosen(output, condition)
        for name, output in (template.get("Outputs") or {}).items()
        if "Condition" not in output or condition(output["Condition"])
    }
    return result


def _evaluate(node: Any, values: dict[str, Any], condition: Any) -> Any:
    """The value of a condition's expression over the parameters' values."""
    if not isinstance(node, dict):
        return node
    ((function, argument),) = node.items()
    match function:
        case "Fn::Equals":
            left, right = (_evaluate(part, values, condition) for part in argument)
            return str(left) == str(right)
        case "Fn::Not":
            return not _evaluate(argument[0], values, condition)
        case "Fn::And":
            return all(_evaluate(part, values, condition) for part in argument)
        case "Fn::Or":
            return any(_evaluate(part, values, condition) for part in argument)
        case "Condition":
            return condition(argument)
        case "Ref":
            return values[argument]
        case "Fn::Join":
            separator, parts = argument
            resolved = _evaluate(parts, values, condition)
            return separator.join(resolved if isinstance(resolved, list) else resolved.split(","))
    raise ValueError(f"{function} is not evaluated in a condition here")


def _chosen(node: Any, condition: Any) -> Any:
    """`node` with every `Fn::If` replaced by the branch its condition picks."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _chosen(when_true if condition(name) else when_false, condition)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        items = {key: _chosen(value, condition) for key, value in node.items()}
        return {key: value for key, value in items.items() if value is not _NO_VALUE}
    if isinstance(node, list):
        chosen = [_chosen(value, condition) for value in node]
        return [value for value in chosen if value is not _NO_VALUE]
    return node
