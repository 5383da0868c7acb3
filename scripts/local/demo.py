"""The demo: all five features on the sample pictures, through a running local stack's API.

    scripts/run                # one terminal: the local stack on http://127.0.0.1:8000
    scripts/demo [--url URL]   # another: writes .local/demo/index.html and prints its path

As a client would: registers a demo user and verifies it with the link mailed to the stack's
SMTP sink (`.local/mail/*.eml`; `--mail-dir` elsewhere), uploads the sample pictures the
project draws itself (`retouch.providers.local.samples`) through presigned URLs and waits
for each to be `ready`, creates one task per feature (the images of `SAMPLE_FORMS`, the
form's other fields from shared/seed/catalog.json), follows each task to its end
(`GET /v1/tasks/{id}` with `If-None-Match`), downloads the outputs and writes a page with
input(s) and output side by side per feature, its images in files beside it (relative links).

`run_demo` takes any `httpx.Client` whose base URL is the stack, so a test can pass a
`TestClient` of the in-process gateway.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from retouch.providers.local.samples import SAMPLE_FORMS, sample_images

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "shared" / "seed" / "catalog.json"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_OUT = ROOT / ".local" / "demo"
#: Where `scripts/run`'s SMTP sink writes account mail (the verification link is read there).
DEFAULT_MAIL = ROOT / ".local" / "mail"
_VERIFY_LINK = re.compile(r"verify-email\?token=([A-Za-z0-9_-]{20,128})")
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
#: Values of the forms' other fields that show the feature best (checked against the form).
CHOICES: dict[str, dict[str, Any]] = {
    "outfit": {"garment_type": "upper"},
    "outpaint": {"ratio": "16:9"},
}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

Log = Callable[[str], None]


class DemoError(RuntimeError):
    """The stack answered something the demo cannot go on with."""


@dataclass
class FeatureRun:
    """One feature's task and the files the page shows."""

    feature: str
    task_id: str = ""
    status: str = ""
    error: str | None = None
    seconds: float = 0.0
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (form field, file name)
    outputs: list[str] = field(default_factory=list)  # file names


def log_line(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def other_fields(catalog: Path = CATALOG) -> dict[str, dict[str, Any]]:
    """Per feature, the values of its form's fields that are not uploads: the `CHOICES`, and
    for any other required field its default or first allowed value."""
    features = json.loads(catalog.read_text())["features"]
    values: dict[str, dict[str, Any]] = {}
    for feature in features:
        form = feature["form"]
        chosen: dict[str, Any] = {}
        for name, schema in form["properties"].items():
            if schema.get("x-upload"):
                continue
            if name in CHOICES.get(feature["key"], {}):
                chosen[name] = CHOICES[feature["key"]][name]
            elif name in form.get("required", ()):
                if "default" in schema:
                    chosen[name] = schema["default"]
                elif schema.get("enum"):
                    chosen[name] = schema["enum"][0]
                else:
                    raise DemoError(f"{feature['key']}: no value for required field {name!r}")
            if name in chosen and chosen[name] not in schema.get("enum", [chosen[name]]):
                raise DemoError(f"{feature['key']}.{name}: {chosen[name]!r} is not allowed")
        values[feature["key"]] = chosen
    return values


def _json(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise DemoError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def register(client: httpx.Client, mail_dir: Path, *, timeout_s: float = 30) -> dict[str, str]:
    """A fresh demo account, verified with the link mailed to it (read where the stack's
    SMTP sink writes each mail, `mail_dir/<n>.eml`); the headers that authenticate as it."""
    email = f"demo-{secrets.token_hex(4)}@example.com"
    body = {"email": email, "password": secrets.token_urlsafe(16)}
    _json(client.post("/v1/auth/register", json=body), 202)
    token = mailed_token(mail_dir, email, timeout_s=timeout_s)
    tokens = _json(client.post("/v1/auth/verify", json={"token": token}), 200)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def mailed_token(mail_dir: Path, email: str, *, timeout_s: float) -> str:
    """The token of the verification link in the mail to `email`, waiting for it to land."""
    deadline = time.monotonic() + timeout_s
    while True:
        for path in sorted(mail_dir.glob("*.eml"), reverse=True):
            text = path.read_text(encoding="utf-8", errors="replace")
            found = _VERIFY_LINK.search(text)
            if f"To: {email}" in text and found:
                return found.group(1)
        if time.monotonic() > deadline:
            raise DemoError(f"no verification mail to {email} in {mail_dir}")
        time.sleep(0.1)


def upload(
    client: httpx.Client,
    headers: Mapping[str, str],
    data: bytes,
    *,
    timeout_s: float,
    poll_s: float,
) -> str:
    """Send a PNG through a presigned URL and wait until the storage trigger has checked it;
    its upload id."""
    ticket = _json(
        client.post(
            "/v1/uploads", json={"content_type": "image/png", "size": len(data)}, headers=headers
        ),
        201,
    )
    if ticket["method"] == "POST":  # S3 / COS form upload
        sent = client.post(ticket["url"], data=ticket["fields"], files={"file": data})
    else:
        sent = client.request(
            ticket["method"], ticket["url"], headers=ticket["headers"], content=data
        )
    if not 200 <= sent.status_code < 300:
        raise DemoError(f"upload {ticket['id']}: storage answered {sent.status_code}")
    deadline = time.monotonic() + timeout_s
    while True:
        status = _json(client.get(f"/v1/uploads/{ticket['id']}", headers=headers), 200)
        if status["status"] == "ready":
            return str(ticket["id"])
        if status["status"] == "rejected" or time.monotonic() > deadline:
            raise DemoError(f"upload {ticket['id']} is {status['status']}: {status}")
        time.sleep(poll_s)


def follow(
    client: httpx.Client,
    headers: Mapping[str, str],
    task_id: str,
    *,
    timeout_s: float,
    poll_s: float,
) -> dict[str, Any]:
    """Poll a task with `If-None-Match` until it ends (a 304 costs the stack almost nothing);
    the task as last read. Past `timeout_s` the task is returned as it stands."""
    deadline = time.monotonic() + timeout_s
    etag = None
    task: dict[str, Any] = {}
    while True:
        conditional = {**headers, "If-None-Match": etag} if etag else dict(headers)
        response = client.get(f"/v1/tasks/{task_id}", headers=conditional)
        if response.status_code != 304:
            task = _json(response, 200)
            etag = response.headers.get("ETag")
        if task.get("status") in TERMINAL or time.monotonic() > deadline:
            return task
        time.sleep(poll_s)


def download(client: httpx.Client, url: str, path: Path) -> str:
    """Save a signed output URL's image as `path` with the extension of its type; its name."""
    response = client.get(url)
    if response.status_code != 200:
        raise DemoError(f"output download answered {response.status_code}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    target = path.with_suffix("." + EXTENSIONS.get(content_type, "png"))
    target.write_bytes(response.content)
    return target.name


def _figure(name: str, caption: str) -> str:
    src = html.escape(name, quote=True)
    return (
        f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(caption, quote=True)}">'
        f"</a><figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_page(out: Path, runs: Sequence[FeatureRun]) -> Path:
    """index.html in `out`: per feature, its input(s) and output(s) side by side."""
    sections = []
    for run in runs:
        figures = [_figure(name, f"input: {field_name}") for field_name, name in run.inputs]
        figures += [_figure(name, "output") for name in run.outputs]
        note = f" — {html.escape(run.error)}" if run.error else ""
        sections.append(
            f'<section class="feature" data-feature="{html.escape(run.feature)}" '
            f'data-status="{html.escape(run.status)}">'
            f"<h2>{html.escape(run.feature)}: {html.escape(run.status)}{note}</h2>"
            f"<p>task {html.escape(run.task_id)}, {run.seconds:.1f} s</p>"
            f'<div class="row">{"".join(figures)}</div></section>'
        )
    page = out / "index.html"
    page.write_text(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Retouch demo</title><style>"
        "body{font-family:sans-serif;margin:2em}"
        ".row{display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap}"
        "figure{margin:0}img{max-width:360px;max-height:360px;border:1px solid #ccc;"
        "background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}"
        "</style></head><body><h1>Retouch demo: the five features, before and after</h1>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
    return page


def _clean(out: Path) -> None:
    """Forget a previous run's page and images (only the files the demo writes)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.is_file() and path.suffix in {".html", ".png", ".jpg", ".webp"}:
            path.unlink()


def run_demo(
    client: httpx.Client,
    out: Path = DEFAULT_OUT,
    *,
    timeout_s: float = 300.0,
    poll_s: float = 0.5,
    log: Log = log_line,
    mail_dir: Path = DEFAULT_MAIL,
) -> Path:
    """Run every feature of `SAMPLE_FORMS` through the stack `client` talks to, as a user
    registered and verified through the mail in `mail_dir`; the page."""
    _clean(out)
    values = other_fields()
    headers = register(client, mail_dir)
    log("registered a demo user; drawing and uploading the sample pictures …")
    samples = sample_images()
    wanted = sorted({name for form in SAMPLE_FORMS.values() for name in form.values()})
    uploads = {}
    for name in wanted:
        (out / f"sample-{name}.png").write_bytes(samples[name])
        uploads[name] = upload(client, headers, samples[name], timeout_s=60, poll_s=poll_s)
    runs = []
    for feature, form in SAMPLE_FORMS.items():
        inputs: dict[str, Any] = {**values.get(feature, {})}
        inputs.update({field_name: uploads[name] for field_name, name in form.items()})
        task = _json(
            client.post("/v1/tasks", json={"feature": feature, "inputs": inputs}, headers=headers),
            202,
        )
        run = FeatureRun(feature, task_id=task["id"], status=task["status"])
        run.inputs = [(field_name, f"sample-{name}.png") for field_name, name in form.items()]
        runs.append(run)
        log(f"{feature}: task {task['id']} created")
    started = time.monotonic()
    for run in runs:
        task = follow(client, headers, run.task_id, timeout_s=timeout_s, poll_s=poll_s)
        run.status, run.seconds = task.get("status", "unknown"), time.monotonic() - started
        if task.get("error"):
            run.error = f"{task['error']['code']}: {task['error']['message']}"
        for number, image in enumerate((task.get("output") or {}).get("images", [])):
            run.outputs.append(download(client, image["url"], out / f"{run.feature}-{number}"))
        log(f"{run.feature}: {run.status}{f' ({run.error})' if run.error else ''}")
    return write_page(out, runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the stack (default {DEFAULT_URL})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the page")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per task at most")
    parser.add_argument(
        "--mail-dir", type=Path, default=DEFAULT_MAIL, help="where the stack's mail sink writes"
    )
    args = parser.parse_args(argv)
    with httpx.Client(base_url=args.url, timeout=30.0) as client:
        try:
            client.get("/health")
        except httpx.TransportError as exc:
            log_line(f"no stack at {args.url} ({exc}); start it with scripts/run first")
            return 2
        try:
            page = run_demo(client, args.out, timeout_s=args.timeout, mail_dir=args.mail_dir)
        except DemoError as exc:
            log_line(str(exc))
            return 1
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
