"""Runtime: health probes, production settings refusals, check --deploy, the OpenAPI schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
GOOD_PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "p" * 20 + "r0duct10n-s3cret-k3y-th4t-is-l0ng-en0ugh-xyz",
    "DJANGO_ALLOWED_HOSTS": "hub.example.com",
    "FIELD_ENCRYPTION_KEY": "a-long-random-field-encryption-key-for-tests-0123456789",
    "CREDENTIAL_PEPPER": "a-long-random-credential-pepper-for-tests-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    assert r.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_503_when_the_broker_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable"


@pytest.mark.django_db
def test_readyz_503_when_the_database_is_unreachable(client, monkeypatch):
    from clearinghouse import health

    def broken():
        raise RuntimeError("db down")

    monkeypatch.setattr(health.connection, "cursor", broken)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["details"]["database"] == "RuntimeError"


@pytest.mark.parametrize(
    "override,needle",
    [
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS"),
        ({"FIELD_ENCRYPTION_KEY": ""}, "FIELD_ENCRYPTION_KEY"),
        ({"CREDENTIAL_PEPPER": ""}, "CREDENTIAL_PEPPER"),
    ],
)
def test_production_refuses_unsafe_configuration(override, needle):
    env = {**GOOD_PRODUCTION_ENV, **override}
    env = {k: v for k, v in env.items() if v != ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert needle in result.stderr


def test_check_deploy_is_clean_in_production_mode():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=GOOD_PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_enforces_https():
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0, s.SECURE_PROXY_SSL_HEADER)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, **GOOD_PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "clearinghouse.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_openapi_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn", "--api-version", "1")
    text = target.read_text()
    assert "/api/i3/v1/auth/token" in text
    assert "/api/i3/v1/partners/me" in text


@pytest.mark.django_db
def test_api_docs_are_served(client):
    assert client.get("/api/i3/v1/schema/").status_code == 200
    assert client.get("/api/i3/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_migrate_locked_runs_with_nothing_left_to_do():
    out = __import__("io").StringIO()
    call_command("migrate_locked", stdout=out)
    assert "No migrations to apply" in out.getvalue()


def test_the_wsgi_application_freezes_what_it_loaded():
    """A worker's modules and URL patterns are loaded and then left out of the collector's passes."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    code = (
        "import gc, sys, clearinghouse.wsgi as w; "
        "assert callable(w.application) and gc.get_freeze_count() > 10_000; "
        "assert 'settlement.api.views' in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
