"""Every function imports and answers its SCF sample events on CPython 3.10, as Tencent SCF runs
it (docs/runtimes.md): each function runs in its own `.venv-scf` process (built by scripts/setup)
with the layer's code and the lock files' manylinux2014 wheels as its only packages, against the
real MariaDB and Redis of the test run. The answers are held to the same checks as the 3.11 run
of the same events (sample_events_support)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts.deploy_tencent.config import load_plan
from scripts.deploy_tencent.package import build_function
from scripts.local.sam import EVENTS, SCF_HANDLER_ATTRIBUTE, FunctionSpec, load_template
from tests.conftest import Stack
from tests.integration.deploy.test_deploy_tencent import DEPLOY_ENV
from tests.integration.operations.sample_events_support import (
    check_sample_response,
    with_access_token,
)

ROOT = Path(__file__).resolve().parents[3]
SCF_VENV = ROOT / ".venv-scf"
SCF_PYTHON = SCF_VENV / "bin" / "python"
#: What SCF mounts at /opt from the layer: the wheels of the lock files (and, beside them, our
#: `retouch` package, which the test takes from layers/retouch).
SCF_SITE = SCF_VENV / "opt" / "python"
RUNNER = Path(__file__).with_name("scf_runner.py")
#: The functions' locks, as scripts/setup installs them: every requirements/*.txt but the tools'.
TOOL_LOCKS = {"dev.txt", "iac.txt"}
LOCKS = sorted(
    path for path in (ROOT / "requirements").glob("*.txt") if path.name not in TOOL_LOCKS
)
#: Wheel tags SCF's CentOS 7 (glibc 2.17) can load on CPython 3.10: pure Python, or a
#: manylinux wheel no newer than manylinux2014 (= manylinux_2_17).
LOADABLE_TAG = re.compile(
    r"(py3|py2\.py3|cp3\d*)-(none|abi3|cp310)-"
    r"(any|manylinux(1|2010|2014|_2_(5|12|17))_x86_64)"
)


def _scf_events() -> dict[str, list[Path]]:
    """The SCF-shaped sample events (`*_scf_*.json`), by the logical id of their function."""
    template = load_template()
    by_function: dict[str, list[Path]] = {}
    for path in sorted(EVENTS.glob("*_scf_*.json")):
        spec, _ = template.function_for_event(path)
        by_function.setdefault(spec.logical_id, []).append(path)
    return by_function


SCF_EVENTS = _scf_events()


@pytest.fixture(scope="module")
def scf_python() -> Path:
    """The CPython 3.10 interpreter of `.venv-scf`: a failure, never a skip, when it is missing."""
    if not SCF_PYTHON.exists() or not SCF_SITE.is_dir():
        pytest.fail(
            f"{SCF_PYTHON} or {SCF_SITE} is missing: run scripts/setup, which builds .venv-scf "
            "from CPython 3.10 (pyenv) and the lock files (docs/runtimes.md)"
        )
    return SCF_PYTHON


def _with_fresh_email(event: dict[str, Any]) -> dict[str, Any]:
    """A register event with an address of its own: the sample's is taken once any run of it
    (the 3.11 sample-event test's, say) has registered it on this database."""
    if not event.get("path", "").endswith("/auth/register"):
        return event
    body = json.loads(event["body"])
    body["email"] = f"scf-{uuid.uuid4().hex}@example.com"
    return {**event, "body": json.dumps(body)}


def _run_on_scf_python(
    python: Path,
    spec: FunctionSpec,
    events: dict[str, dict[str, Any]],
    output: Path,
    *,
    code: Path | None = None,
) -> dict[str, Any]:
    """Run scf_runner in a fresh 3.10 process laid out as SCF lays out the function (its
    folder, or the unpacked package `code`)."""
    module = spec.handler.rpartition(".")[0]
    request = {
        "handler": f"{module}.{SCF_HANDLER_ATTRIBUTE}",
        "function_name": spec.logical_id,
        "events": [{"name": name, "event": event} for name, event in events.items()],
    }
    folder = code or spec.code_uri
    # PYTHONPATH=/var/user:/opt on SCF: the function's folder, then the layer.
    layer = os.pathsep.join([str(folder), str(SCF_SITE), str(ROOT / "layers" / "retouch")])
    environment = {**os.environ, "PYTHONPATH": layer, "PYTHONNOUSERSITE": "1"}
    environment["PYTHONDONTWRITEBYTECODE"] = "x"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and runner
        [str(python), "-c", RUNNER.read_text(), str(output)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(output.read_text())  # type: ignore[no-any-return]


@pytest.mark.integration
@pytest.mark.parametrize("logical_id", sorted(SCF_EVENTS))
def test_function_answers_its_scf_events_on_cpython_3_10(
    stack: Stack,
    scf_python: Path,
    tmp_path: Path,
    logical_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a function and its SCF sample events (with a real access token where the event has
    # the placeholder, and a fresh address where it registers); objects the functions write go
    # to a folder of this test, which holds a backup when the verify is the one under test
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    if logical_id == "BackupVerifyFunction":
        from retouch.backup.handlers import backup_job

        backup_job()
    spec = load_template().function(logical_id)
    events = {
        path.name: _with_fresh_email(with_access_token(json.loads(path.read_text())))
        for path in SCF_EVENTS[logical_id]
    }

    # WHEN a CPython 3.10 process with only the layer on its path imports the function and
    # hands each event to its SCF entry point
    outcome = _run_on_scf_python(scf_python, spec, events, tmp_path / "outcome.json")

    # THEN it ran on 3.10, from the function's own file and the layer's packages
    assert outcome["python"][:2] == [3, 10]
    assert Path(outcome["module_file"]) == spec.module_file
    assert Path(outcome["origins"].pop("retouch")).is_relative_to(ROOT / "layers" / "retouch")
    assert all(Path(origin).is_relative_to(SCF_SITE) for origin in outcome["origins"].values())
    # and every event got the answer the 3.11 run gets
    for result in outcome["results"]:
        assert "raised" not in result, result.get("detail")
        shape = load_template().function_for_event(EVENTS / result["name"])[1]
        check_sample_response(
            logical_id=logical_id,
            shape=shape,
            event=events[result["name"]],
            response=result["response"],
        )
    assert [result["name"] for result in outcome["results"]] == list(events)


def test_every_function_folder_has_an_scf_event() -> None:
    # GIVEN the function folders under functions/ (each holds one SCF function's code)
    folders = {path.parent for path in (ROOT / "functions").glob("*/*/app.py")}

    # THEN each is some template function's code, and that function has SCF sample events, so
    # the 3.10 run above imports every one of them
    template = load_template()
    covered = {template.function(logical_id).code_uri for logical_id in SCF_EVENTS}
    assert folders == covered | {MIGRATE_FOLDER}


#: The migrate function, which has no SCF sample event (the deploys invoke it), run below.
MIGRATE_FOLDER = ROOT / "functions" / "jobs" / "migrate"


@pytest.mark.integration
def test_the_migrate_function_runs_on_cpython_3_10(
    stack: Stack, scf_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the migrate function's deployed package, unpacked (app.py beside shared/migrations,
    # shared/seed and its yoyo-migrations), on the cloud's network policy
    plan = load_plan("dev", DEPLOY_ENV)
    package = build_function(plan.functions["migrate"], plan)
    unpacked = tmp_path / "package"
    zipfile.ZipFile(io.BytesIO(package.data)).extractall(unpacked)
    spec = FunctionSpec(
        logical_id="MigrateFunction", code_uri=MIGRATE_FOLDER, handler="app.handler"
    )
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")

    # WHEN SCF's 3.10 invokes it as the deploy does, without a first admin
    outcome = _run_on_scf_python(
        scf_python, spec, {"deploy": {}}, tmp_path / "outcome.json", code=unpacked
    )

    # THEN it ran on 3.10 from the package and answered what it did: nothing left to migrate
    # on the test database, the seed loaded, no admin to promote
    assert outcome["python"][:2] == [3, 10]
    (result,) = outcome["results"]
    assert "raised" not in result, result.get("detail")
    answer = result["response"]
    assert answer["migrations_applied"] == 0 and answer["seed_entries"] > 0
    assert answer["first_admin"] == "no email"


def _wheel_tags(site: Path) -> dict[str, list[str]]:
    """The tags of each installed wheel (its WHEEL file's `Tag:` lines), by dist-info name."""
    return {
        wheel.parent.name: [
            line.removeprefix("Tag: ")
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag: ")
        ]
        for wheel in site.glob("*.dist-info/WHEEL")
    }


def test_scf_layer_holds_exactly_the_locked_pins_as_glibc_2_17_wheels(scf_python: Path) -> None:
    # GIVEN the packages scripts/setup installed as SCF's layer, and the lock files
    installed = {
        path.name.removesuffix(".dist-info").lower().replace("_", "-")
        for path in SCF_SITE.glob("*.dist-info")
    }
    locked = set()
    for lock in LOCKS:
        for line in lock.read_text().splitlines():
            if re.match(r"[a-z0-9]", line):
                locked.add(line.replace("==", "-").lower().replace("_", "-"))

    # THEN the layer is exactly the lock files (setup re-syncs it when they change)
    assert installed == locked
    # and every wheel is pure Python or loads on CPython 3.10 with glibc 2.17 (CentOS 7)
    tags = _wheel_tags(SCF_SITE)
    assert len(tags) == len(installed)
    unloadable = {
        name: wheel_tags
        for name, wheel_tags in tags.items()
        if not any(LOADABLE_TAG.fullmatch(tag) for tag in wheel_tags)
    }
    assert unloadable == {}
