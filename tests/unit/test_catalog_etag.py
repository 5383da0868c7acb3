"""If-None-Match against the catalog's strong ETags (RFC 9110 §13.1.2, weak comparison)."""

from __future__ import annotations

import pytest

from retouch.catalog.public import etag_matches, is_feature_key

ETAG = '"0123abcd"'


@pytest.mark.parametrize(
    "header", [ETAG, f"W/{ETAG}", f'"other", {ETAG}', f' "other" ,  {ETAG} ', "*"]
)
def test_a_header_naming_the_current_tag_or_star_matches(header: str) -> None:
    assert etag_matches(header, ETAG)


@pytest.mark.parametrize("header", [None, "", '"other"', "0123abcd", 'W/"0123abcde"'])
def test_a_missing_other_or_unquoted_tag_does_not_match(header: str | None) -> None:
    assert not etag_matches(header, ETAG)


@pytest.mark.parametrize("key", ["cutout", "face_swap2", "ab"])
def test_feature_keys_are_lower_case_names(key: str) -> None:
    assert is_feature_key(key)


@pytest.mark.parametrize("key", ["", "a", "Cutout", "cut-out", "9lives", "x" * 33, "cutout\n"])
def test_malformed_feature_keys_are_refused(key: str) -> None:
    assert not is_feature_key(key)
