"""What operators may store: the form subset, pipelines, provider configs; seed properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from retouch.catalog.errors import ConfigInvalid
from retouch.catalog.form_rules import check_form_schema
from retouch.catalog.schemas import ProviderWrite
from retouch.catalog.validation import check_pipeline, check_provider
from tests.catalog_support import load_seed_catalog, load_seed_plans, seed_feature

PROVIDERS = {"runninghub", "hunyuan", "tencent", "local", "simulator"}


def form_errors(schema: Any, language: str = "en") -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as caught:
        check_form_schema(schema, language=language)
    assert caught.value.error_code.status == 422
    return {error.field: error.type for error in caught.value.errors}


def eraser_form() -> dict[str, Any]:
    return copy.deepcopy(seed_feature("eraser").form)


def test_a_remote_ref_is_refused() -> None:
    form = eraser_form()
    form["properties"]["mask"] = {"$ref": "https://evil.example/schema.json"}

    assert form_errors(form) == {
        "json_schema.properties.mask.$ref": "unsupported_keyword",
        "json_schema.properties.mask.type": "field_type",
    }


def test_format_and_conditionals_are_refused() -> None:
    form = eraser_form()
    form["properties"]["mask"]["format"] = "uri"
    form["if"] = {"required": ["mask"]}
    form["$defs"] = {}

    assert form_errors(form) == {
        "json_schema.properties.mask.format": "unsupported_keyword",
        "json_schema.if": "unsupported_keyword",
        "json_schema.$defs": "unsupported_keyword",
    }


def test_a_form_must_be_a_closed_object_of_the_2020_12_dialect() -> None:
    form = eraser_form()
    form["$schema"] = "http://json-schema.org/draft-04/schema#"
    form["type"] = "array"
    del form["additionalProperties"]

    assert form_errors(form) == {
        "json_schema.$schema": "dialect",
        "json_schema.type": "root_type",
        "json_schema.additionalProperties": "closed",
    }


def test_malformed_keyword_values_are_reported_per_field() -> None:
    form = eraser_form()
    form["properties"]["dilate"]["maximum"] = "64"
    form["properties"]["mask"]["pattern"] = "(["
    form["properties"]["extra"] = {"type": "object"}
    form["properties"]["mode"] = {"enum": []}
    form["required"] = ["image", "nope"]

    assert form_errors(form) == {
        "json_schema.properties.dilate.maximum": "number",
        "json_schema.properties.mask.pattern": "pattern",
        "json_schema.properties.mask": "upload",
        "json_schema.properties.extra.type": "field_type",
        "json_schema.properties.mode.enum": "enum",
        "json_schema.required": "unknown_field",
    }


@pytest.mark.parametrize("schema", [None, [], "form", {}])
def test_a_form_that_is_not_a_schema_object_is_refused(schema: Any) -> None:
    assert form_errors(schema)


def test_messages_follow_the_language() -> None:
    form = eraser_form()
    form["format"] = "x"

    with pytest.raises(ConfigInvalid) as caught:
        check_form_schema(form, language="zh-CN")

    assert caught.value.errors[0].message == "不支持该关键字"


def test_an_upload_field_must_carry_the_upload_id_pattern() -> None:
    form = eraser_form()
    form["properties"]["mask"]["pattern"] = "^https?://"

    assert form_errors(form) == {"json_schema.properties.mask": "upload"}


def pipeline_errors(steps: Any) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as caught:
        check_pipeline(steps, providers=PROVIDERS)
    return {error.field: error.type for error in caught.value.errors}


def generate(*providers: str, **settings: Any) -> dict[str, Any]:
    return {"step": "generate", "providers": list(providers), **settings}


def test_a_pipeline_of_known_steps_and_providers_is_accepted() -> None:
    steps = [{"step": "prepare"}, generate("runninghub", "local", timeout_s=60), {"step": "store"}]

    checked = check_pipeline(steps, providers=PROVIDERS)

    assert [step.step for step in checked] == ["prepare", "generate", "store"]


def test_unknown_steps_and_providers_are_named() -> None:
    steps = [{"step": "prepare"}, generate("runninghub", "midjourney"), {"step": "finalize"}]

    assert pipeline_errors(steps) == {
        "steps[1].providers[1]": "unknown_provider",
        "steps[2].step": "unknown_step",
    }


def test_steps_must_not_repeat_or_run_backwards() -> None:
    steps = [generate("local"), {"step": "prepare"}, {"step": "store"}, {"step": "store"}]

    assert pipeline_errors(steps) == {"steps[1].step": "step_order", "steps[3].step": "step_order"}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], {"steps": "no_steps"}),
        ([{"step": "prepare"}, {"step": "store"}], {"steps": "no_steps"}),
        ([generate()], {"steps[0].providers": "providers_required"}),
        ([generate("local", "local")], {"steps[0].providers": "providers_required"}),
        (
            [{"step": "prepare", "providers": ["local"]}, generate("local")],
            {"steps[0].providers": "providers_not_allowed"},
        ),
        (
            [generate("local", timeout_s=0, retries=9)],
            {
                "steps[0].timeout_s": "timeout",
                "steps[0].retries": "retries",
            },
        ),
        ([generate("local", script="rm -rf /")], {"steps[0].script": "step_keys"}),
    ],
)
def test_malformed_pipelines_are_refused(steps: Any, expected: dict[str, str]) -> None:
    assert pipeline_errors(steps) == expected


def provider(**changes: Any) -> ProviderWrite:
    base = {"key": "runninghub", "kind": "runninghub", "concurrency_limit": 5}
    return ProviderWrite.model_validate({**base, **changes})


@pytest.mark.parametrize(
    "reference",
    [
        "secretsmanager:retouch/providers/runninghub",
        "ssm:/retouch/providers/runninghub",
        "env:RETOUCH_SECRET_RUNNINGHUB",
    ],
)
def test_a_reference_to_the_providers_own_secret_is_accepted(reference: str) -> None:
    assert check_provider(provider(credential_ref=reference)).credential_ref == reference


@pytest.mark.parametrize(
    "reference",
    [
        # The service's own secrets.
        "secretsmanager:prod/retouch/jwt-keys",
        "secretsmanager:retouch/jwt-keys",
        "secretsmanager:retouch/db-password",
        "ssm:/retouch/db-password",
        # Another provider's secret, in each store.
        "secretsmanager:retouch/providers/tencent",
        "ssm:/retouch/providers/hunyuan",
        "env:RETOUCH_SECRET_TENCENT",
        # Near misses: a longer name, a sub-path, the old shared names.
        "secretsmanager:retouch/providers/runninghub2",
        "secretsmanager:retouch/providers/runninghub/../jwt-keys",
        "ssm:/retouch/providers/runninghub/extra",
        "env:RETOUCH_SECRET_RUNNINGHUB_OLD",
        "secretsmanager:retouch/runninghub",
        "env:RETOUCH_SECRET_TENCENTCLOUD",
    ],
)
def test_a_reference_to_any_other_secret_is_refused(reference: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        check_provider(provider(credential_ref=reference))

    assert [(e.field, e.type) for e in caught.value.errors] == [
        ("credential_ref", "foreign_secret")
    ]


@pytest.mark.parametrize(
    "secret",
    [
        "3f9a8c1d2e7b4a6f9c0d1e2f3a4b5c6d",
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "env:HOME",
        # Our own settings are not secrets a provider may borrow.
        "env:RETOUCH_DB_PASSWORD",
        "x",
    ],
)
def test_a_raw_secret_is_refused_and_not_echoed(secret: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        check_provider(provider(credential_ref=secret))

    assert [(e.field, e.type) for e in caught.value.errors] == [("credential_ref", "raw_secret")]
    assert secret not in str(caught.value) and secret not in caught.value.errors[0].message


def test_an_endpoint_carrying_credentials_is_refused() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        check_provider(provider(endpoint="https://user:pa55@api.example.com/?key=abc"))

    assert [(e.field, e.type) for e in caught.value.errors] == [("endpoint", "endpoint")]


def test_seed_pipelines_are_valid_and_every_chain_ends_with_local() -> None:
    catalog = load_seed_catalog()
    keys = {p.key for p in catalog.providers}
    for feature in catalog.features:
        steps = check_pipeline(feature.pipeline, providers=keys)
        chains = [step.providers for step in steps if step.providers]
        assert chains and all(chain[-1] == "local" for chain in chains), feature.key


def test_seed_providers_hold_references_only() -> None:
    catalog = load_seed_catalog()

    assert {p.kind for p in catalog.providers} == PROVIDERS
    for item in catalog.providers:
        check_provider(item)


def test_the_free_plan_affords_two_tries_of_every_feature() -> None:
    free = load_seed_plans()["free"]
    features = load_seed_catalog().features

    assert all("free" in feature.allowed_plans for feature in features)
    assert sum(2 * feature.cost for feature in features) <= free["monthly_credits"]


def test_allowed_plans_name_seeded_plans() -> None:
    plans = set(load_seed_plans())

    for feature in load_seed_catalog().features:
        assert set(feature.allowed_plans) <= plans
