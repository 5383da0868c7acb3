"""The RunningHub adapter's pure parts: the options an operator writes, the code mapping,
the `nodeInfoList` it builds, and its import cost."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from retouch.providers.port import (
    ProviderBusy,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
)
from retouch.providers.runninghub import RunningHubProvider, code_error, node_errors, node_info_list
from retouch.providers.runninghub_options import AppTask, RunningHubOptions, WorkflowTask

WORKFLOW: dict[str, Any] = {"mode": "workflow", "workflow_id": "185"}


def options(**feature: Any) -> RunningHubOptions:
    return RunningHubOptions.model_validate({"features": {"eraser": {**WORKFLOW, **feature}}})


def test_the_mode_chooses_the_task_kind_and_its_id_field() -> None:
    app = RunningHubOptions.model_validate({"features": {"x": {"mode": "app", "webapp_id": 9}}})

    assert isinstance(options().features["eraser"], WorkflowTask)
    assert isinstance(app.features["x"], AppTask)


@pytest.mark.parametrize(
    "feature",
    [
        {"mode": "app", "workflow_id": "185"},  # an app needs its webapp_id
        {"mode": "workflow"},  # a workflow needs its workflow_id
        {"mode": "comfy", "workflow_id": "185"},
        {**WORKFLOW, "api_key": "secret"},  # no stray fields (and no secrets)
        {**WORKFLOW, "images": {"image": {"node_id": "1"}}},
        {"mode": "app", "webapp_id": 0},
    ],
)
def test_options_an_operator_gets_wrong_are_refused(feature: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RunningHubOptions.model_validate({"features": {"eraser": feature}})


@pytest.mark.parametrize("hosts", [[], ["https://cdn.example.com"], ["a b.com"], ["."]])
def test_result_hosts_are_host_names_or_dot_domains(hosts: list[str]) -> None:
    with pytest.raises(ValidationError):
        RunningHubOptions(result_hosts=tuple(hosts))


def test_result_hosts_default_to_the_endpoint_host_or_are_lowered() -> None:
    named = RunningHubOptions(result_hosts=("CDN.RunningHub.cn", ".rh-oss.com"))

    assert RunningHubProvider(
        "https://www.runninghub.cn/", "k", RunningHubOptions()
    ).result_hosts == {"www.runninghub.cn"}
    assert RunningHubProvider("https://x", "k", named).result_hosts == {
        "cdn.runninghub.cn",
        ".rh-oss.com",
    }


def test_every_field_is_documented_for_operators() -> None:
    schema = RunningHubOptions.model_json_schema()
    models = [schema, *schema["$defs"].values()]

    undocumented = [
        (model.get("title"), name)
        for model in models
        for name, prop in model["properties"].items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_the_node_info_list_has_constants_then_present_images_and_params() -> None:
    task = options(
        images={"image": {"node_id": "1", "field_name": "image"},
                "mask": {"node_id": "2", "field_name": "image"}},
        params={"strength": {"node_id": "3", "field_name": "denoise"}},
        constants=[{"node_id": "4", "field_name": "text", "field_value": "remove"}],
    ).features["eraser"]  # fmt: skip
    images, params = {"image": "https://s/img"}, {"strength": 0.5, "other": 1}

    assert node_info_list(task, images, params) == [
        {"nodeId": "4", "fieldName": "text", "fieldValue": "remove"},
        {"nodeId": "1", "fieldName": "image", "fieldValue": "https://s/img"},
        {"nodeId": "3", "fieldName": "denoise", "fieldValue": 0.5},
    ]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (421, ProviderBusy),
        (415, ProviderBusy),
        (301, ProviderPermanent),
        (433, ProviderPermanent),
        (802, ProviderUnavailable),
        (812, ProviderUnavailable),
        (380, ProviderUnavailable),
        (500, ProviderRetryable),
        (12345, ProviderRetryable),
    ],
)
def test_codes_map_to_the_port_errors(code: int, kind: type) -> None:
    assert type(code_error("/p", code, "msg")) is kind


@pytest.mark.parametrize(
    ("tips", "refused"),
    [
        ('{"node_errors": {"3": {"errors": ["bad"]}}}', {"3": {"errors": ["bad"]}}),
        ('{"node_errors": {}}', None),
        ("not json", None),
        (None, None),
        ({"node_errors": ["x"]}, ["x"]),
    ],
)
def test_node_errors_are_read_from_stringified_prompt_tips(tips: object, refused: object) -> None:
    assert node_errors(tips) == refused
