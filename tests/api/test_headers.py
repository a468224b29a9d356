"""clearinghouse.api.headers: a header read from the environ, as request.headers gives it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from clearinghouse.api import authentication
from clearinghouse.api.headers import environ_key, request_header
from clearinghouse.lib import signing


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("X-I3-Nonce", "HTTP_X_I3_NONCE"),
        ("prefer", "HTTP_PREFER"),
        ("Idempotency-Key", "HTTP_IDEMPOTENCY_KEY"),
        ("Content-Type", "CONTENT_TYPE"),
        ("Content-Length", "CONTENT_LENGTH"),
    ],
)
def test_the_environ_key_is_the_one_django_reads_the_header_from(name, key):
    assert environ_key(name) == key


def test_a_header_reads_as_request_headers_gives_it_on_django_and_drf_requests():
    django_request = RequestFactory().post(
        "/api/i3/v1/x",
        data=b"{}",
        content_type="application/json",
        HTTP_X_I3_NONCE="abc",
        HTTP_PREFER="wait=3",
    )
    drf_request = Request(django_request)
    for request in (django_request, drf_request):
        for name in ("X-I3-Nonce", "x-i3-nonce", "Prefer", "Content-Type"):
            assert request_header(request, name) == django_request.headers[name]
        assert request_header(request, "Idempotency-Key") is None
        assert request_header(request, "Idempotency-Key", "") == ""


def test_the_signature_headers_are_checked_once_per_request(monkeypatch):
    timestamp = str(int(signing.time.time()))
    request = Request(
        RequestFactory().get(
            "/api/i3/v1/ping",
            HTTP_X_I3_TIMESTAMP=timestamp,
            HTTP_X_I3_NONCE="n" * 16,
            HTTP_X_I3_SIGNATURE="sig",
        )
    )
    calls = []
    real = signing.check_freshness
    monkeypatch.setattr(signing, "check_freshness", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    first = authentication.signature_headers(request)
    assert authentication.signature_headers(request) == first == (timestamp, "n" * 16, "sig")
    assert len(calls) == 1


def test_headers_that_fail_the_check_fail_it_every_time():
    request = Request(RequestFactory().get("/api/i3/v1/ping", HTTP_X_I3_NONCE="n" * 16))
    for _ in range(2):
        with pytest.raises(authentication.SignatureFailed):
            authentication.signature_headers(request)
