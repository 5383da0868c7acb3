"""`scripts/invoke <LogicalId> <event.json>`: what `sam local invoke` does, without Docker.

Validates the settings, imports the function named in template.yaml, calls its handler with the
event and a fake Lambda context, and prints the response JSON on stdout. An event file named
for an SCF shape (`<function>_scf_<...>.json`, see events/README.md: API Gateway, COS, CMQ) goes
to the SCF entry point (`main_handler`) as SCF would call it; any other event to `Handler`, as
Lambda would (SQS events included: the response carries `batchItemFailures`). Whatever the function
itself writes (JSON logs, EMF metric lines) goes to stderr, as with `sam local invoke`.

When the local stack runs, it leaves `.local/env`; variables from there that are not already
set are loaded first, so the function talks to the stack's MariaDB and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from retouch.core.settings import SettingsError, get_settings
from scripts.local.lambda_runtime import (
    ACCESS_TOKEN_PLACEHOLDER,
    LOCAL_ENV_FILE,
    OPERATOR_TOKEN_PLACEHOLDER,
    FakeLambdaContext,
    load_local_env,
)
from scripts.local.sam import TEMPLATE, Template, TemplateError, load_handler, load_template


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id in template.yaml, e.g. HealthFunction")
    parser.add_argument("event", help="event JSON file, or - for stdin")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="SAM template")
    parser.add_argument("--env-file", type=Path, default=LOCAL_ENV_FILE, help="KEY=VALUE file")
    parser.add_argument(
        "--bearer",
        metavar="TOKEN",
        help=f"access token to put in place of {ACCESS_TOKEN_PLACEHOLDER} in the event",
    )
    return parser.parse_args(argv)


@contextmanager
def _function_output_to_stderr() -> Iterator[TextIO]:
    """Send file descriptor 1 to stderr while the function runs; yield the real stdout.

    Works at the descriptor level because the Powertools logger keeps the stdout stream it saw
    when it was built, which a `sys.stdout` swap would not reach.
    """
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        yield real_stdout
    finally:
        sys.stdout.flush()
        real_stdout.flush()
        os.dup2(real_stdout.fileno(), 1)
        real_stdout.close()


def _shape_of(template: Template, event_file: Path) -> str | None:
    """The event shape a file's name states (events/README.md), or None for other names."""
    try:
        return template.function_for_event(event_file)[1]
    except TemplateError:
        return None


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    load_local_env(arguments.env_file)
    try:
        get_settings()
        template = load_template(arguments.template)
        spec = template.function(arguments.function)
        shape = None if arguments.event == "-" else _shape_of(template, Path(arguments.event))
        handler = load_handler(spec, shape=shape)
        text = sys.stdin.read() if arguments.event == "-" else Path(arguments.event).read_text()
        if arguments.bearer:
            text = text.replace(ACCESS_TOKEN_PLACEHOLDER, arguments.bearer)
            text = text.replace(OPERATOR_TOKEN_PLACEHOLDER, arguments.bearer)
        event: dict[str, Any] = json.loads(text)
    except (SettingsError, TemplateError, OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    context = FakeLambdaContext.for_function(spec.logical_id, str(uuid.uuid4()))
    with _function_output_to_stderr() as stdout:
        response = handler(event, context)
        print(json.dumps(response, ensure_ascii=False), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
