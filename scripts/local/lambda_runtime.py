"""Run function handlers in this process, the way Lambda runs them in its container.

Shared by the tests, `scripts/invoke` and the local gateway: import a function's entry file,
hand it a context with the attributes Powertools and Mangum read, and read the local stack's
`.local/env`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ENV_FILE = ROOT / ".local" / "env"

#: Stands for a real access token in sample events (`scripts/invoke --bearer` fills it in).
ACCESS_TOKEN_PLACEHOLDER = "<access-token>"  # noqa: S105 - a placeholder, not a secret
#: The same, for an operator's token (the admin routes' sample events).
OPERATOR_TOKEN_PLACEHOLDER = "<operator-access-token>"  # noqa: S105 - a placeholder


def load_function(path: str | Path) -> ModuleType:
    """Import a function's entry file (every one is called app.py) under a unique module name.

    `path` is relative to the repository root (or absolute). The module is registered in
    `sys.modules` while it runs, as a normal import would, so dataclasses and pydantic models
    defined in it can resolve their own module.
    """
    file = ROOT / path
    try:
        parts = file.relative_to(ROOT).with_suffix("").parts
    except ValueError:
        parts = file.with_suffix("").parts[1:]
    name = "fn_" + "_".join(part.replace("-", "_") for part in parts)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def new_event_loop() -> None:
    """Give this (worker) thread an event loop of its own: Mangum asks for the current one,
    and threads other than the main one have none."""
    asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and Mangum read from a Lambda context."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:ap-east-1:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_time_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_ms

    @classmethod
    def for_function(cls, function_name: str, request_id: str) -> FakeLambdaContext:
        """A context naming `function_name`, as Lambda would build for one invocation."""
        return cls(
            function_name=function_name,
            invoked_function_arn=f"arn:aws:lambda:local:123456789012:function:{function_name}",
            aws_request_id=request_id,
        )


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines; blank lines and `#` comments are skipped."""
    variables: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        variables[key.strip()] = value.strip()
    return variables


def write_env_file(path: Path, variables: dict[str, str]) -> None:
    """Write `variables` as `KEY=VALUE` lines, readable by the owner only (it holds a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(variables.items())))
    path.chmod(0o600)


def load_local_env(path: Path = LOCAL_ENV_FILE) -> list[str]:
    """Point this process at the running local stack: set the variables of its env file that
    are not set already (an explicit variable always wins). Returns the names it set."""
    if not path.exists():
        return []
    loaded = []
    for key, value in read_env_file(path).items():
        if key not in os.environ:
            os.environ[key] = value
            loaded.append(key)
    return loaded
