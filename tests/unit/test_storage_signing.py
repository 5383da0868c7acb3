"""Presigned local URLs and temporary credentials: accepted only for what was signed."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from retouch.core.errors import REGISTRY
from retouch.storage import LocalStorage, SignatureInvalid, UploadTooLarge
from retouch.storage.signing import SECURITY_TOKEN, SIGNATURE
from tests.unit.storage_support import BASE_URL, SecondsClock, make_storage

KEY = "uploads/usr_abc/upl_123"
OTHER_KEY = "uploads/usr_abc/upl_456"
PNG = "image/png"


@pytest.fixture
def clock() -> SecondsClock:
    return SecondsClock()


@pytest.fixture
def storage(tmp_path: Path, clock: SecondsClock) -> LocalStorage:
    return make_storage(tmp_path, clock)


def _split(url: str) -> tuple[str, dict[str, str]]:
    """The key and the query parameters of a local URL."""
    parts = urlsplit(url)
    assert url.startswith(BASE_URL + "/")
    return unquote(parts.path.removeprefix(urlsplit(BASE_URL).path + "/")), dict(
        parse_qsl(parts.query)
    )


def _upload(
    storage: LocalStorage,
    url: str,
    *,
    body: bytes,
    content_type: str = PNG,
    method: str = "PUT",
    key: str | None = None,
) -> None:
    signed_key, query = _split(url)
    storage.accept_upload(
        key or signed_key,
        method=method,
        query=query,
        headers={"Content-Type": content_type},
        body=body,
    )


def _ticket_url(storage: LocalStorage, *, max_bytes: int = 10, expires_s: int = 300) -> str:
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=max_bytes, expires_s=expires_s)
    assert (ticket.method, dict(ticket.headers)) == ("PUT", {"Content-Type": PNG})
    return ticket.url


def test_upload_of_the_signed_type_and_size_is_stored(storage: LocalStorage) -> None:
    _upload(storage, _ticket_url(storage), body=b"0123456789")

    info = storage.head(KEY)
    assert info is not None and (info.size, info.content_type) == (10, PNG)


def test_upload_ticket_expiry_is_reported(storage: LocalStorage, clock: SecondsClock) -> None:
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=10, expires_s=300)

    assert ticket.expires_at.timestamp() == clock.now + 300


def test_upload_of_another_content_type_is_refused(storage: LocalStorage) -> None:
    with pytest.raises(SignatureInvalid):
        _upload(storage, _ticket_url(storage), body=b"x", content_type="text/html")
    assert storage.head(KEY) is None


def test_upload_larger_than_signed_is_refused_with_413(storage: LocalStorage) -> None:
    with pytest.raises(UploadTooLarge) as refused:
        _upload(storage, _ticket_url(storage, max_bytes=10), body=b"x" * 11)

    assert refused.value.error_code.status == 413
    assert storage.head(KEY) is None


def test_raising_the_signed_size_in_the_url_breaks_the_signature(storage: LocalStorage) -> None:
    url = _ticket_url(storage, max_bytes=10).replace("Max-Bytes=10", "Max-Bytes=1000000")

    with pytest.raises(SignatureInvalid):
        _upload(storage, url, body=b"x" * 11)


def test_upload_url_does_not_work_for_another_key(storage: LocalStorage) -> None:
    with pytest.raises(SignatureInvalid):
        _upload(storage, _ticket_url(storage), body=b"x", key=OTHER_KEY)
    assert storage.head(OTHER_KEY) is None


def test_upload_url_does_not_work_for_another_method(storage: LocalStorage) -> None:
    with pytest.raises(SignatureInvalid):
        _upload(storage, _ticket_url(storage), body=b"x", method="POST")


def test_upload_url_is_refused_after_expiry(storage: LocalStorage, clock: SecondsClock) -> None:
    url = _ticket_url(storage, expires_s=300)
    clock.advance(300)

    with pytest.raises(SignatureInvalid):
        _upload(storage, url, body=b"x")


def test_upload_url_with_a_flipped_signature_byte_is_refused(storage: LocalStorage) -> None:
    key, query = _split(_ticket_url(storage))
    signature = query[SIGNATURE]
    query[SIGNATURE] = ("B" if signature[0] == "A" else "A") + signature[1:]

    with pytest.raises(SignatureInvalid):
        storage.accept_upload(
            key, method="PUT", query=query, headers={"Content-Type": PNG}, body=b"x"
        )


def test_upload_url_without_a_signature_is_refused(storage: LocalStorage) -> None:
    with pytest.raises(SignatureInvalid):
        _upload(storage, f"{BASE_URL}/{KEY}?X-Retouch-Expires=9999999999", body=b"x")


def test_download_url_reads_the_object_until_it_expires(
    storage: LocalStorage, clock: SecondsClock
) -> None:
    storage.put(KEY, b"image", PNG)
    key, query = _split(storage.presign_download(KEY, expires_s=60))

    data, info = storage.serve_download(key, query=query)
    assert (data, info.content_type) == (b"image", PNG)

    clock.advance(60)
    with pytest.raises(SignatureInvalid):
        storage.serve_download(key, query=query)


def test_download_url_is_refused_for_another_key_or_a_tampered_expiry(
    storage: LocalStorage,
) -> None:
    storage.put(KEY, b"mine", PNG)
    storage.put(OTHER_KEY, b"theirs", PNG)
    key, query = _split(storage.presign_download(KEY, expires_s=60))

    with pytest.raises(SignatureInvalid):
        storage.serve_download(OTHER_KEY, query=query)
    query["X-Retouch-Expires"] = str(int(query["X-Retouch-Expires"]) + 3600)
    with pytest.raises(SignatureInvalid):
        storage.serve_download(key, query=query)


def test_an_upload_url_cannot_be_used_to_download(storage: LocalStorage) -> None:
    storage.put(KEY, b"image", PNG)
    key, query = _split(_ticket_url(storage))

    with pytest.raises(SignatureInvalid):
        storage.serve_download(key, query=query)


def test_credentials_allow_uploads_of_their_one_key_only(
    storage: LocalStorage, clock: SecondsClock
) -> None:
    credentials = storage.temporary_credentials(KEY, expires_s=900)
    headers = {"Content-Type": PNG, SECURITY_TOKEN: credentials.session_token}

    storage.accept_upload(KEY, method="PUT", query={}, headers=headers, body=b"ok")
    assert storage.get(KEY) == b"ok"
    assert credentials.key == KEY
    for outside in (
        "uploads/usr_abc/upl_1234",  # a sibling under the same user's prefix
        "uploads/usr_abc/upl_12",
        "uploads/usr_abcd/upl_1",
        "uploads/usr_other/upl_1",
        "outputs/usr_abc/x",
    ):
        with pytest.raises(SignatureInvalid):
            storage.accept_upload(outside, method="PUT", query={}, headers=headers, body=b"no")
        assert storage.head(outside) is None
    assert credentials.expires_at.timestamp() == clock.now + 900


def test_credentials_are_refused_after_expiry_or_when_tampered(
    storage: LocalStorage, clock: SecondsClock
) -> None:
    token = storage.temporary_credentials(KEY, expires_s=900).session_token
    body, _, mac = token.partition(".")
    forged = storage.temporary_credentials("uploads/usr_evil/upl_1", expires_s=900).session_token
    # The scope of one token with the MAC of another.
    spliced = f"{forged.partition('.')[0]}.{mac}"

    with pytest.raises(SignatureInvalid):
        storage.accept_upload(
            "uploads/usr_evil/upl_1",
            method="PUT",
            query={},
            headers={SECURITY_TOKEN: spliced},
            body=b"x",
        )
    clock.advance(900)
    with pytest.raises(SignatureInvalid):
        storage.accept_upload(
            KEY, method="PUT", query={}, headers={SECURITY_TOKEN: token}, body=b"x"
        )
    assert body  # the token has a payload part


def test_a_content_type_that_could_forge_another_canonical_string_is_never_signed(
    storage: LocalStorage,
) -> None:
    with pytest.raises(ValueError, match="control character"):
        storage.presign_upload(KEY, content_type="image/png\n99999", max_bytes=1, expires_s=60)


def test_signature_codes_are_in_the_registry_in_both_languages() -> None:
    for code, status in (("SIGNATURE_INVALID", 403), ("UPLOAD_TOO_LARGE", 413)):
        entry = REGISTRY[code]
        assert entry.status == status
        assert entry.zh_cn and entry.en and entry.zh_cn != entry.en
