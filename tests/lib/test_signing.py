"""The signing recipe, pinned to the worked example of docs/api.md."""

from __future__ import annotations

import pytest

from clearinghouse.lib import signing

SECRET = "partner-secret-example-0123456789"
LOGIN_BODY = b'{"username":"deabc-api","password":"correct horse battery staple"}'


def test_worked_example_login():
    assert (
        signing.body_digest(LOGIN_BODY) == "0fba5ebf853acb54fe6ced324e78d404f71c270bce0dbf9b3edbf9d7ad8a32eb"
    )
    assert signing.string_to_sign(
        "POST", "/api/i3/v1/auth/token", "1790000000", "4f9c2a7d1e6b8c3a", LOGIN_BODY
    ) == (
        "POST\n/api/i3/v1/auth/token\n1790000000\n4f9c2a7d1e6b8c3a\n"
        "0fba5ebf853acb54fe6ced324e78d404f71c270bce0dbf9b3edbf9d7ad8a32eb"
    )
    assert (
        signing.sign(SECRET, "POST", "/api/i3/v1/auth/token", "1790000000", "4f9c2a7d1e6b8c3a", LOGIN_BODY)
        == "1c528a8e45c21011d01ad085f9f53ec547774989434c162246c4a22dd8de6961"
    )


def test_worked_example_get_with_query_and_no_body():
    assert signing.body_digest(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert (
        signing.sign(
            SECRET, "GET", "/api/i3/v1/agreements/?limit=2", "2026-11-26T10:00:00Z", "0a1b2c3d4e5f6a7b", b""
        )
        == "e4981c80b502b334875111c196353575f5be2c7663ab646aab55d434cf81c714"
    )


def test_method_is_upper_cased_and_verify_is_strict():
    sig = signing.sign(SECRET, "get", "/x", "1", "n" * 8, b"")
    assert signing.verify(SECRET, "GET", "/x", "1", "n" * 8, b"", sig)
    assert signing.verify(SECRET, "GET", "/x", "1", "n" * 8, b"", sig.upper())
    assert not signing.verify(SECRET, "GET", "/x?", "1", "n" * 8, b"", sig)
    assert not signing.verify(SECRET, "GET", "/x", "1", "n" * 8, b" ", sig)
    assert not signing.verify("other", "GET", "/x", "1", "n" * 8, b"", sig)


def test_target_of_keeps_the_query_exactly():
    assert signing.target_of("https://hub.example/api/i3/v1/sdrs/?since=2026-01-01T00:00:00Z&b=1") == (
        "/api/i3/v1/sdrs/?since=2026-01-01T00:00:00Z&b=1"
    )
    assert signing.target_of("https://hub.example/api/i3/v1/partners/me") == "/api/i3/v1/partners/me"


def test_signed_headers_verify():
    h = signing.signed_headers(SECRET, "POST", "https://hub.example/api/i3/v1/x?y=1", b"{}", now=1790000000)
    assert h[signing.HEADER_TIMESTAMP] == "1790000000"
    assert signing.verify(
        SECRET,
        "POST",
        "/api/i3/v1/x?y=1",
        "1790000000",
        h[signing.HEADER_NONCE],
        b"{}",
        h[signing.HEADER_SIGNATURE],
    )


@pytest.mark.parametrize(
    "value,expected",
    [
        ("1790000000", 1790000000.0),
        ("2026-11-26T10:00:00Z", 1795687200.0),
        ("2026-11-26T11:00:00+01:00", 1795687200.0),
    ],
)
def test_parse_timestamp(value, expected):
    assert signing.parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["", "soon", "2026-11-26T10:00:00", "12.5"])
def test_parse_timestamp_refuses(value):
    with pytest.raises(signing.SignatureError):
        signing.parse_timestamp(value)


def test_freshness_window():
    signing.check_freshness("1000", max_skew=300, now=1300)
    with pytest.raises(signing.SignatureError):
        signing.check_freshness("1000", max_skew=300, now=1301)
