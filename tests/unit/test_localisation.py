"""Every word of a problem is in the negotiated language: zh-CN by default, en on request,
en (said in Content-Language) for a language the API does not speak."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import retouch
from retouch.auth.schemas import RegisterRequest
from retouch.core.errors import REGISTRY, AppError, FieldError, ValidationFailed
from retouch.core.messages import DETAILS, localize
from retouch.core.ratelimit import MemoryRateLimiter
from retouch.core.validation_messages import FALLBACK, VALIDATION
from retouch.http import api_router
from retouch.http.problems import problem_response
from tests.probe_app import build_probe_app

LAYER = Path(retouch.__file__).parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def in_language(text: str, language: str) -> bool:
    """Chinese text has Chinese characters; English text has none."""
    return bool(text.strip()) and bool(CJK.search(text)) == (language == "zh-CN")


def rendered(error: AppError, language: str) -> dict[str, Any]:
    response = problem_response(error, request_id="req-1", language=language)
    assert response.headers["content-language"] == language
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


def error_of(code: str) -> AppError:
    error_class: type[AppError] = type(f"Probe{code}", (AppError,), {"code": code})
    return error_class()


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_code_has_a_title_and_detail_in_each_language(code: str, language: str) -> None:
    body = rendered(error_of(code), language)

    assert body["code"] == code
    assert in_language(body["title"], language), body
    assert in_language(body["detail"], language), body


@pytest.mark.parametrize("template", sorted(DETAILS))
def test_every_detail_reads_in_both_languages_with_the_same_blanks(template: str) -> None:
    zh = DETAILS[template]
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}

    assert in_language(template, "en") and in_language(zh, "zh-CN")
    assert names == {name for _, name, _, _ in string.Formatter().parse(zh) if name}


def test_every_validation_type_reads_in_both_languages() -> None:
    for en, zh in (FALLBACK, *VALIDATION.values()):
        assert in_language(en, "en") and in_language(zh, "zh-CN"), (en, zh)
    # One English template means one Chinese one, whichever type it came from.
    pairs: dict[str, str] = {}
    for en, zh in VALIDATION.values():
        assert pairs.setdefault(en, zh) == zh


def test_a_detail_the_table_does_not_know_reads_as_the_title_in_both_languages() -> None:
    error = ValidationFailed("database connection lost: 10.0.0.9")

    for language in ("zh-CN", "en"):
        body = rendered(error, language)
        assert body["detail"] == body["title"]
        assert "10.0.0.9" not in json.dumps(body)


def test_a_template_is_filled_from_the_errors_context_in_each_language() -> None:
    class Big(ValidationFailed):
        pass

    error = Big("An upload is at most {max_bytes} bytes", max_bytes=1024)

    assert error.detail == "An upload is at most 1024 bytes"
    assert rendered(error, "en")["detail"] == "An upload is at most 1024 bytes"
    assert rendered(error, "zh-CN")["detail"] == "上传文件最大 1024 字节"


def _app_error_classes() -> set[str]:
    for module in pkgutil.walk_packages(retouch.__path__, "retouch."):
        importlib.import_module(module.name)

    def below(cls: type[AppError]) -> Iterator[type[AppError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from below(sub)

    return {cls.__name__ for cls in below(AppError)}


def _client_details() -> Iterator[tuple[str, int, ast.expr, str]]:
    """(place, line, first argument, kind) of every AppError and FieldError built in the layer
    with a literal: raises of a subclass, and `super().__init__` inside one."""
    names = _app_error_classes()
    for path in sorted(LAYER.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for cls in ast.walk(tree):
            bases = {getattr(base, "id", None) for base in getattr(cls, "bases", [])}
            in_error_class = isinstance(cls, ast.ClassDef) and bool(bases & names)
            for node in ast.walk(cls) if in_error_class else ():
                func = getattr(node, "func", None)
                is_init = isinstance(func, ast.Attribute) and func.attr == "__init__"
                if isinstance(node, ast.Call) and is_init and node.args:
                    yield str(path), node.lineno, node.args[0], "detail"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id in names - {"FieldError"} and node.args:
                yield str(path), node.lineno, node.args[0], "detail"
            if node.func.id == "FieldError" and len(node.args) >= 2:
                yield str(path), node.lineno, node.args[1], "message"


def test_every_client_facing_text_raised_in_the_layer_is_translated() -> None:
    found, missing = 0, []
    for place, line, argument, _ in _client_details():
        if isinstance(argument, ast.JoinedStr):
            # An f-string cannot be looked up: pass a template and its values as context.
            missing.append(f"{place}:{line}: f-string {ast.unparse(argument)}")
        elif isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found += 1
            if localize(argument.value, "zh-CN", _blanks(argument.value)) is None:
                missing.append(f"{place}:{line}: {argument.value!r}")
    internal = [item for item in missing if _internal(item)]
    assert found > 40
    assert sorted(set(missing) - set(internal)) == []


def _blanks(template: str) -> dict[str, str]:
    return {name: "1" for _, name, _, _ in string.Formatter().parse(template) if name}


# Messages meant for logs: the client reads the 503's or the storage error's title instead.
_INTERNAL = (
    "unreachable",
    "connection lost",
    "cos {call} failed",
    "s3 {operation} failed",
    "A storage key starts with one of",
    "cache invalidation",
    "rate limiter skipped",
    "A secret the service needs",
    "took too long to answer",
    "did not answer in time",
)


def _internal(item: str) -> bool:
    return any(marker in item for marker in _INTERNAL)


# Through the app: FastAPI's validation errors, our validators, the language fallback.


@pytest.fixture
def client() -> Iterator[TestClient]:
    router = api_router(prefix="/lang")

    @router.post("/register")
    def register(body: RegisterRequest) -> dict[str, str]:
        return {"ok": "yes"}

    app = build_probe_app(rate_limiter=MemoryRateLimiter())
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("accept", "language"),
    [(None, "zh-CN"), ("zh-CN,zh;q=0.9", "zh-CN"), ("en-GB", "en"), ("fr-FR, de;q=0.5", "en")],
)
def test_a_422_from_fastapi_is_worded_in_one_language(
    client: TestClient, accept: str | None, language: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}

    response = client.post("/probe/echo", json={"name": "", "count": -1}, headers=headers)

    body = response.json()
    assert response.status_code == 422
    assert response.headers["content-language"] == language
    assert {error["field"] for error in body["errors"]} == {"body.name", "body.count"}
    assert {error["code"] for error in body["errors"]} == {
        "string_too_short",
        "greater_than_equal",
    }
    texts = [body["title"], body["detail"], *(error["message"] for error in body["errors"])]
    assert all(in_language(text, language) for text in texts), body


def test_a_missing_field_and_a_bad_type_read_through_the_table(client: TestClient) -> None:
    response = client.post("/probe/echo", json={"count": "many"})

    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert messages == {"body.name": "缺少必填字段", "body.count": "应为整数"}


@pytest.mark.parametrize(("language", "message"), [("zh-CN", "不是有效的邮箱地址"), ("en", None)])
def test_our_validators_messages_are_translated_too(
    client: TestClient, language: str, message: str | None
) -> None:
    response = client.post(
        "/lang/register",
        json={"email": "not-an-address", "password": "Secret-pass-123"},
        headers={"Accept-Language": language},
    )

    errors = response.json()["errors"]
    assert [(error["field"], error["code"]) for error in errors] == [("body.email", "value_error")]
    assert errors[0]["message"] == (message or "not a valid email address")


def test_a_path_parameter_and_a_header_use_the_same_path_style(client: TestClient) -> None:
    response = client.get("/probe/items/seven", headers={"Accept-Language": "en"})

    errors = response.json()["errors"]
    assert [(error["field"], error["message"]) for error in errors] == [
        ("path.item_id", "Should be an integer")
    ]


def test_a_domains_relative_field_is_rendered_as_a_body_path() -> None:
    error = ValidationFailed(
        errors=[
            FieldError("inputs.mask", "no ready upload of yours", "upload_unusable"),
            FieldError("header.Idempotency-Key", "1-255 printable ASCII characters", "x"),
        ]
    )

    body = rendered(error, "zh-CN")

    assert body["errors"] == [
        {"field": "body.inputs.mask", "code": "upload_unusable", "message": "不是你的已就绪上传"},
        {
            "field": "header.idempotency-key",
            "code": "x",
            "message": "须为 1-255 个可打印 ASCII 字符",
        },
    ]
