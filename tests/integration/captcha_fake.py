"""The loopback CAPTCHA fakes of `scripts/local/captcha_fake.py`, checking Tencent's TC3
signatures with the suite's own verifier (`tencent_sts_fake.tc3_signature_error`, the keys
`SECRET_ID` / `SECRET_KEY`), never the code under test's signer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scripts.local.captcha_fake import APP_ID, SECRET, SITE_KEY, FakeCaptcha
from scripts.local.captcha_fake import running_fake_captcha as _running
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY
from tests.integration.tencent_sts_fake import tc3_signature_error

__all__ = [
    "APP_ID",
    "SECRET",
    "SECRET_ID",
    "SECRET_KEY",
    "SITE_KEY",
    "FakeCaptcha",
    "running_fake_captcha",
]


@contextmanager
def running_fake_captcha() -> Iterator[FakeCaptcha]:
    """Both CAPTCHA fakes on a free loopback port."""
    with _running(tc3_signature_error) as fake:
        yield fake
