"""RETOUCH_DB_TLS_CA_FILE (the template's DbTlsCaFile, for a direct Aurora/RDS endpoint whose
certificate only the RDS CA bundle verifies) is the one trust anchor of the SSL context the
database hands pymysql; without it the system CAs verify (RDS Proxy's ACM certificate).
tests/integration/storage/test_db_tls.py connects to a real server both ways."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from retouch.core.db import _tls_context
from retouch.core.settings import get_settings
from tests.unit.test_settings import REQUIRED


def _write_ca(path: Path, name: str) -> None:
    """A self-signed CA certificate named `name`, as PEM at `path`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RETOUCH_DB_TLS", "true")
    return monkeypatch


def test_the_configured_ca_bundle_is_the_only_trust_anchor_of_the_mysql_context(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a CA bundle named by RETOUCH_DB_TLS_CA_FILE
    _write_ca(tmp_path / "rds-global-bundle.pem", "Test RDS Root CA")
    environment.setenv("RETOUCH_DB_TLS_CA_FILE", str(tmp_path / "rds-global-bundle.pem"))

    # WHEN the database builds the context it gives pymysql
    settings = get_settings()
    context = _tls_context(settings.db_tls_ca_file)

    # THEN it verifies the server's certificate and host name against that CA only
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    anchors = [
        x509.load_der_x509_certificate(der).subject.rfc4514_string()
        for der in context.get_ca_certs(binary_form=True)
    ]
    assert anchors == ["CN=Test RDS Root CA"]


def test_a_missing_ca_bundle_is_an_error_not_a_fallback_to_the_system_cas(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("RETOUCH_DB_TLS_CA_FILE", str(tmp_path / "absent.pem"))

    with pytest.raises(FileNotFoundError):
        _tls_context(get_settings().db_tls_ca_file)
