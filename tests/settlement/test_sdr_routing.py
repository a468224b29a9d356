"""SDRs reach the CSP's live endpoint: signed, a few messages per batch, and become DELIVERED."""

from __future__ import annotations

import pytest

from clearinghouse.lib import signing
from clearinghouse.routing.models import OutboxMessage
from settlement.models import Sdr
from tests.settlement.sdr_support import build_world, contract_of
from tests.support import onboard

pytestmark = pytest.mark.django_db


def test_a_batch_is_pushed_to_the_csp_in_one_signed_message(live, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = live.cso.client.post("/sdrs/", [live.cdr(sdr_id=f"SDR-{n}") for n in range(3)])
    assert r.status_code == 200
    assert all(item["sdr"]["state"] == "VALIDATED" for item in r.json()["results"])
    live.csp_endpoint.wait_for(1)
    [got] = live.csp_endpoint.events("sdr.created")
    assert got["path"] == "/i3/sdrs"
    headers = got["headers"]
    assert signing.verify(
        live.csp.secret,
        "POST",
        "/i3/sdrs",
        headers["x-i3-timestamp"],
        headers["x-i3-nonce"],
        got["body"],
        headers["x-i3-signature"],
    )
    records = got["json"]["sdrs"]
    assert [s["sdr_id"] for s in records] == ["SDR-0", "SDR-1", "SDR-2"]
    assert records[0]["cdr"]["cdr_token"]["contract_id"] == live.contract
    assert records[0]["hub_cost"] == {"excl_vat": "6.0000", "incl_vat": "7.1400"}
    # The CSP took the message: the SDRs are delivered and their dispute window runs.
    for sdr in Sdr.objects.all():
        assert sdr.state == "DELIVERED" and sdr.delivered_at is not None
        assert [e.to_state for e in sdr.events.order_by("id")] == ["VALIDATED", "DELIVERED"]
    assert live.cso_endpoint.events() == []


def test_big_batches_go_out_in_chunks(live, settings, django_capture_on_commit_callbacks):
    settings.SDR_DELIVERY_BATCH_SIZE = 2
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", [live.cdr(sdr_id=f"SDR-{n}") for n in range(5)])
    live.csp_endpoint.wait_for(3)
    sizes = [len(m["json"]["sdrs"]) for m in live.csp_endpoint.events("sdr.created")]
    assert sizes == [2, 2, 1]
    assert OutboxMessage.objects.filter(event_type="sdr.created").count() == 3
    assert set(Sdr.objects.values_list("state", flat=True)) == {"DELIVERED"}


def test_each_csp_gets_its_own_message(live, endpoint_factory, django_capture_on_commit_callbacks):
    second = endpoint_factory()
    other = onboard(name="Gamma", country="FR", party="GAM", roles=["CSP"], endpoint=second.url)
    build_world(live.cso, other)
    contract = contract_of("FR", "GAM")
    token = {
        "country_code": "FR",
        "party_id": "GAM",
        "uid": "0102030405060708",
        "type": "RFID",
        "contract_id": contract,
    }
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", [live.cdr(sdr_id="A"), live.cdr(sdr_id="B", cdr_token=token)])
    live.csp_endpoint.wait_for(1)
    second.wait_for(1)
    assert [s["sdr_id"] for s in live.csp_endpoint.events("sdr.created")[0]["json"]["sdrs"]] == ["A"]
    assert [s["sdr_id"] for s in second.events("sdr.created")[0]["json"]["sdrs"]] == ["B"]


def test_an_sdr_stays_validated_while_the_csp_cannot_be_reached(live, django_capture_on_commit_callbacks):
    live.csp_endpoint.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", live.cdr())
    live.csp_endpoint.wait_for(1)
    sdr = Sdr.objects.get()
    assert sdr.state == "VALIDATED" and sdr.delivered_at is None
    message = OutboxMessage.objects.get(event_type="sdr.created")
    assert message.state == "PENDING" and message.attempts == 1
    # The CSP can still pull it and answer.
    pulled = live.csp.client.get("/sdrs/").json()["results"]
    assert [s["state"] for s in pulled] == ["VALIDATED"]
    assert live.csp.client.post(f"/sdrs/{sdr.pk}/accept").json()["state"] == "ACCEPTED"


def test_rejected_sdrs_are_never_sent(live, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", live.cdr(currency="XXQ"))
    assert live.csp_endpoint.events() == []
    assert not OutboxMessage.objects.exists()


def test_a_repeated_sdr_is_not_sent_again(live, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        live.cso.client.post("/sdrs/", live.cdr())
    with django_capture_on_commit_callbacks(execute=True):
        assert live.cso.client.post("/sdrs/", live.cdr()).status_code == 200
    live.csp_endpoint.wait_for(1)
    assert len(live.csp_endpoint.events()) == 1
