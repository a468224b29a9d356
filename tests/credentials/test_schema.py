"""The OpenAPI schema describes the credentials and authorization endpoints."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_lists_the_endpoints() -> None:
    response = Client().get("/api/i3/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path, methods in {
        "/api/i3/v1/credentials/": {"get", "post"},
        "/api/i3/v1/credentials/{id}": {"get", "patch"},
        "/api/i3/v1/credentials/issue": {"post"},
        "/api/i3/v1/credentials/{id}/dynamic-qr": {"get"},
        "/api/i3/v1/authorizations/": {"post"},
        "/api/i3/v1/authorizations/{id}": {"get"},
        "/api/i3/v1/authorizations/{id}/stop": {"post"},
    }.items():
        assert methods <= set(paths[path]), path


def test_this_apps_schema_has_no_warnings(tmp_path) -> None:
    from django.core.management import call_command

    call_command(
        "spectacular",
        "--fail-on-warn",
        "--urlconf",
        "tests.credentials.schema_urls",
        "--file",
        str(tmp_path / "s.yaml"),
    )
