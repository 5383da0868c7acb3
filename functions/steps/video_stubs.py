"""Swap the FFmpeg that opencv-python-headless bundles for stubs, in a built step folder.

    python video_stubs.py ARTIFACTS_DIR

OpenCV's wheel links its video I/O (`cv2.VideoCapture`, `cv2.VideoWriter`) against FFmpeg:
libavcodec, libavformat, libavutil and libswscale, which pull in libswresample, libvpx,
libdav1d, OpenSSL and libdrm: 28.7 MB unzipped that no step runs (they read and write still
images only; tests/unit/test_lambda_build.py keeps video I/O out of our code). The loader still
wants every library `cv2.abi3.so` names and every versioned symbol it imports from them, so each
of the four becomes a stub of the same file name and soname that defines exactly those symbols,
each one a trap (`ud2`: a call ends the process loudly instead of decoding anything); then the
libraries nothing needs any more are deleted. The stubs are assembled and linked by binutils
(`as`, `ld`), read with `readelf`: the build already needs binutils for `strip`.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tempfile
from pathlib import Path

#: OpenCV's video libraries, by the name their bundled file starts with.
VIDEO = ("libavcodec-", "libavformat-", "libavutil-", "libswscale-")
_SYMBOL = re.compile(r"^\s*\d+:\s+0+\s+\d+\s+(\w+)\s+\w+\s+\w+\s+UND\s+(\w+)@(\w+)")
_NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[(.+)\]")
_VERSION = re.compile(r"Flags: none\s+Index: \d+\s+Cnt: \d+\s+Name: (\w+)")
#: A build step, run by the Makefile outside any function: the standard library's logger (the
#: layer's Powertools logger is not on the build interpreter's path).
log = logging.getLogger("video_stubs")


def _run(*args: str) -> str:
    """A binutils command's output (binutils on PATH, as `strip` in the Makefile)."""
    return subprocess.run(  # noqa: S603 - binutils, arguments of our own
        args, capture_output=True, text=True, check=True
    ).stdout


def _readelf(*args: str) -> str:
    return _run("readelf", "-W", *args)


def _needed(path: Path) -> list[str]:
    return _NEEDED.findall(_readelf("-d", str(path)))


def _imports(module: Path, versions: set[str]) -> list[str]:
    """The functions `module` imports under one of `versions`, sorted; anything else it
    imports from them (data a trap cannot stand for) stops the build."""
    found = (_SYMBOL.match(line) for line in _readelf("--dyn-syms", str(module)).splitlines())
    imported = [m.groups() for m in found if m and m[3] in versions]
    if other := [f"{name} ({kind})" for kind, name, _ in imported if kind != "FUNC"]:
        raise SystemExit(f"{module.name} imports more than functions: {', '.join(other)}")
    return sorted({name for _, name, _ in imported})


def _stub(library: Path, users: list[Path], work: Path) -> int:
    """Replace `library` by a stub defining what `users` import from it; the count."""
    versions = _VERSION.findall(_readelf("-V", str(library)))
    if len(versions) != 1:
        raise SystemExit(f"{library.name}: expected one symbol version, found {versions}")
    symbols = sorted({name for user in users for name in _imports(user, set(versions))})
    source, script, stub = (work / f"{library.name}.{ext}" for ext in ("s", "map", "so"))
    lines = ['.section .note.GNU-stack,"",@progbits', ".text"]
    for name in symbols:
        lines += [f".globl {name}", f".type {name}, @function", f"{name}:", "ud2"]
    source.write_text("\n".join(lines) + "\n")
    script.write_text(
        f"{versions[0]} {{ global: {' '.join(f'{s};' for s in symbols)} local: *; }};\n"
    )
    objects = work / f"{library.name}.o"
    _run("as", "-o", str(objects), str(source))
    _run(
        "ld",
        "-shared",
        "-soname",
        library.name,
        f"--version-script={script}",
        "-o",
        str(stub),
        str(objects),
    )
    library.write_bytes(stub.read_bytes())
    return len(symbols)


def _unreachable(modules: list[Path], folder: Path) -> list[Path]:
    """The bundled libraries no module reaches through DT_NEEDED any more."""
    bundled = {path.name: path for path in folder.iterdir()}
    reached: set[str] = set()
    pending = [name for module in modules for name in _needed(module)]
    while pending:
        name = pending.pop()
        if name in bundled and name not in reached:
            reached.add(name)
            pending += _needed(bundled[name])
    return [path for name, path in sorted(bundled.items()) if name not in reached]


def main(artifacts: Path) -> None:
    folder = artifacts / "opencv_python_headless.libs"
    modules = sorted((artifacts / "cv2").rglob("*.so"))
    video = [path for path in sorted(folder.iterdir()) if path.name.startswith(VIDEO)]
    if not modules or len(video) != len(VIDEO):
        raise SystemExit(f"OpenCV's layout changed: {modules} {video}")
    with tempfile.TemporaryDirectory() as work:
        for library in video:
            count = _stub(library, modules, Path(work))
            log.info("%s: stub of %d functions", library.name, count)
    for path in _unreachable(modules, folder):
        log.info("%s: unused, removed", path.name)
        path.unlink()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="video_stubs: %(message)s")
    main(Path(sys.argv[1]))
