"""Cold start of the API functions, the jobs and the storage trigger (docs/performance.md,
"Cold start and memory of every function"): what importing each `app.py` must not load.

- No function imports OpenCV/numpy, a cloud SDK client, Powertools' parser models, yoyo,
  email-validator or Argon2 at import: the code that needs them imports them on first use (the
  image steps, the storage and queue adapters, the migration run, the first password hash).
- The jobs that never touch Redis, the queue or the tasks on their path (the backups, the
  rollups, the retention, the upload trigger) do not load them: `redis` alone is ≈ 40-60 ms,
  since `import redis` also imports `redis.asyncio` and `asyncio`.
- The reaper's run imports the task endings before it knows whether a task is overdue: they
  name the Redis client as a type only, so a run with nothing to end loads no redis-py
  (the relay's run counts what is due before it asks for the queue:
  tests/integration/queue/test_outbox.py). The plan expiry loads it only to forget the callers
  whose membership it ended.
- The health function loads no token code (PyJWT) and no domain package.
- No function loads a storage or queue adapter its backend does not name: the packages
  re-export them lazily (`core/lazy.py`) and the factories import the chosen one on first use
  (the unit settings name the local storage and Redis Streams, first used by a request).
- No function loads `pydantic.v1`: FastAPI imports it, building a route, only to refuse v1
  models (`http/routing.py` builds routes without it).
- An API function's app holds its routes themselves, not included routers, whose routes
  FastAPI builds a second time at the first request (`http/app.py`); its modules load without
  the cyclic garbage collector, which is enabled again, with what they built frozen, once the
  handler exists (`core/coldstart.py`).
- The admin function loads no HTTP client and no notifier until an alert test is sent; the
  users function no erasure service (nor the tasks, queue, storage and catalog it loads) until
  an account is deleted.
- No function compiles the settings' validator at import (the first `get_settings()` does,
  `core/settings/compiled.py`, without building a pydantic model), and the backups and the
  trigger, which build no pydantic model on their path, never load `importlib.metadata`
  (pydantic's plugin discovery, ≈ 20 ms, imports it with the first model a process builds).

(The step functions have their own pin, tests/unit/test_step_imports.py.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.conftest import UNIT_ENV
from tests.unit.processes import Command, Started, declare

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = (
    *(f"http/{name}" for name in ("admin", "auth", "callbacks", "catalog", "health")),
    *(f"http/{name}" for name in ("tasks", "uploads", "users")),
    *(f"jobs/{name}" for name in ("backup", "backup_verify", "monitor", "outbox_relay")),
    *(f"jobs/{name}" for name in ("plan_expiry", "reaper", "retention", "rollup")),
    "triggers/upload",
)
FORBIDDEN_EVERYWHERE = (
    "cv2",
    "numpy",
    "boto3",
    "botocore.client",
    "qcloud_cos",
    "tencentcloud",
    "aws_lambda_powertools.utilities.parser",
    "yoyo",
    "email_validator",
    "argon2",
    "pydantic.v1",
    "retouch.storage.cos",
    "retouch.storage.s3",
    "retouch.queue.sqs",
    "retouch.queue.cmq",
    "retouch.queue.scf_consumer",
    "retouch.queue.redis_streams",
)
#: Only the outbox relay releases the SCF backend's delayed messages (`queue.handlers`), and
#: it imports the SCF adapter only on that backend, at the run.
SCF_INVOCATION = ("retouch.queue.scf_invoke", "retouch.queue.scf_ledger")
#: The reaper and the relay load the Redis client at a run that needs it, never at import.
REDIS_CLIENT = ("redis", "asyncio")
#: What a function's run imports before it knows whether it needs Redis (the reaper: the task
#: endings, whose `RedisClient` is a type only), imported by the check after `app.py`.
RUN_IMPORTS = {"jobs/reaper": ("retouch.tasks.lifecycle",)}
WITHOUT_REDIS = ("redis", "retouch.queue", "retouch.tasks", "asyncio")
#: redis-py imports it too (its version), as pydantic does on a process's first model.
WITHOUT_MODELS = (*WITHOUT_REDIS, "importlib.metadata")
FORBIDDEN = {
    "jobs/backup": WITHOUT_MODELS,
    "jobs/backup_verify": WITHOUT_MODELS,
    "jobs/rollup": WITHOUT_REDIS,
    "jobs/outbox_relay": REDIS_CLIENT,
    "jobs/reaper": REDIS_CLIENT,
    "jobs/plan_expiry": REDIS_CLIENT,
    "jobs/retention": WITHOUT_REDIS,
    "triggers/upload": WITHOUT_MODELS,
    "http/health": ("jwt", "retouch.tasks", "retouch.caller", "retouch.quota", "retouch.queue"),
    "http/admin": ("httpx", "retouch.alerts.channels", "retouch.notify.robots"),
    # The erasure's service (and with it the tasks' ending, the queue and the storage) loads
    # at the first `DELETE /v1/me` or admin deletion, not with the function.
    "http/users": (
        "retouch.erasure.service",
        "retouch.tasks",
        "retouch.queue",
        "retouch.storage",
        "retouch.catalog",
    ),
}

# Imports the entry file by path, as the Lambda runtime imports `app.py`, then the modules
# named after it (`RUN_IMPORTS`); prints the modules, whether the settings' validator was
# compiled, and the app's routes (an API function).
CHECK = (
    "import importlib, importlib.util, json, sys; "
    "spec = importlib.util.spec_from_file_location('app', sys.argv[1]); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
    "assert callable(module.handler) and callable(module.main_handler); "
    "[importlib.import_module(name) for name in sys.argv[2:]]; "
    "compiled = sys.modules['retouch.core.settings'].Settings._validator is not None; "
    "modules = sorted(sys.modules); "
    "from starlette.routing import Route; "
    "app = getattr(module, 'app', None); "
    "routes = [type(r).__name__ for r in app.router.routes] if app is not None else []; "
    "unbuilt = [name for name, r in zip(routes, app.router.routes if app else []) "
    "if not isinstance(r, Route)]; "
    "import gc; "
    "collector = {'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count() > 0}; "
    "print(json.dumps({'modules': modules, 'settings_compiled': compiled, "
    "'routes': routes, 'unbuilt': unbuilt, 'collector': collector}))"
)


def _check(function: str) -> Callable[[Path], Command]:
    app = ROOT / "functions" / function / "app.py"
    environment = {**UNIT_ENV, "PYTHONPATH": str(ROOT / "layers" / "retouch")}
    return lambda _: Command(
        args=[sys.executable, "-c", CHECK, str(app), *RUN_IMPORTS.get(function, ())],
        env=environment,
        cwd=ROOT,
    )


for _function in FUNCTIONS:  # one fresh interpreter per function, run beside the other tests
    declare(f"function-imports:{_function.replace('/', '-')}", _check(_function), module=__name__)


def unwanted(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that are, or are inside, one of `forbidden`."""
    return sorted(
        name
        for name in modules
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )


def test_the_check_names_a_forbidden_package_and_its_modules_only() -> None:
    modules = {"redis", "redis.asyncio", "redistools", "retouch.queue.sqs", "retouch.core"}

    assert unwanted(modules, WITHOUT_REDIS) == ["redis", "redis.asyncio", "retouch.queue.sqs"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_imports_only_what_its_path_uses(background: Started, function: str) -> None:
    result = background.result(f"function-imports:{function.replace('/', '-')}")
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    modules = set(imported["modules"])

    assert "retouch.core.settings" in modules  # the check saw the function's own imports
    forbidden = FORBIDDEN_EVERYWHERE + SCF_INVOCATION + FORBIDDEN.get(function, ())
    assert unwanted(modules, forbidden) == []
    assert imported["settings_compiled"] is False
    # An API function serves its routes as built: no included router, whose routes FastAPI
    # would build a second time at the first request.
    assert imported["unbuilt"] == []
    assert bool(imported["routes"]) is function.startswith("http/")
    if function.startswith("http/"):  # loaded without collections, then frozen (core/coldstart.py)
        assert imported["collector"] == {"enabled": True, "frozen": True}
