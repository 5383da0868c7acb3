"""Issue 18 items 3–4: the committed document lints clean with Redocly's recommended rules,
and clients generated from it — TypeScript (openapi-typescript, `tsc --strict`, openapi-fetch)
and Python (openapi-python-client) — run the journey against the served stack: register, verify
with the mailed token, upload, create a task, follow it, cancel it, and read typed errors."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.contract.conftest import ContractStack
from tests.integration.identity_support import link_token, mail_to
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / "tools" / "openapi"
DOCUMENT = ROOT / "docs" / "openapi.json"
# Redocly asks the network for nothing with these set (no telemetry, no update check).
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}


def tool(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a tool of tools/openapi/node_modules; its output, or the test fails with it."""
    command = [str(TOOLS / "node_modules" / ".bin" / name), *args]
    done = subprocess.run(  # noqa: S603 - our own pinned tools
        command,
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **QUIET, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"{name}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_redocly_finds_no_error_and_no_warning() -> None:
    report = json.loads(
        tool("redocly", "lint", str(DOCUMENT), "--config", "redocly.yaml", "--format=json")
    )
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, report["problems"]


def test_the_typescript_client_type_checks_strictly_and_runs_the_journey(
    contract_stack: ContractStack, tmp_path: Path
) -> None:
    # GIVEN types generated from the committed document, and the journey compiled with them
    tool("openapi-typescript", str(DOCUMENT), "--output", "build/schema.d.ts")
    tool("tsc", "--project", "tsconfig.json")
    image = tmp_path / "photo.png"
    image.write_bytes(png(16, 16))
    # WHEN node runs it against the stack
    done = subprocess.run(  # noqa: S603
        ["node", str(TOOLS / "build" / "journey.mjs")],  # noqa: S607 - node from PATH
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "RETOUCH_URL": contract_stack.url,
            "RETOUCH_IMAGE": str(image),
            "RETOUCH_MAIL_DIR": str(contract_stack.mail.folder),
        },
        check=False,
    )
    # THEN every step answered as its types say
    assert done.returncode == 0, done.stdout + done.stderr
    assert "journey: ok" in done.stdout


def generated_python_client(tmp_path: Path) -> Any:
    """The package openapi-python-client generates from the committed document, imported."""
    done = subprocess.run(  # noqa: S603
        [
            str(ROOT / ".venv" / "bin" / "openapi-python-client"),
            "generate",
            "--path",
            str(DOCUMENT),
            "--output-path",
            str(tmp_path / "retouch_client"),
            "--meta",
            "none",
            "--config",
            str(TOOLS / "python-client.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # A clean generation: no schema the generator had to skip or guess
    assert done.returncode == 0 and "Warning" not in done.stdout, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("retouch_client")
    finally:
        sys.path.remove(str(tmp_path))


def test_the_python_client_runs_the_journey_and_reads_every_error_as_a_problem(
    contract_stack: ContractStack, tmp_path: Path
) -> None:
    client = generated_python_client(tmp_path)
    models = importlib.import_module("retouch_client.models")
    strict = {"base_url": contract_stack.url, "raise_on_unexpected_status": True}
    anonymous = client.Client(**strict)

    # register → verification mailed; verify with the mailed token → a token pair
    auth_register = importlib.import_module("retouch_client.api.auth.auth_register")
    auth_verify = importlib.import_module("retouch_client.api.auth.auth_verify_email")
    email = f"py-{uuid.uuid4().hex[:12]}@example.com"
    accepted = auth_register.sync(
        client=anonymous, body=models.RegisterRequest(email=email, password="Journey-pass-1")
    )
    assert isinstance(accepted, models.RegistrationAccepted), accepted
    token = link_token(mail_to(contract_stack.mail, email), "verify-email?token=")
    pair = auth_verify.sync(client=anonymous, body=models.EmailVerification(token=token))
    assert isinstance(pair, models.TokenPair), pair
    user = client.AuthenticatedClient(token=pair.access_token, **strict)

    # upload → a presigned PUT, then the upload is ready
    uploads = importlib.import_module("retouch_client.api.uploads.uploads_create")
    image = png(16, 16)
    ticket = uploads.sync(
        client=user,
        body=models.UploadCreate(content_type=models.ContentType.IMAGEPNG, size=len(image)),
    )
    assert isinstance(ticket, models.UploadTicketRead), ticket
    put = httpx.put(ticket.url, headers=ticket.headers.additional_properties, content=image)
    assert put.status_code == 200, put.text
    get_upload = importlib.import_module("retouch_client.api.uploads.uploads_get")
    assert get_upload.sync(client=user, upload_id=ticket.id).status.value == "ready"

    # a task → read → cancel
    tasks = importlib.import_module("retouch_client.api.tasks")
    for name in ("tasks_create", "tasks_get", "tasks_cancel", "tasks_list"):
        importlib.import_module(f"retouch_client.api.tasks.{name}")
    task = tasks.tasks_create.sync(
        client=user,
        body=models.TaskCreateCutout(feature="cutout", inputs=models.CutoutInputs(image=ticket.id)),
        idempotency_key=uuid.uuid4().hex,
    )
    assert isinstance(task, models.TaskRead), task
    assert tasks.tasks_get.sync(client=user, task_id=task.id).id == task.id
    canceled = tasks.tasks_cancel.sync(client=user, task_id=task.id)
    assert isinstance(canceled, models.TaskRead | models.Problem)

    # errors: each a typed Problem with its code, where the client used to crash on the 422s
    cases = [
        (tasks.tasks_list.sync(client=user, limit=1000), 422, "VALIDATION_FAILED"),
        (tasks.tasks_list.sync(client=user, cursor="garbage"), 422, "VALIDATION_FAILED"),
        (tasks.tasks_get.sync(client=user, task_id="tsk_nosuchtask0000"), 404, "NOT_FOUND"),
        (
            uploads.sync(
                client=user,
                body=models.UploadCreate(content_type=models.ContentType.IMAGEPNG, size=10**12),
            ),
            422,
            "VALIDATION_FAILED",
        ),
        (
            importlib.import_module("retouch_client.api.quota.quota_read").sync(client=anonymous),
            401,
            "UNAUTHENTICATED",
        ),
        (
            importlib.import_module("retouch_client.api.admin.admin_list_users").sync(client=user),
            403,
            "FORBIDDEN",
        ),
        (
            auth_verify.sync(client=anonymous, body=models.EmailVerification(token=token)),
            400,
            "VERIFICATION_TOKEN_INVALID",
        ),
    ]
    for problem, status, code in cases:
        assert isinstance(problem, models.Problem), problem
        assert (problem.status, problem.code) == (status, models.ErrorCode(code))
