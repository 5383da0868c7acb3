"""TLS to MySQL, as production uses it: verified against a CA bundle, hostname checked."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from retouch.core.db import DatabaseUnavailable, get_database
from scripts.local.servers import MariaDBServer

pytestmark = pytest.mark.integration


def _openssl(*arguments: str, cwd: Path) -> None:
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)  # noqa: S603, S607


def make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Retouch test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        cwd=folder,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server-key.pem",
        "-out",
        "server.csr",
        cwd=folder,
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
        cwd=folder,
    )
    # A second CA that signed nothing: verification against it must fail.
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Unrelated CA",
        "-keyout",
        "other-key.pem",
        "-out",
        "other-ca.pem",
        cwd=folder,
    )


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MariaDBServer, Path]]:
    root = tmp_path_factory.mktemp("tls")
    certificates = root / "certs"
    make_certificates(certificates)
    server = MariaDBServer(
        root / "mariadb",
        extra_options=[
            f"--ssl-ca={certificates / 'ca.pem'}",
            f"--ssl-cert={certificates / 'server.pem'}",
            f"--ssl-key={certificates / 'server-key.pem'}",
        ],
    )
    server.start()
    try:
        yield server, certificates
    finally:
        server.stop()


@pytest.fixture
def tls_environment(
    tls_server: tuple[MariaDBServer, Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    server, certificates = tls_server
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RETOUCH_REDIS_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setenv("RETOUCH_DB_TLS", "true")
    return certificates


def test_connects_over_tls_verified_against_the_given_ca(
    tls_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_DB_TLS_CA_FILE", str(tls_environment / "ca.pem"))

    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SHOW SESSION STATUS LIKE 'Ssl_cipher'")

    assert row is not None and row["Value"], "the session is not encrypted"


def test_refuses_a_server_whose_certificate_the_ca_did_not_sign(
    tls_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_DB_TLS_CA_FILE", str(tls_environment / "other-ca.pem"))

    with pytest.raises(DatabaseUnavailable):
        get_database().ping()
