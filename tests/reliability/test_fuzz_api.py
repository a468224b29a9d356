"""Hostile input against every operation of the hub's own OpenAPI schema, over real HTTP.

Schemathesis generates valid and invalid requests from the schema; every request is logged in and
signed like a partner's, so it reaches the views rather than stopping at authentication. Checks:
no server error, every error in the one error format, every success matching its own schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from tests.reliability.signed import I3Auth

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

RAW_SCHEMA = SchemaGenerator(api_version="1").get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(RAW_SCHEMA, default=str)))

HIGH_RATES = {"default": "100000/s", "authorization": "100000/s", "bulk": "100000/s"}


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
