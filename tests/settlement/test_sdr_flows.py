"""The CSP's answer (accept, dispute), the CSO's correction, the dispute window; each routed to the
other side and recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from settlement import tasks
from settlement.models import Sdr, SdrEvent
from settlement.services import sdrs_accept_undisputed
from tests.support import error_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(live, django_capture_on_commit_callbacks) -> Sdr:
    with django_capture_on_commit_callbacks(execute=True):
        assert live.cso.client.post("/sdrs/", live.cdr()).status_code == 201
    live.csp_endpoint.wait_for(1)
    sdr = Sdr.objects.get()
    assert sdr.state == "DELIVERED"
    return sdr


def post(client: Any, path: str, data: Any = None, capture: Any = None) -> Any:
    with capture(execute=True):
        return client.post(path, data)


def test_the_csp_accepts_and_the_cso_is_told(live, delivered, django_capture_on_commit_callbacks):
    r = post(live.csp.client, f"/sdrs/{delivered.pk}/accept", capture=django_capture_on_commit_callbacks)
    assert r.status_code == 200
    assert r.json()["state"] == "ACCEPTED" and r.json()["accepted_at"]
    assert [e["to_state"] for e in r.json()["events"]] == ["VALIDATED", "DELIVERED", "ACCEPTED"]
    live.cso_endpoint.wait_for(1)
    [message] = live.cso_endpoint.events("sdr.accepted")
    assert message["path"] == "/i3/sdrs"
    assert (message["json"]["sdrs"][0]["id"], message["json"]["sdrs"][0]["state"]) == (
        delivered.pk,
        "ACCEPTED",
    )
    event = SdrEvent.objects.filter(sdr=delivered, to_state="ACCEPTED").get()
    assert (event.actor, event.partner_id) == ("CSP", live.csp.partner.pk)
    # A repeat changes nothing and tells no one again.
    again = post(live.csp.client, f"/sdrs/{delivered.pk}/accept", capture=django_capture_on_commit_callbacks)
    assert again.status_code == 200 and again.json()["accepted_at"] == r.json()["accepted_at"]
    assert len(live.cso_endpoint.events()) == 1


def test_the_csp_disputes_and_the_cso_is_told(live, delivered, django_capture_on_commit_callbacks):
    body = {"reason_code": "INCORRECT_COST", "message": "Tariff T1 was 0.25 for us."}
    r = post(
        live.csp.client, f"/sdrs/{delivered.pk}/dispute", body, capture=django_capture_on_commit_callbacks
    )
    assert r.status_code == 200
    assert r.json()["state"] == "DISPUTED"
    assert r.json()["dispute"]["reason_code"] == "INCORRECT_COST"
    live.cso_endpoint.wait_for(1)
    [message] = live.cso_endpoint.events("sdr.disputed")
    assert message["json"]["sdrs"][0]["dispute"] == {
        "reason_code": "INCORRECT_COST",
        "message": body["message"],
    }
    # The same dispute again is answered as it is; another one is refused.
    assert live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", body).status_code == 200
    other = live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", {"reason_code": "OTHER"})
    assert other.status_code == 409 and error_code(other) == "already_disputed"
    # Withdrawing the dispute is accepting.
    assert live.csp.client.post(f"/sdrs/{delivered.pk}/accept").json()["state"] == "ACCEPTED"
    assert error_code(live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", body)) == "invalid_transition"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason_code": "TOO_EXPENSIVE"}, "reason_code"),
        ({"reason_code": "OTHER", "message": "x" * 501}, "message"),
    ],
)
def test_a_bad_dispute_is_400_and_changes_nothing(live, delivered, body, field):
    r = live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", body)
    assert r.status_code == 400
    assert error_code(r) == "validation_error"
    assert field in r.json()["error"]["details"]["fields"]
    delivered.refresh_from_db()
    assert delivered.state == "DELIVERED" and not delivered.events.filter(to_state="DISPUTED").exists()


def test_no_dispute_after_the_window(live, delivered, monkeypatch):
    later = timezone.now() + timedelta(days=settings.SDR_DISPUTE_WINDOW_DAYS, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    r = live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", {"reason_code": "OTHER"})
    assert r.status_code == 409 and error_code(r) == "dispute_window_closed"


def test_roles_are_checked(live, delivered):
    assert error_code(live.cso.client.post(f"/sdrs/{delivered.pk}/accept")) == "role_required"
    assert (
        error_code(live.cso.client.post(f"/sdrs/{delivered.pk}/dispute", {"reason_code": "OTHER"}))
        == "role_required"
    )
    assert error_code(live.csp.client.post(f"/sdrs/{delivered.pk}/corrections", {})) == "role_required"


def test_a_rejected_sdr_cannot_be_answered(live):
    live.cso.client.post("/sdrs/", live.cdr(currency="XXQ"))
    rejected = Sdr.objects.get()
    assert live.csp.client.post(f"/sdrs/{rejected.pk}/accept").status_code == 404
    assert error_code(live.cso.client.post(f"/sdrs/{rejected.pk}/corrections", {})) == "sdr_not_found"


def test_the_dispute_window_accepts_silent_sdrs(
    live, delivered, monkeypatch, django_capture_on_commit_callbacks
):
    disputed = Sdr.objects.get(pk=delivered.pk)
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", live.cdr(sdr_id="SDR-2"))
    # (Every write runs its deliveries: a test transaction never commits, and a delivery left
    # waiting for a commit would hold its channel.)
    post(
        live.csp.client,
        f"/sdrs/{disputed.pk}/dispute",
        {"reason_code": "OTHER"},
        django_capture_on_commit_callbacks,
    )
    silent = Sdr.objects.get(sdr_id="SDR-2")
    assert silent.state == "DELIVERED"
    # Not yet: the window has not passed.
    assert sdrs_accept_undisputed() == 0
    later = timezone.now() + timedelta(days=settings.SDR_DISPUTE_WINDOW_DAYS, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    live.cso_endpoint.received.clear()
    live.csp_endpoint.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sdrs_accept_undisputed.delay()
    silent.refresh_from_db()
    disputed.refresh_from_db()
    assert silent.state == "ACCEPTED" and silent.accepted_at == later
    assert disputed.state == "DISPUTED"
    event = silent.events.get(to_state="ACCEPTED")
    assert (event.actor, event.reason_code) == ("HUB", "DISPUTE_WINDOW")
    live.cso_endpoint.wait_for(1)
    live.csp_endpoint.wait_for(1)
    for endpoint in (live.cso_endpoint, live.csp_endpoint):
        [message] = endpoint.events("sdr.accepted")
        assert [s["sdr_id"] for s in message["json"]["sdrs"]] == ["SDR-2"]
    assert sdrs_accept_undisputed() == 0


def test_the_window_job_is_scheduled():
    assert (
        settings.CELERY_BEAT_SCHEDULE["settlement-sdrs-accept-undisputed"]["task"]
        == "settlement.sdrs_accept_undisputed"
    )


def correct(live: Any, sdr: Sdr, capture: Any, **body: Any) -> Any:
    with capture(execute=True):
        return live.cso.client.post(f"/sdrs/{sdr.pk}/corrections", body)


def test_a_correction_answers_a_dispute(live, delivered, django_capture_on_commit_callbacks):
    post(
        live.csp.client,
        f"/sdrs/{delivered.pk}/dispute",
        {"reason_code": "INCORRECT_ENERGY"},
        django_capture_on_commit_callbacks,
    )
    replacement = live.cdr(sdr_id="SDR-1-R", energy=18.0, excl=5.4, incl=6.426)
    live.csp_endpoint.received.clear()
    r = correct(
        live, delivered, django_capture_on_commit_callbacks, replacement=replacement, remark="meter fix"
    )
    assert r.status_code == 201, r.content
    credit, new = r.json()["credit"], r.json()["replacement"]
    assert (credit["sdr_id"], credit["credit"], credit["credit_reference_id"]) == ("SDR-1-C", True, "SDR-1")
    assert credit["state"] == "ACCEPTED" and credit["credit_of"] == delivered.pk
    assert credit["total_cost"] == {"excl_vat": "-6.0000", "incl_vat": "-7.1400"}
    assert credit["hub_cost"] == {"excl_vat": "-6.0000", "incl_vat": "-7.1400"}
    assert credit["cdr"]["remark"] == "meter fix"
    assert new["replacement_of"] == delivered.pk and new["total_cost"]["excl_vat"] == "5.4000"
    delivered.refresh_from_db()
    assert delivered.state == "ACCEPTED"
    event = delivered.events.get(reason_code="CREDITED")
    assert (event.from_state, event.to_state, event.actor) == ("DISPUTED", "ACCEPTED", "CSO")
    # The CSP gets one message with both, and the credited original.
    live.csp_endpoint.wait_for(1)
    [message] = live.csp_endpoint.events("sdr.corrected")
    assert [s["sdr_id"] for s in message["json"]["sdrs"]] == ["SDR-1-C", "SDR-1-R"]
    assert [(s["sdr_id"], s["state"]) for s in message["json"]["credited"]] == [("SDR-1", "ACCEPTED")]
    assert Sdr.objects.get(sdr_id="SDR-1-R").state == "DELIVERED"
    # The same correction again is answered with what was stored; another one is refused.
    again = correct(
        live, delivered, django_capture_on_commit_callbacks, replacement=replacement, remark="meter fix"
    )
    assert again.status_code == 200
    assert (again.json()["credit"]["id"], again.json()["replacement"]["id"]) == (credit["id"], new["id"])
    other = correct(
        live, delivered, django_capture_on_commit_callbacks, replacement=live.cdr(sdr_id="SDR-1-R2")
    )
    assert other.status_code == 409 and error_code(other) == "already_corrected"
    assert Sdr.objects.count() == 3


def test_a_credit_alone(live, delivered, django_capture_on_commit_callbacks):
    r = correct(live, delivered, django_capture_on_commit_callbacks, credit_id="CREDIT-77")
    assert r.status_code == 201
    assert r.json()["replacement"] is None and r.json()["credit"]["sdr_id"] == "CREDIT-77"


def test_a_rejected_replacement_stores_nothing(live, delivered, django_capture_on_commit_callbacks):
    live.csp.client.post(f"/sdrs/{delivered.pk}/dispute", {"reason_code": "OTHER"})
    r = correct(
        live, delivered, django_capture_on_commit_callbacks, replacement=live.cdr(sdr_id="R", currency="XXQ")
    )
    assert r.status_code == 422
    assert error_code(r) == "sdr_rejected"
    item = r.json()["error"]["details"]["items"][0]
    assert item["index"] == 1 and item["findings"][0]["code"] == "INVALID_CURRENCY"
    assert Sdr.objects.count() == 1
    delivered.refresh_from_db()
    assert delivered.state == "DISPUTED"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"colour": "red"}, "invalid_body"),
        ({"replacement": "not a cdr"}, "invalid_replacement"),
        ({"credit_id": "X" * 40}, "validation_error"),
    ],
)
def test_a_bad_correction_is_400(live, delivered, body, code):
    r = live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", body)
    assert r.status_code == 400
    assert error_code(r) == code
    assert Sdr.objects.count() == 1


def test_a_replacement_must_not_be_a_credit(live, delivered):
    replacement = live.cdr(sdr_id="R", credit=True, credit_reference_id="SDR-1", excl=-6.0, incl=-7.14)
    r = live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", {"replacement": replacement})
    assert error_code(r) == "invalid_replacement"


def test_a_credit_cannot_be_corrected(live, delivered):
    live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", {})
    credit = Sdr.objects.get(credit=True)
    r = live.cso.client.post(f"/sdrs/{credit.pk}/corrections", {})
    assert r.status_code == 422 and error_code(r) == "credit_not_correctable"


def test_a_credit_sent_as_an_sdr_works_like_a_correction(live, delivered):
    credit = live.cdr(sdr_id="SDR-1-C", credit=True, credit_reference_id="SDR-1", excl=-6.0, incl=-7.14)
    r = live.cso.client.post("/sdrs/", credit)
    assert r.status_code == 201, r.content
    assert r.json()["state"] == "ACCEPTED" and r.json()["credit_of"] == delivered.pk
    delivered.refresh_from_db()
    assert delivered.state == "ACCEPTED"
    # An SDR is credited once.
    twice = live.cso.client.post("/sdrs/", credit | {"id": "SDR-1-C2"})
    assert twice.status_code == 422
    assert "CREDIT_ALREADY_CREDITED" in {f["code"] for f in twice.json()["error"]["details"]["findings"]}
    # A credit cannot be disputed: it is accepted on arrival.
    credit_pk = r.json()["id"]
    assert (
        error_code(live.csp.client.post(f"/sdrs/{credit_pk}/dispute", {"reason_code": "OTHER"}))
        == "invalid_transition"
    )


def test_a_credit_of_a_settled_sdr_leaves_it_settled(live, delivered):
    Sdr.objects.filter(pk=delivered.pk).update(state="SETTLED")
    r = live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", {})
    assert r.status_code == 201
    delivered.refresh_from_db()
    assert delivered.state == "SETTLED"
    assert r.json()["credit"]["state"] == "ACCEPTED"


def test_a_correction_with_an_idempotency_key_is_replayed(live, delivered):
    headers = {"Idempotency-Key": "fix-1"}
    first = live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", {}, headers=headers)
    replay = live.cso.client.post(f"/sdrs/{delivered.pk}/corrections", {}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert Sdr.objects.filter(credit=True).count() == 1
