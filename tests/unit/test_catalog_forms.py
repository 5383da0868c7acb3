"""Form validation of task inputs against the seeded forms (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.catalog import forms
from retouch.catalog.errors import InputsInvalid
from retouch.catalog.form_rules import check_form_schema
from retouch.catalog.forms import validate_inputs
from retouch.core.errors import ValidationFailed
from tests.catalog_support import form_of, load_seed_catalog, upload_id, valid_inputs
from tests.unit.conftest import declare_isolated
from tests.unit.processes import Started

FEATURES = ["cutout", "eraser", "outfit", "faceswap", "outpaint"]


def errors_of(feature: str, inputs: Any, language: str = "en") -> dict[str, tuple[str, str]]:
    with pytest.raises(InputsInvalid) as caught:
        validate_inputs(form=form_of(feature), inputs=inputs, language=language)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.error_code.code == "VALIDATION_FAILED"
    return {error.field: (error.type, error.message) for error in caught.value.errors}


def test_seed_holds_the_five_features() -> None:
    assert sorted(feature.key for feature in load_seed_catalog().features) == sorted(FEATURES)


@pytest.mark.parametrize("feature", FEATURES)
def test_every_seeded_form_is_of_the_allowed_subset(feature: str) -> None:
    form = form_of(feature).json_schema
    assert check_form_schema(form) == form


@pytest.mark.parametrize("feature", FEATURES)
def test_every_seeded_form_accepts_a_realistic_input(feature: str) -> None:
    inputs = valid_inputs()[feature]

    assert validate_inputs(form=form_of(feature), inputs=inputs, language="en") == inputs


@pytest.mark.parametrize("feature", FEATURES)
def test_every_seeded_form_names_uploads_by_id_never_by_url(feature: str) -> None:
    inputs = {**valid_inputs()[feature], "image": "https://evil.example/photo.jpg"}

    errors = errors_of(feature, inputs)

    assert errors["inputs.image"][0] == "string_pattern_mismatch"
    assert "upl_" in errors["inputs.image"][1]


def test_eraser_without_mask_reports_the_mask_in_english_and_chinese() -> None:
    inputs = {"image": upload_id()}

    english = errors_of("eraser", inputs, "en")
    chinese = errors_of("eraser", inputs, "zh-CN")

    assert english == {"inputs.mask": ("missing", "Mask is required")}
    assert chinese == {"inputs.mask": ("missing", "涂抹区域为必填项")}


def test_every_broken_field_is_reported_at_once() -> None:
    inputs = {"image": "upl_short", "garment_type": "hat", "colour": "red"}

    errors = errors_of("outfit", inputs)

    assert {field: kind for field, (kind, _) in errors.items()} == {
        "inputs.image": "string_pattern_mismatch",
        "inputs.garment": "missing",
        "inputs.garment_type": "enum",
        "inputs.colour": "extra_forbidden",
    }
    assert errors["inputs.garment_type"][1] == "Garment type must be one of: upper, lower, full"
    assert errors_of("outfit", inputs, "zh-CN")["inputs.garment_type"][1] == (
        "服装类型必须是以下之一：upper、lower、full"
    )


def test_bounds_and_types_are_reported_per_field() -> None:
    errors = errors_of("eraser", {"image": upload_id(), "mask": 42, "dilate": 65})

    assert errors["inputs.mask"][0] == "string_type"
    assert errors["inputs.dilate"] == ("less_than_equal", "Mask growth (px) must be at most 64")


def test_a_boolean_is_not_an_integer() -> None:
    errors = errors_of("eraser", {"image": upload_id(), "mask": upload_id(), "dilate": True})

    assert errors["inputs.dilate"][0] == "int_type"


@pytest.mark.parametrize(
    "inputs",
    [
        {"ratio": "4:3"},
        {"top": 0, "left": 512},
        {"right": 2048},
    ],
)
def test_outpaint_takes_a_ratio_or_side_expansion(inputs: dict[str, Any]) -> None:
    inputs = {"image": upload_id(), **inputs}

    assert validate_inputs(form=form_of("outpaint"), inputs=inputs, language="en") == inputs


@pytest.mark.parametrize("extra", [{}, {"ratio": "1:1", "top": 100}])
def test_outpaint_refuses_neither_or_both(extra: dict[str, Any]) -> None:
    errors = errors_of("outpaint", {"image": upload_id(), **extra})

    assert errors == {
        "inputs": ("one_of", "give exactly one of: ratio; or top/bottom/left/right"),
    }
    assert errors_of("outpaint", {"image": upload_id(), **extra}, "zh-CN")["inputs"][0] == "one_of"


def test_outpaint_side_out_of_bounds_names_the_side() -> None:
    errors = errors_of("outpaint", {"image": upload_id(), "left": -1, "ratio": "2:1"})

    assert errors["inputs.left"][0] == "greater_than_equal"
    assert errors["inputs.ratio"][0] == "enum"


@pytest.mark.parametrize("inputs", [None, [], "image", 3])
def test_inputs_that_are_not_an_object_are_one_error(inputs: Any) -> None:
    errors = errors_of("cutout", inputs)

    assert errors == {"inputs": ("dict_type", "the inputs must be a JSON object")}


def test_a_form_version_is_compiled_once() -> None:
    forms._compiled.clear()
    form = form_of("cutout", version=7)
    for _ in range(3):
        validate_inputs(form=form, inputs=valid_inputs()["cutout"], language="en")

    assert list(forms._compiled) == [("cutout", 7)]


def test_another_schema_under_a_reused_number_is_compiled_anew() -> None:
    forms._compiled.clear()
    validate_inputs(
        form=form_of("cutout", version=1), inputs=valid_inputs()["cutout"], language="en"
    )
    # a different database (tests, a restore) may hold another schema under the same number
    eraser_as_cutout = form_of("eraser").model_copy(update={"feature_key": "cutout"})

    with pytest.raises(InputsInvalid):
        validate_inputs(form=eraser_as_cutout, inputs=valid_inputs()["cutout"], language="en")


declare_isolated(
    "catalog-forms:imports",
    "import sys, retouch.catalog.service, retouch.catalog.forms, retouch.catalog.form_rules; "
    "sys.exit('fastjsonschema' in sys.modules or 'regex' in sys.modules)",
    module=__name__,
    env={"PYTHONPATH": "layers/retouch"},
)


def test_importing_the_catalog_service_does_not_import_the_validator(background: Started) -> None:
    result = background.result("catalog-forms:imports")

    assert result.returncode == 0


@pytest.mark.parametrize("feature", FEATURES)
def test_every_seeded_form_names_each_missing_field_in_both_languages(feature: str) -> None:
    required = form_of(feature).json_schema["required"]

    english = errors_of(feature, {}, "en")
    chinese = errors_of(feature, {}, "zh-CN")

    for name in required:
        assert english[f"inputs.{name}"][0] == "missing"
        assert english[f"inputs.{name}"][1].endswith(" is required")
        assert chinese[f"inputs.{name}"][0] == "missing"
        assert chinese[f"inputs.{name}"][1].endswith("为必填项")
