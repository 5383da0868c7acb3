"""The contract tests' stack: the local gateway over every HTTP function of template.yaml on a
private MariaDB and Redis (schemathesis sends admin calls with random bodies, which must not
change the config the rest of the session's tests read), served by uvicorn on a free port."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from retouch.bootstrap.clients import reset_clients
from scripts.local.alert_sinks import MailSink, mail_env, smtp_sink
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import free_port, serving_app
from tests.conftest import Stack
from tests.integration.identity_support import new_account


@dataclass(frozen=True)
class ContractStack:
    """The served gateway's base URL, the Authorization headers of an admin and a user, and
    the SMTP sink its account mail reaches (each mail also a file in `mail.folder`)."""

    url: str
    admin: dict[str, str]
    user: dict[str, str]
    mail: MailSink


@pytest.fixture(scope="module")
def contract_stack(
    private_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContractStack]:
    with pytest.MonkeyPatch.context() as patch:
        # One client sends every generated request: the per-IP limit would answer most with
        # 429 (declared, but then nothing else would be exercised).
        patch.setenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", "1000000")
        patch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path_factory.mktemp("objects")))
        patch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", secrets.token_hex(24))
        port = free_port()
        # Presigned upload URLs point at this gateway, so a client can PUT to them.
        patch.setenv("RETOUCH_STORAGE_LOCAL_BASE_URL", f"http://127.0.0.1:{port}/_storage")
        with smtp_sink(tmp_path_factory.mktemp("mail")) as sink:
            for name, value in mail_env(sink).items():
                patch.setenv(name, value)
            reset_clients()
            _, admin = new_account("admin")
            _, user = new_account("user")
            with serving_app(create_gateway(load_template()), port=port) as url:
                yield ContractStack(url=url, admin=admin, user=user, mail=sink)
    reset_clients()
