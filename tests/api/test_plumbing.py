"""Shared API plumbing: error format, request ids, idempotency, throttling, audit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import override_settings

from clearinghouse.models import AuditEntry, IdempotencyRecord
from tests.api import probe_urls
from tests.support import error_code

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.probe_urls")]


def test_request_id_is_generated_and_echoed(cso):
    r = cso.client.get("/partners/me")
    assert len(r["X-Request-ID"]) == 32
    r = cso.client.get("/partners/me", headers={"X-Request-ID": "partner-req-42"})
    assert r["X-Request-ID"] == "partner-req-42"
    r = cso.client.get("/partners/me", headers={"X-Request-ID": "bad id with spaces"})
    assert r["X-Request-ID"] != "bad id with spaces"


def test_domain_error_uses_the_error_format(cso):
    r = cso.client.post("/probe/create", {"fail": True})
    assert r.status_code == 422
    assert r.json() == {
        "error": {
            "code": "probe_refused",
            "message": "The probe refuses this.",
            "details": {"why": "asked to"},
        }
    }


def test_idempotency_key_replays_the_first_answer(cso):
    before = probe_urls.calls["count"]
    r1 = cso.client.post("/probe/create", {"a": 1}, headers={"Idempotency-Key": "k-1"})
    r2 = cso.client.post("/probe/create", {"a": 1}, headers={"Idempotency-Key": "k-1"})
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert r2["Idempotent-Replayed"] == "true"
    assert probe_urls.calls["count"] == before + 1
    assert AuditEntry.objects.filter(action="probe.create").count() == 1


def test_idempotency_key_with_a_different_body_is_409(cso):
    cso.client.post("/probe/create", {"a": 1}, headers={"Idempotency-Key": "k-2"})
    r = cso.client.post("/probe/create", {"a": 2}, headers={"Idempotency-Key": "k-2"})
    assert r.status_code == 409
    assert error_code(r) == "idempotency_key_reused"


def test_idempotency_keys_are_per_partner(cso, csp):
    r1 = cso.client.post("/probe/create", {"a": 1}, headers={"Idempotency-Key": "same"})
    r2 = csp.client.post("/probe/create", {"a": 1}, headers={"Idempotency-Key": "same"})
    assert r1.json()["id"] != r2.json()["id"]


def test_client_errors_are_replayed_too(cso):
    r1 = cso.client.post("/probe/create", {"fail": True}, headers={"Idempotency-Key": "k-3"})
    r2 = cso.client.post("/probe/create", {"fail": True}, headers={"Idempotency-Key": "k-3"})
    assert r1.status_code == r2.status_code == 422
    assert r2["Idempotent-Replayed"] == "true"


def test_server_error_releases_the_key(cso):
    cso.client.django.raise_request_exception = False
    r = cso.client.post("/probe/boom", {}, headers={"Idempotency-Key": "k-4"})
    assert r.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="k-4").exists()


def test_bad_idempotency_key_is_400(cso):
    r = cso.client.post("/probe/create", {}, headers={"Idempotency-Key": "x" * 300})
    assert r.status_code == 400
    assert error_code(r) == "invalid_idempotency_key"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_identical_requests_do_the_work_once(cso):
    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite cannot serve several threads; covered on PostgreSQL in CI")
    cso.client.login()
    before = probe_urls.calls["count"]
    results = []

    def fire():
        from tests.support import I3Client

        client = I3Client(username=cso.username, password=cso.password, secret=cso.secret)
        client.access = cso.client.access
        results.append(client.post("/probe/create", {"n": 1}, headers={"Idempotency-Key": "race"}))
        connection.close()

    threads = [threading.Thread(target=fire) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probe_urls.calls["count"] == before + 1
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1


@override_settings(
    I3_THROTTLE_RATES={"default": "1000/s", "probe": "3/m", "authorization": "1/s", "bulk": "1/s"}
)
def test_throttling_is_per_partner_with_retry_after(cso, csp):
    for _ in range(3):
        assert cso.client.get("/probe/throttled").status_code == 200
    r = cso.client.get("/probe/throttled")
    assert r.status_code == 429
    assert error_code(r) == "throttled"
    assert 1 <= int(r["Retry-After"]) <= 60
    # Another partner is not affected by the first one's burst.
    assert csp.client.get("/probe/throttled").status_code == 200


def test_throttling_fails_open_when_the_cache_is_down(cso, monkeypatch):
    from django.core.cache import cache

    cso.client.login()

    def down(*a, **k):
        raise ConnectionError("down")

    monkeypatch.setattr(cache, "incr", down)
    assert cso.client.get("/probe/throttled").status_code == 200


def test_api_writes_are_audited_with_request_id(cso):
    r = cso.client.post("/probe/create", {"x": 1}, headers={"X-Request-ID": "audit-req-1"})
    assert r.status_code == 201
    entries = AuditEntry.objects.filter(request_id="audit-req-1")
    assert {e.channel for e in entries} == {"SYSTEM", "API"}
    api_entry = entries.get(channel="API")
    assert api_entry.partner_id == cso.partner.pk
    assert api_entry.actor_label == cso.username
    assert api_entry.status_code == 201


def test_idempotency_key_covers_the_query_string(cso):
    cso.client.post("/probe/create?mode=delta", {"a": 1}, headers={"Idempotency-Key": "k-q"})
    r = cso.client.post("/probe/create?mode=full", {"a": 1}, headers={"Idempotency-Key": "k-q"})
    assert r.status_code == 409
    assert error_code(r) == "idempotency_key_reused"


def test_too_large_body_is_413(cso, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = cso.client.post("/probe/create", {"blob": "x" * 5000})
    assert r.status_code == 413
    assert error_code(r) == "payload_too_large"


def test_database_outage_answers_503_not_500(cso, monkeypatch):
    from django.db import OperationalError

    from partners import selectors

    cso.client.login()

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "partner_get", down)
    r = cso.client.get("/partners/me")
    assert r.status_code == 503
    assert error_code(r) == "unavailable"
    assert r["Retry-After"] == "5"


def test_api_requests_skip_the_browser_middleware_and_the_admin_keeps_it(cso):
    from django.contrib.auth.models import User
    from django.test import Client

    # A cookie on an API request is ignored: no session is loaded, none is saved, no user or
    # messages are attached.
    cso.client.django.cookies["sessionid"] = "not-a-session"
    r = cso.client.get("/partners/me")
    assert r.status_code == 200
    assert "sessionid" not in r.cookies or r.cookies["sessionid"].value == ""
    assert "Cookie" not in r.get("Vary", "")
    assert not hasattr(r.wsgi_request, "session") and not hasattr(r.wsgi_request, "_messages")
    # The admin still has its session, its logged-in user and CSRF.
    User.objects.create_superuser("staff", "staff@example.org", "pw-for-tests-only")
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="staff", password="pw-for-tests-only")
    page = browser.get("/admin/")
    assert page.status_code == 200 and page.wsgi_request.user.is_superuser
    assert browser.post("/admin/logout/").status_code == 403  # no CSRF token
