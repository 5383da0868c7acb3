"""The zips SCF runs: a layer (its packages plus the wheels of its lock files, for SCF's Python
and platform) and a function (its folder, the folders it includes and its own requirements).

Zips are deterministic (sorted entries, fixed timestamps), so the same sources give the same
bytes and a second deploy can tell nothing changed. Wheels are installed once per lock: into
`.local/deploy-wheels/<sha256 of the lock files, the Python version and the platform>/`.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts.deploy_tencent.config import ROOT, Function, Layer, Plan

WHEEL_CACHE = ROOT / ".local" / "deploy-wheels"
#: SCF's limits (docs/deploy-tencent.md, "Limits"): a zip sent inline (`ZipFile`, base64) is
#: at most 20 MB, larger ones go through COS; a function with its layers is at most 500 MB
#: before compression.
INLINE_ZIP_LIMIT = 20 * 1000 * 1000
UNZIPPED_LIMIT = 500 * 1000 * 1000
_SKIPPED = ("__pycache__", ".pyc", ".dist-info/RECORD")
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackageError(RuntimeError):
    """A package could not be built (pip's refusal is in the message)."""


@dataclass(frozen=True)
class Package:
    name: str
    data: bytes
    unzipped: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def inline(self) -> bool:
        """True when SCF takes it as `ZipFile`; else it goes through the code bucket."""
        return len(self.data) <= INLINE_ZIP_LIMIT


def installed(requirements: Iterable[Path], plan: Plan, cache: Path = WHEEL_CACHE) -> Path | None:
    """A folder holding the lock files' packages for SCF's interpreter, or None for none."""
    locks = sorted(requirements)
    if not locks:
        return None
    digest = hashlib.sha256(f"{plan.python_version}|{plan.platform}".encode())
    for lock in locks:
        digest.update(lock.read_bytes())
    target = cache / digest.hexdigest()[:32]
    if (target / ".complete").is_file():
        return target
    partial = target.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--target",
        str(partial),
    ]
    command += ["--platform", plan.platform, "--python-version", plan.python_version]
    command += ["--implementation", "cp", "--only-binary=:all:", "--no-compile"]
    for lock in locks:
        command += ["-r", str(lock)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if not line.startswith("WARNING")]
        raise PackageError(
            f"pip cannot install {', '.join(str(lock.relative_to(ROOT)) for lock in locks)} "
            f"for CPython {plan.python_version} on {plan.platform}:\n" + "\n".join(lines[-8:])
        )
    (partial / ".complete").write_text("")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _files(folder: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part in relative for part in _SKIPPED):
            yield f"{prefix}{relative}", path


def _zip(name: str, entries: Iterable[tuple[str, Path]]) -> Package:
    buffer, unzipped = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, path in sorted(dict(entries).items()):
            if arcname == ".complete":
                continue
            info = zipfile.ZipInfo(arcname, _EPOCH)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data)
    return Package(name=name, data=buffer.getvalue(), unzipped=unzipped)


def build_layer(layer: Layer, plan: Plan) -> Package:
    """The layer's zip: its packages at the root (SCF unpacks layers to /opt, on PYTHONPATH)
    beside the installed wheels of its lock files."""
    entries: list[tuple[str, Path]] = []
    wheels = installed(layer.requirements, plan)
    if wheels is not None:
        entries += _files(wheels, "")
    for package in layer.packages:
        entries += _files(package, f"{package.name}/")
    return _zip(layer.name, entries)


def build_function(function: Function, plan: Plan) -> Package:
    """The function's zip: its folder at the root (`app.py`), the folders it includes under
    their path in the repository, and its own requirements' packages."""
    entries = [item for item in _files(function.code, "") if item[0] != "requirements.txt"]
    for folder in function.include:
        entries += _files(folder, f"{folder.relative_to(ROOT).as_posix()}/")
    wheels = installed(function.requirements, plan)
    if wheels is not None:
        entries += _files(wheels, "")
    return _zip(function.name, entries)


def size_problems(
    plan: Plan, layers: dict[str, Package], functions: dict[str, Package]
) -> list[str]:
    """Every package SCF would refuse: a function whose code and layers pass 500 MB unzipped,
    or a zip past the inline limit when the stage names no code bucket."""
    problems = []
    for key, function in plan.functions.items():
        total = functions[key].unzipped + sum(layers[name].unzipped for name in function.layers)
        if total > UNZIPPED_LIMIT:
            problems.append(
                f"function {key}: {total} bytes unzipped with its layers "
                f"(SCF allows {UNZIPPED_LIMIT})"
            )
    if not plan.code_bucket:
        problems += [
            f"{package.name}: {len(package.data)} bytes zipped needs a code bucket "
            f"(inline limit {INLINE_ZIP_LIMIT})"
            for package in (*layers.values(), *functions.values())
            if not package.inline
        ]
    return problems
