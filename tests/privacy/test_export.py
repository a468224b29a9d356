"""GET /privacy/export: everything the hub holds on one contract, for the CSP that owns it, and
nothing of any other contract; every export is recorded."""

from __future__ import annotations

import json

import pytest

from clearinghouse.models import AuditEntry
from credentials.models import AuthorizationRecord, DataExport
from credentials.privacy.contracts import pseudonym_of
from sessions.models import ChargingSession, RemoteCommand, Reservation
from settlement.models import Sdr
from tests.support import error_code

from .conftest import (
    DRIVER,
    OTHER_DRIVER,
    PASSWORD,
    PIN,
    UID,
    UID_OTHER,
    USERNAME,
    World,
    populate,
)

pytestmark = pytest.mark.django_db


def test_the_export_holds_every_record_of_the_contract_and_nothing_else(world: World) -> None:
    populate(world)
    r = world.csp.client.get(f"/privacy/export?contract_id={world.contract.replace('-', '').lower()}")
    assert r.status_code == 200, r.content
    assert r.headers["Cache-Control"] == "no-store"
    doc = r.json()
    assert doc["contract_id"] == world.contract and doc["csp"] == "NL-BMO"

    def ids(section: str, key: str = "id") -> set[object]:
        return {item[key] for item in doc[section]}

    assert doc["personal_data"] == [{**DRIVER, "updated_at": doc["personal_data"][0]["updated_at"]}]
    assert sorted(c["type"] for c in doc["credentials"]) == ["APP_USER", "PNC", "QR_STATIC", "RFID"]
    assert {c["has_pin"] for c in doc["credentials"] if c["type"] == "QR_STATIC"} == {True}
    assert ids("authorizations") == set(
        AuthorizationRecord.objects.filter(contract_id=world.contract).values_list("pk", flat=True)
    )
    # Four presented credentials, and the authorizations of the remote start and the reservation.
    assert len(doc["authorizations"]) == 6
    assert ids("sessions") == {"S-1"}
    assert ids("commands") == {
        str(uid)
        for uid in RemoteCommand.objects.filter(contract_id=world.contract).values_list("uid", flat=True)
    }
    assert ids("reservations", "reservation_id") == {"R-1"}
    assert ids("sdrs", "sdr_id") == {"SDR-1", "SDR-2"}
    assert ids("sdrs") == set(Sdr.objects.filter(contract_id=world.contract).values_list("pk", flat=True))
    assert all(s["events"] for s in doc["sdrs"])  # with their history
    assert doc["erasures"] == [] and doc["exports"] == []
    assert doc["issued_contracts"] == []

    text = json.dumps(doc)
    # No secret: PINs, passwords, the card's UID and the username appear as hints at most.
    for secret in (PIN, PASSWORD, UID, USERNAME):
        assert secret not in text, secret
    # Nothing of the other contract (same CSP) or of the other CSP's contract.
    others = [world.other_contract, world.other_contract.replace("-", ""), world.foreign_contract, UID_OTHER]
    for other in [*others, *OTHER_DRIVER.values(), "S-OTHER", "SDR-3"]:
        assert other not in text, other

    # Recorded: an export record and an audit entry, neither naming the contract.
    record = DataExport.objects.get()
    assert record.pseudonym == pseudonym_of(world.contract) and record.csp_id == world.csp.partner.pk
    assert record.counts["sessions"] == 1 and record.counts["sdrs"] == 2
    entry = AuditEntry.objects.get(action="privacy.export")
    assert entry.object_id == str(record.pk) and world.contract not in json.dumps(entry.details)
    assert doc["export_id"] == record.pk

    again = world.csp.client.get(f"/privacy/export?contract_id={world.contract}").json()
    assert [e["id"] for e in again["exports"]] == [record.pk]


def test_after_an_erasure_the_export_shows_the_erasure_only(world: World) -> None:
    populate(world)
    erasure = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}).json()
    doc = world.csp.client.get(f"/privacy/export?contract_id={world.contract}").json()
    assert [e["id"] for e in doc["erasures"]] == [erasure["id"]]
    assert doc["erasures"][0]["state"] == "COMPLETED"
    for section in (
        "personal_data",
        "credentials",
        "authorizations",
        "sessions",
        "commands",
        "reservations",
        "sdrs",
    ):
        assert doc[section] == [], section
    # The pseudonymised records are still there, no longer attributed to the contract.
    assert ChargingSession.objects.filter(contract_id=erasure["pseudonym"]).count() == 1
    assert Reservation.objects.filter(contract_id=erasure["pseudonym"]).count() == 1


def test_the_export_is_for_the_owning_csp_only(world: World) -> None:
    populate(world)
    r = world.other_csp.client.get(f"/privacy/export?contract_id={world.contract}")
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = world.cso.client.get(f"/privacy/export?contract_id={world.contract}")
    assert r.status_code == 403 and error_code(r) == "role_required"
    assert DataExport.objects.count() == 0
    # The other CSP exports its own contract and sees nothing of this CSP's.
    doc = world.other_csp.client.get(f"/privacy/export?contract_id={world.foreign_contract}").json()
    assert len(doc["credentials"]) == 1 and world.contract not in json.dumps(doc)


@pytest.mark.parametrize(
    "query,code",
    [
        ("", "missing_contract_id"),
        ("?contract_id=", "missing_contract_id"),
        ("?contract_id=XX", "invalid_contract_id"),
    ],
)
def test_bad_export_requests_answer_400(world: World, query: str, code: str) -> None:
    r = world.csp.client.get(f"/privacy/export{query}")
    assert r.status_code == 400 and error_code(r) == code
