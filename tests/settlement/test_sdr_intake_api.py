"""POST /sdrs/: single and bulk intake, per-item answers, de-duplication, errors, isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from settlement.models import Sdr, SdrChargingPeriod, SdrEvent, SdrFinding
from tests.settlement.sdr_support import World, build_world, contract_of
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db


def batch(world: World, count: int, **kw: Any) -> list[dict[str, Any]]:
    return [world.cdr(sdr_id=f"SDR-{n}", **kw) for n in range(count)]


def snapshot() -> tuple[int, int, int, int]:
    return (
        Sdr.objects.count(),
        SdrChargingPeriod.objects.count(),
        SdrFinding.objects.count(),
        SdrEvent.objects.count(),
    )


def test_one_sdr_is_created_rated_and_stored_with_its_periods(world):
    r = world.cso.client.post("/sdrs/", world.cdr())
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["sdr_id"] == "SDR-1"
    assert body["state"] == "DELIVERED"  # the CSP has no endpoint: it pulls
    assert body["cso"] == "DE*ACH" and body["csp"] == "NL-BMO"
    assert body["contract_id"] == world.contract
    assert body["total_cost"] == {"excl_vat": "6.0000", "incl_vat": "7.1400"}
    assert body["hub_cost"] == {"excl_vat": "6.0000", "incl_vat": "7.1400"}
    assert body["tariff_source"] == "PUBLISHED"
    assert body["findings"] == []
    assert body["cdr"]["cdr_token"]["contract_id"] == world.contract
    sdr = Sdr.objects.get()
    assert sdr.total_energy == 20 and sdr.currency == "EUR"
    period = sdr.periods.get()
    assert (period.energy, period.tariff_id) == (20, "T1")
    assert period.end_date_time == sdr.end_date_time
    assert [(e.from_state, e.to_state) for e in sdr.events.order_by("id")] == [
        ("RECEIVED", "VALIDATED"),
        ("VALIDATED", "DELIVERED"),
    ]


def test_the_same_sdr_again_answers_200_with_the_stored_record(world):
    first = world.cso.client.post("/sdrs/", world.cdr())
    again = world.cso.client.post("/sdrs/", world.cdr(last_updated="2025-03-05T00:00:00Z"))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["received_at"] == first.json()["received_at"]
    assert Sdr.objects.count() == 1


def test_another_content_under_a_stored_id_is_409_and_changes_nothing(world):
    world.cso.client.post("/sdrs/", world.cdr())
    before = snapshot()
    r = world.cso.client.post("/sdrs/", world.cdr(energy=21.0, excl=6.3, incl=7.497))
    assert r.status_code == 409
    assert error_code(r) == "sdr_conflict"
    assert r.json()["error"]["details"]["sdr"]["id"] == Sdr.objects.get().pk
    assert snapshot() == before


def test_a_rejected_sdr_is_422_with_findings_and_kept_as_rejected(world):
    r = world.cso.client.post("/sdrs/", world.cdr(end_date_time="2025-03-04T09:00:00Z"))
    assert r.status_code == 422
    assert error_code(r) == "sdr_rejected"
    details = r.json()["error"]["details"]
    assert "END_BEFORE_START" in {f["code"] for f in details["findings"]}
    assert details["sdr"]["state"] == "REJECTED"
    stored = Sdr.objects.get()
    assert stored.state == "REJECTED" and stored.findings.filter(code="END_BEFORE_START").exists()
    # Sent again, the same rejection is not stored twice; the fixed record takes the id.
    assert world.cso.client.post("/sdrs/", world.cdr(end_date_time="2025-03-04T09:00:00Z")).status_code == 422
    assert Sdr.objects.count() == 1
    fixed = world.cso.client.post("/sdrs/", world.cdr())
    assert fixed.status_code == 201
    assert Sdr.objects.filter(state="DELIVERED").count() == 1


def test_a_warning_keeps_the_sdr(world):
    r = world.cso.client.post("/sdrs/", world.cdr(excl=7.0, incl=8.33))
    assert r.status_code == 201
    assert [f["code"] for f in r.json()["findings"]] == ["COST_MISMATCH"]
    assert r.json()["cost_difference"] == "1.0000"
    assert Sdr.objects.get().has_warnings


def test_a_bulk_of_500_is_stored_with_one_result_per_item(world):
    r = world.cso.client.post("/sdrs/", batch(world, 500))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["summary"] == {"created": 500, "existing": 0, "rejected": 0, "conflict": 0, "invalid": 0}
    assert [item["index"] for item in body["results"]] == list(range(500))
    assert all(item["status"] == 201 and item["sdr"]["state"] == "DELIVERED" for item in body["results"])
    assert "cdr" not in body["results"][0]["sdr"]  # bulk answers carry the records without the CDR
    assert Sdr.objects.count() == 500 and SdrChargingPeriod.objects.count() == 500


def test_501_items_are_refused_and_nothing_is_stored(world):
    r = world.cso.client.post("/sdrs/", batch(world, 501))
    assert r.status_code == 400
    assert error_code(r) == "too_many_items"
    assert Sdr.objects.count() == 0


def test_one_bad_item_never_loses_the_others(world):
    items = batch(world, 3)
    items[1] = world.cdr(sdr_id="SDR-1", currency="XXQ")
    items.append("not a cdr")
    items.append(world.cdr(sdr_id="SDR-0"))  # the same as item 0
    items.append(world.cdr(sdr_id="SDR-2", energy=1.0, excl=0.3, incl=0.357))  # differs from item 2
    r = world.cso.client.post("/sdrs/", items)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [(x["status"], x["result"]) for x in results] == [
        (201, "created"),
        (422, "rejected"),
        (201, "created"),
        (400, "invalid"),
        (200, "existing"),
        (409, "conflict"),
    ]
    assert results[1]["error"]["code"] == "sdr_rejected"
    assert results[1]["error"]["details"]["findings"][0]["code"] == "INVALID_CURRENCY"
    assert results[3]["error"]["code"] == "invalid_item"
    assert results[4]["sdr"]["id"] == results[0]["sdr"]["id"]
    assert results[5]["error"]["code"] == "sdr_conflict"
    assert r.json()["summary"] == {"created": 2, "existing": 1, "rejected": 1, "conflict": 1, "invalid": 1}
    assert set(Sdr.objects.values_list("sdr_id", "state")) == {
        ("SDR-0", "DELIVERED"),
        ("SDR-1", "REJECTED"),
        ("SDR-2", "DELIVERED"),
    }


def test_a_bulk_resent_answers_existing_for_each(world):
    world.cso.client.post("/sdrs/", batch(world, 5))
    r = world.cso.client.post("/sdrs/", batch(world, 5))
    assert r.json()["summary"]["existing"] == 5
    assert Sdr.objects.count() == 5


def test_an_sdr_without_a_usable_id_is_answered_but_not_stored(world):
    doc = world.cdr()
    del doc["id"]
    r = world.cso.client.post("/sdrs/", [doc])
    item = r.json()["results"][0]
    assert (item["status"], item["sdr_id"], item["sdr"]) == (422, None, None)
    assert Sdr.objects.count() == 0


def test_queries_do_not_grow_with_the_batch(world):
    world.cso.client.login()
    with CaptureQueriesContext(connection) as small:
        assert world.cso.client.post("/sdrs/", batch(world, 5)).status_code == 200
    items = [world.cdr(sdr_id=f"BIG-{n}") for n in range(60)]
    with CaptureQueriesContext(connection) as big:
        assert world.cso.client.post("/sdrs/", items).status_code == 200

    # SQLite splits a long INSERT by its limit on query parameters; PostgreSQL needs no split.
    def reads(ctx: CaptureQueriesContext) -> list[str]:
        return [q["sql"][:20] for q in ctx.captured_queries if not q["sql"].startswith("INSERT")]

    assert reads(big) == reads(small)
    if connection.vendor == "postgresql":
        assert len(big) == len(small)


def test_idempotency_key_replays_the_first_answer(world):
    headers = {"Idempotency-Key": "batch-1"}
    first = world.cso.client.post("/sdrs/", batch(world, 2), headers=headers)
    replay = world.cso.client.post("/sdrs/", batch(world, 2), headers=headers)
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Sdr.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [([], "empty_batch"), ("text", "invalid_body"), (42, "invalid_body"), (None, "invalid_body")],
)
def test_a_body_that_is_no_sdr_is_400(world, body, code):
    r = world.cso.client.post("/sdrs/", body)
    assert r.status_code == 400
    assert error_code(r) == code
    assert Sdr.objects.count() == 0


def test_malformed_json_is_400(world):
    r = world.cso.client.post("/sdrs/", raw=b'{"id": ')
    assert r.status_code == 400
    error_code(r)
    assert Sdr.objects.count() == 0


def test_only_a_cso_may_send_sdrs(world):
    r = world.csp.client.post("/sdrs/", world.cdr())
    assert r.status_code == 403
    assert error_code(r) == "role_required"
    assert Sdr.objects.count() == 0


def test_another_csos_evse_or_party_is_rejected(world):
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    r = other.client.post("/sdrs/", world.cdr())
    assert r.status_code == 422
    found = {f["code"] for f in r.json()["error"]["details"]["findings"]}
    assert {"PARTY_MISMATCH", "EVSE_NOT_OWNED"} <= found


def test_two_csos_may_use_the_same_sdr_id(world):
    other = onboard(name="Other CSO", country="DE", party="OTH", roles=["CSO"])
    build_world(other, world.csp)
    assert world.cso.client.post("/sdrs/", world.cdr()).status_code == 201
    doc = world.cdr(country_code="DE", party_id="OTH")
    doc["cdr_location"]["evse_id"] = "DE*OTH*E100"
    assert other.client.post("/sdrs/", doc).status_code == 201
    assert Sdr.objects.filter(sdr_id="SDR-1").count() == 2


def test_list_and_detail_for_both_sides(world):
    world.cso.client.post("/sdrs/", batch(world, 3))
    world.cso.client.post("/sdrs/", world.cdr(sdr_id="BAD", currency="XXQ"))
    mine = world.cso.client.get("/sdrs/?limit=2")
    assert mine.status_code == 200
    assert len(mine.json()["results"]) == 2 and mine.json()["next"]
    rest = world.cso.client.get(mine.json()["next"].split("testserver", 1)[-1])
    assert len(rest.json()["results"]) == 2
    # The CSP sees the three it pays, never the rejected one.
    theirs = world.csp.client.get("/sdrs/").json()["results"]
    assert sorted(s["sdr_id"] for s in theirs) == ["SDR-0", "SDR-1", "SDR-2"]
    rejected = world.cso.client.get("/sdrs/?state=REJECTED").json()["results"]
    assert [s["sdr_id"] for s in rejected] == ["BAD"]
    detail = world.csp.client.get(f"/sdrs/{theirs[0]['id']}")
    assert detail.status_code == 200
    assert [e["to_state"] for e in detail.json()["events"]] == ["VALIDATED", "DELIVERED"]
    bad = Sdr.objects.get(sdr_id="BAD")
    assert world.csp.client.get(f"/sdrs/{bad.pk}").status_code == 404


def test_since_and_role_filters(world):
    world.cso.client.post("/sdrs/", world.cdr())
    stamp = Sdr.objects.get().updated_at.isoformat().replace("+00:00", "Z")
    assert world.cso.client.get(f"/sdrs/?since={stamp}").json()["results"] == []
    assert len(world.cso.client.get("/sdrs/?since=2020-01-01T00:00:00Z").json()["results"]) == 1
    assert world.cso.client.get("/sdrs/?role=CSO").status_code == 200
    assert error_code(world.cso.client.get("/sdrs/?role=CSP")) == "invalid_role"
    assert error_code(world.cso.client.get("/sdrs/?since=yesterday")) == "invalid_since"
    assert error_code(world.cso.client.get("/sdrs/?state=LOST")) == "invalid_state"
    assert error_code(world.cso.client.get("/sdrs/?colour=red")) == "invalid_parameter"
    assert error_code(world.cso.client.get("/sdrs/?limit=0")) == "invalid_limit"


def test_list_queries_do_not_grow_with_the_page(world):
    world.cso.client.post("/sdrs/", batch(world, 2))
    world.csp.client.login()
    with CaptureQueriesContext(connection) as few:
        world.csp.client.get("/sdrs/")
    world.cso.client.post("/sdrs/", [world.cdr(sdr_id=f"X-{n}", excl=9.0, incl=10.71) for n in range(20)])
    with CaptureQueriesContext(connection) as many:
        assert len(world.csp.client.get("/sdrs/").json()["results"]) == 22
    assert len(many) == len(few)


def test_partner_a_cannot_see_partner_bs_sdrs(world):
    world.cso.client.post("/sdrs/", world.cdr())
    pk = Sdr.objects.get().pk
    stranger_csp = onboard(name="Stranger", country="FR", party="STR", roles=["CSP"])
    stranger_cso = onboard(name="Stranger CSO", country="FR", party="STC", roles=["CSO"])
    for stranger in (stranger_csp, stranger_cso):
        assert stranger.client.get(f"/sdrs/{pk}").status_code == 404
        assert stranger.client.get("/sdrs/").json()["results"] == []
    assert error_code(stranger_csp.client.post(f"/sdrs/{pk}/accept")) == "sdr_not_found"
    assert error_code(stranger_cso.client.post(f"/sdrs/{pk}/corrections", {})) == "sdr_not_found"
    assert world.cso.client.get("/sdrs/999999").status_code == 404


def test_a_partner_with_both_roles_sees_both_sides(world, both):
    build_world(both, world.csp)
    from partners.services import agreement_create

    agreement_create(cso=world.cso.partner, csp=both.partner, valid_from=world_start())
    contract = contract_of("FR", "GRO")
    assert (
        world.cso.client.post("/sdrs/", world.cdr(sdr_id="TO-GRO", cdr_token=token(contract))).status_code
        == 201
    )
    doc = world.cdr(sdr_id="FROM-GRO", country_code="FR", party_id="GRO")
    doc["cdr_location"]["evse_id"] = "FR*GRO*E100"
    assert both.client.post("/sdrs/", doc).status_code == 201
    ids = {s["sdr_id"] for s in both.client.get("/sdrs/").json()["results"]}
    assert ids == {"TO-GRO", "FROM-GRO"}
    assert {s["sdr_id"] for s in both.client.get("/sdrs/?role=CSP").json()["results"]} == {"TO-GRO"}


def world_start() -> Any:
    from tests.settlement.sdr_support import AGREED_FROM

    return AGREED_FROM


def token(contract: str) -> dict[str, Any]:
    return {
        "country_code": contract[:2],
        "party_id": contract[3:6],
        "uid": "0102030405060708",
        "type": "RFID",
        "contract_id": contract,
    }
