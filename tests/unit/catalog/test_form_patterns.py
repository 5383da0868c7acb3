"""Operator-supplied `pattern`s (ReDoS): refused at write time unless they run in bounded
time on a bounded value; at match time the engine gives up instead of hanging."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import pytest

from retouch.catalog import forms, patterns
from retouch.catalog.errors import ConfigInvalid, InputsInvalid
from retouch.catalog.form_rules import check_form_schema
from retouch.catalog.forms import validate_inputs
from retouch.catalog.schemas import FormSchema
from tests.catalog_support import seed_feature, upload_id

CATASTROPHIC = "^(a|a)*$"
HOSTILE_VALUE = "a" * 64 + "!"  # 2^64 ways to fail under `re`: it would never return


def form_with(code: dict[str, Any]) -> dict[str, Any]:
    """The seeded cutout form plus a string field `code`."""
    form = copy.deepcopy(seed_feature("cutout").form)
    form["properties"]["code"] = {"type": "string", **code}
    return form


def stored(schema: dict[str, Any], version: int) -> FormSchema:
    return FormSchema(
        feature_key="patterns",
        version=version,
        json_schema=schema,
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


def form_errors(schema: dict[str, Any], language: str = "en") -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as caught:
        check_form_schema(schema, language=language)
    assert caught.value.error_code.status == 422
    assert caught.value.error_code.code == "VALIDATION_FAILED"
    return {error.field: error.type for error in caught.value.errors}


def input_errors(form: FormSchema, code: object) -> dict[str, str]:
    with pytest.raises(InputsInvalid) as caught:
        validate_inputs(form=form, inputs={"image": upload_id(), "code": code}, language="en")
    return {error.field: error.type for error in caught.value.errors}


def test_the_catastrophic_pattern_is_refused_at_write_time_naming_the_field() -> None:
    form = form_with({"pattern": CATASTROPHIC, "maxLength": 64})

    assert form_errors(form) == {"json_schema.properties.code.pattern": "pattern_backtracking"}


@pytest.mark.parametrize(
    "pattern",
    [
        "^(a|a)*$",
        "^(a+)+$",
        r"^(\w+\s?)*$",
        "^([a-z0-9]+-)*[a-z0-9]+$",
        "^((a|b)c)*$",
        "^(a?)*$",
        "^(?:a|aa)+$",
        "^(a|a){30}$",
    ],
)
def test_a_repeated_group_holding_a_quantifier_or_alternation_is_refused(pattern: str) -> None:
    assert patterns.refusal(pattern) == "pattern_backtracking"


@pytest.mark.parametrize(
    "pattern",
    [r"^(a)\1$", "^(?=a)a$", "^(?<!a)b$", "(?P<x>a)(?P=x)", "(?i)abc", "(?>a+)b", "(?:ab){e<=1}"],
)
def test_backreferences_lookarounds_and_other_constructs_are_refused(pattern: str) -> None:
    assert patterns.refusal(pattern) == "pattern_construct"


@pytest.mark.parametrize("pattern", ["([", "a{5000}", "a" * 600, 42])
def test_an_invalid_overlong_or_non_string_pattern_is_refused(pattern: object) -> None:
    assert patterns.refusal(pattern) == "pattern"


@pytest.mark.parametrize(
    "pattern",
    [
        r"^upl_[A-Za-z0-9_-]{22}$",
        r"^[A-Z]{3}-\d{4}$",
        "^(ab)*$",
        "^(jpg|png)?$",
        "^(?:red|green|blue)$",
        r"^(?P<year>\d{4})-\d{2}$",
        r"^[{(]+\{x\}$",
    ],
)
def test_patterns_without_ambiguous_repetition_are_accepted(pattern: str) -> None:
    assert patterns.refusal(pattern) is None


@pytest.mark.parametrize("bound", [{}, {"maxLength": 1_000_000}, {"maxLength": "64"}])
def test_a_pattern_without_a_bounded_max_length_is_refused(bound: dict[str, Any]) -> None:
    form = form_with({"pattern": "^[a-z]+$", **bound})

    errors = form_errors(form)

    assert errors["json_schema.properties.code.maxLength"] == "pattern_max_length"


def test_the_refusals_are_explained_in_chinese_too() -> None:
    form = form_with({"pattern": CATASTROPHIC})

    with pytest.raises(ConfigInvalid) as caught:
        check_form_schema(form, language="zh-CN")

    messages = {error.field: error.message for error in caught.value.errors}
    assert "回溯" in messages["json_schema.properties.code.pattern"]
    assert "maxLength" in messages["json_schema.properties.code.maxLength"]


def test_a_good_pattern_still_validates_inputs() -> None:
    schema = form_with({"pattern": r"^[A-Z]{3}-\d{4}$", "maxLength": 8})
    form = stored(check_form_schema(schema), version=1)

    validate_inputs(form=form, inputs={"image": upload_id(), "code": "ABC-1234"}, language="en")
    assert input_errors(form, "abc-1234") == {"inputs.code": "string_pattern_mismatch"}


def test_a_pattern_searches_as_json_schema_says() -> None:
    schema = form_with({"pattern": "[0-9]", "maxLength": 8})
    form = stored(check_form_schema(schema), version=2)

    validate_inputs(form=form, inputs={"image": upload_id(), "code": "ab1cd"}, language="en")


def test_a_value_longer_than_max_length_never_reaches_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[int] = []

    def recording(pattern: object, value: str) -> bool:
        runs.append(len(value))
        return True

    monkeypatch.setattr(forms, "matches", recording)
    schema = form_with({"pattern": "^[a-z]+$", "maxLength": 64})
    form = stored(check_form_schema(schema), version=3)

    assert input_errors(form, "a" * 100_000) == {"inputs.code": "string_too_long"}
    assert 100_000 not in runs


def test_a_stored_catastrophic_pattern_refuses_a_hostile_value_instead_of_hanging() -> None:
    # A form stored before these rules: no write-time check ever saw it.
    legacy = stored(form_with({"pattern": CATASTROPHIC}), version=4)

    assert input_errors(legacy, HOSTILE_VALUE) == {"inputs.code": "string_pattern_mismatch"}


def test_the_engine_gives_up_on_a_hostile_value_rather_than_answering() -> None:
    compiled = patterns.compile_pattern(CATASTROPHIC)

    assert patterns.matches(compiled, "a" * 8) is True
    assert patterns.matches(compiled, HOSTILE_VALUE) is False
