"""Cold start (docs/performance.md, "Cold start and memory of every function"): the packages
re-export their adapters lazily (`core/lazy.py`), and routes are built without `pydantic.v1`
(`http/routing.py`), and the DTOs are built on first use (`core/schemas.py`), while every
name and every refusal stays what it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.exceptions import FastAPIError

from retouch.core.lazy import lazy_exports
from retouch.http.routing import api_router
from tests.unit.conftest import UNIT_ENV, declare_isolated
from tests.unit.processes import Started

ADAPTERS = (
    "retouch.queue.sqs",
    "retouch.queue.cmq",
    "retouch.queue.scf_invoke",
    "retouch.queue.scf_consumer",
    "retouch.queue.redis_streams",
    "retouch.queue.sqs_events",
    "retouch.storage.cos",
    "retouch.storage.s3",
)

declare_isolated(
    "lazy-imports:packages",
    "import json, sys, retouch.queue, retouch.storage\n"
    f"loaded = [name for name in {ADAPTERS!r} if name in sys.modules]\n"
    "from retouch.queue import ScfInvokeQueue, SqsQueue, consume\n"
    "from retouch.storage import CosStorage\n"
    "import retouch.queue.sqs, retouch.queue.scf_invoke, retouch.queue.sqs_events\n"
    "import retouch.storage.cos\n"
    "print(json.dumps({'loaded_at_import': loaded, 'same': [\n"
    "    SqsQueue is retouch.queue.sqs.SqsQueue,\n"
    "    ScfInvokeQueue is retouch.queue.scf_invoke.ScfInvokeQueue,\n"
    "    consume is retouch.queue.sqs_events.consume,\n"
    "    CosStorage is retouch.storage.cos.CosStorage,\n"
    "    retouch.queue.SqsQueue is SqsQueue]}))",
    module=__name__,
)

declare_isolated(
    "lazy-imports:routes",
    "import json, sys\n"
    "from pydantic import BaseModel\n"
    "from retouch.http.routing import api_router\n"
    "class Answer(BaseModel):\n"
    "    value: int\n"
    "router = api_router()\n"
    "@router.post('/answer', response_model=Answer)\n"
    "def answer(body: Answer) -> Answer:\n"
    "    return body\n"
    "during = 'pydantic.v1' in sys.modules\n"
    "from pydantic import v1\n"  # the guard leaves nothing behind: v1 imports as before
    "print(json.dumps({'v1_while_building': during, 'v1_after': v1.BaseModel.__module__}))",
    module=__name__,
)

# The health function's first invocation, `GET /health` (the process alone: no socket), through
# the entry point: FastAPI builds the routes again when it matches the first request.
declare_isolated(
    "lazy-imports:first-response",
    "import importlib.util, json, sys\n"
    "from scripts.local.lambda_runtime import FakeLambdaContext\n"
    "spec = importlib.util.spec_from_file_location('app', 'functions/http/health/app.py')\n"
    "app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app)\n"
    "event = json.load(open('events/health_aws_rest.json'))\n"
    "event.update(path='/health', resource='/health')\n"
    "answer = app.handler(event, FakeLambdaContext())\n"
    "print(json.dumps({'status': answer['statusCode'], 'v1': 'pydantic.v1' in sys.modules}))",
    module=__name__,
    env={**UNIT_ENV, "PYTHONPATH": "layers/retouch:."},
)


def test_a_lazy_export_imports_its_module_on_first_access_and_keeps_the_value() -> None:
    namespace: dict[str, Any] = {"__name__": "retouch.example"}
    get = lazy_exports(namespace, {"dumps": "json"})

    assert get("dumps") is json.dumps
    assert namespace["dumps"] is json.dumps


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    get = lazy_exports({"__name__": "retouch.example"}, {"dumps": "json"})

    with pytest.raises(AttributeError, match=r"^module 'retouch.example' has no attribute 'x'$"):
        get("x")


def test_an_unknown_name_of_a_lazy_package_is_still_an_attribute_error() -> None:
    import retouch.queue

    with pytest.raises(AttributeError):
        _ = retouch.queue.NoSuchAdapter


def test_importing_the_queue_and_storage_packages_loads_no_adapter(background: Started) -> None:
    result = background.result("lazy-imports:packages")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)

    assert answer["loaded_at_import"] == []
    assert answer["same"] == [True] * 5


def test_a_route_is_built_without_pydantic_v1_and_leaves_it_importable(
    background: Started,
) -> None:
    result = background.result("lazy-imports:routes")
    assert result.returncode == 0, result.stderr

    assert json.loads(result.stdout) == {
        "v1_while_building": False,
        "v1_after": "pydantic.v1.main",
    }


def test_a_pydantic_v1_model_is_still_refused_as_a_response_model() -> None:
    from pydantic import v1

    class Legacy(v1.BaseModel):
        value: int

    router: APIRouter = api_router()

    with pytest.raises(FastAPIError):
        router.add_api_route("/legacy", lambda: None, response_model=Legacy)


def test_the_first_response_is_answered_without_pydantic_v1(background: Started) -> None:
    result = background.result("lazy-imports:first-response")
    assert result.returncode == 0, result.stderr

    assert json.loads(result.stdout.splitlines()[-1]) == {"status": 200, "v1": False}


def test_a_schema_is_built_on_first_use_and_validates_as_declared() -> None:
    from pydantic import ValidationError

    from retouch.core.schemas import RequestSchema, Schema, StrictRequestSchema

    class Read(Schema):
        count: int

    class Body(RequestSchema):
        count: int

    class Grant(StrictRequestSchema):
        credits: int

    built_when_defined = Read.__pydantic_complete__  # nothing used it yet
    assert Read.model_validate({"count": "3"}).count == 3  # built now
    assert (built_when_defined, Read.__pydantic_complete__) == (False, True)
    # a body is built with its class (FastAPI validates it at the first request)
    assert Body.__pydantic_complete__ and Grant.__pydantic_complete__
    assert Body.model_validate({"count": "3"}).count == 3  # lax as before
    with pytest.raises(ValidationError, match="extra_forbidden"):
        Body.model_validate({"count": 1, "role": "admin"})
    with pytest.raises(ValidationError, match="int_type"):
        Grant.model_validate({"credits": "5"})
    with pytest.raises(ValidationError, match="frozen_instance"):
        Body(count=1).count = 2
