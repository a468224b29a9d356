"""Hostile input against every operation of the hub's own OpenAPI schema, over real HTTP.

Schemathesis generates valid and invalid requests from the schema; every request is logged in and
signed like a partner's, so it reaches the views rather than stopping at authentication. Checks:
no server error, every error in the one error format, every success matching its own schema.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
import requests
import schemathesis
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from clearinghouse.lib import signing

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

RAW_SCHEMA = SchemaGenerator(api_version="1").get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(RAW_SCHEMA, default=str)))

HIGH_RATES = {"default": "100000/s", "authorization": "100000/s", "bulk": "100000/s"}


class I3Auth(requests.auth.AuthBase):
    """Signs a prepared request exactly as a partner would, and adds the bearer token."""

    def __init__(self, secret: str, access: str | None) -> None:
        self.secret = secret
        self.access = access

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        request.headers[signing.HEADER_TIMESTAMP] = timestamp
        request.headers[signing.HEADER_NONCE] = nonce
        request.headers[signing.HEADER_SIGNATURE] = signing.sign(
            self.secret, request.method or "GET", request.path_url, timestamp, nonce, body
        )
        if self.access and "Authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {self.access}"
        return request


@schemathesis.check
def error_format(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx answer under /api/ uses {"error": {"code", "message", "details"}}."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        raise AssertionError(f"error answer is not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return None


@pytest.fixture
def partner_session(live_server, both):
    """A logged-in partner holding both roles, with a session that signs every request."""
    both.client.login()
    session = requests.Session()
    session.auth = I3Auth(both.secret, both.client.access)
    return session


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@override_settings(I3_THROTTLE_RATES=HIGH_RATES)
def test_operation_never_fails_with_a_server_error(case, live_server, partner_session):
    response = case.call(base_url=live_server.url, session=partner_session)
    case.validate_response(
        response,
        checks=[st_checks.not_a_server_error, st_checks.response_schema_conformance, error_format],
    )
