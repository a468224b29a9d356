"""Tariffs: publishing, targeting, pinning, who sees what, dangling references."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from locations.models import Tariff
from locations.selectors import tariff_references_dangling, tariffs_for
from tests.locations.conftest import agree, example, make_location
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db


def tariff(tariff_id: str, *, price: float = 0.30, last_updated: str = "2024-01-01T00:00:00Z", **extra):
    return {
        "country_code": "DE",
        "party_id": "ACH",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
        "last_updated": last_updated,
        **extra,
    }


def test_put_replace_older_and_delete(cso):
    assert cso.client.put("/tariffs/T1", tariff("T1")).status_code == 201
    r = cso.client.put("/tariffs/T1", tariff("T1", price=0.40, last_updated="2024-02-01T00:00:00Z"))
    assert r.status_code == 200 and r.json()["result"] == "updated"
    r = cso.client.put("/tariffs/T1", tariff("T1", price=0.10, last_updated="2023-01-01T00:00:00Z"))
    assert r.json()["result"] == "ignored_older"
    assert r.json()["tariff"]["elements"][0]["price_components"][0]["price"] == 0.40
    r = cso.client.put("/tariffs/T1", tariff("T1", price=0.40, last_updated="2024-02-01T00:00:00Z"))
    assert r.json()["result"] == "unchanged"
    assert cso.client.delete("/tariffs/T1").status_code == 204
    r = cso.client.delete("/tariffs/T1")
    assert r.status_code == 404 and error_code(r) == "tariff_not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (tariff("T1", currency="EURO"), "invalid_tariff"),
        (tariff("T1", price=-1), "invalid_tariff"),
        (tariff("T2"), "id_mismatch"),
        (tariff("T1", target_provider_ids="NL-BMO"), "invalid_targets"),
        (tariff("T1", target_provider_ids=["NL*BMO"]), "invalid_targets"),
        (tariff("T1", target_provider_ids=["NL-ZZZ"]), "unknown_provider"),
        ([], "invalid_body"),
    ],
)
def test_bad_tariffs_are_refused(cso, csp, body, code):
    r = cso.client.put("/tariffs/T1", body)
    assert r.status_code == 400 and error_code(r) == code
    assert not Tariff.objects.exists()


def test_invalid_tariff_lists_the_problems(cso):
    body = tariff("T1")
    body["elements"][0]["restrictions"] = {"min_kwh": 10, "max_kwh": 5}
    r = cso.client.put("/tariffs/T1", body)
    assert r.json()["error"]["details"]["errors"] == [
        {"path": "elements[0].restrictions.max_kwh", "message": "must not be below min_kwh"}
    ]


def test_who_sees_which_tariff(cso, csp):
    other_csp = onboard(name="Gamma", country="NL", party="GAM", roles=["CSP"])
    outsider = onboard(name="Outsider", country="NL", party="OUT", roles=["CSP"])
    agree(cso, csp)
    agreement = agree(cso, other_csp)
    agreement.pinned_tariff_id = "PIN"
    agreement.save()
    cso.client.put("/tariffs/PUB", tariff("PUB"))
    r = cso.client.put("/tariffs/BMO", tariff("BMO", target_provider_ids=["NL-BMO"]))
    assert r.json()["tariff"]["target_provider_ids"] == ["NL-BMO"]
    cso.client.put("/tariffs/PIN", tariff("PIN", target_provider_ids=["NL-BMO", "nlgam"]))

    def seen(partner):
        return sorted(t["id"] for t in partner.client.get("/tariffs/").json()["results"])

    assert seen(csp) == ["BMO", "PIN", "PUB"]
    assert seen(other_csp) == ["PIN", "PUB"]
    assert seen(outsider) == []
    assert seen(cso) == ["BMO", "PIN", "PUB"]
    # Only the owner sees the targeting.
    assert "target_provider_ids" not in csp.client.get("/tariffs/BMO").json()
    assert cso.client.get("/tariffs/PIN").json()["target_provider_ids"] == ["NL-BMO", "NL-GAM"]
    assert other_csp.client.get("/tariffs/BMO").status_code == 404
    assert outsider.client.get("/tariffs/PUB").status_code == 404
    # Filters.
    cso.client.put("/tariffs/NEW", tariff("NEW", last_updated="2024-06-01T00:00:00Z"))
    assert [t["id"] for t in csp.client.get("/tariffs/?since=2024-03-01T00:00:00Z").json()["results"]] == [
        "NEW"
    ]
    assert csp.client.get("/tariffs/?operator=DE*XXX").json()["results"] == []
    assert csp.client.get("/tariffs/?since=bad").status_code == 400


def test_tariffs_for(cso, csp):
    agreement = agree(cso, csp)
    other_csp = onboard(name="Gamma", country="NL", party="GAM", roles=["CSP"])
    cso.client.put("/tariffs/PUB", tariff("PUB"))
    cso.client.put("/tariffs/PUB2", tariff("PUB2"))
    cso.client.put("/tariffs/BMO", tariff("BMO", target_provider_ids=["NL-BMO"]))
    cso.client.put(
        "/tariffs/OLD",
        tariff("OLD", start_date_time="2020-01-01T00:00:00Z", end_date_time="2021-01-01T00:00:00Z"),
    )
    cso_id, csp_id = cso.partner.pk, csp.partner.pk

    def ids(**kw):
        return [t["id"] for t in tariffs_for(cso_id=cso_id, csp_id=csp_id, **kw)]

    # A tariff targeted at the CSP wins over public ones.
    assert ids() == ["BMO"]
    assert ids(tariff_ids=["PUB2", "PUB"]) == ["PUB2", "PUB"]
    assert ids(tariff_ids=["PUB", "BMO"]) == ["BMO"]
    assert ids(tariff_ids=["OLD"]) == []
    assert ids(tariff_ids=["OLD"], at=datetime(2020, 6, 1, tzinfo=UTC)) == []  # no agreement then
    # Without an agreement nothing applies; a CSP not targeted sees the public ones.
    assert tariffs_for(cso_id=cso_id, csp_id=other_csp.partner.pk) == []
    agree(cso, other_csp)
    assert [t["id"] for t in tariffs_for(cso_id=cso_id, csp_id=other_csp.partner.pk)] == ["PUB", "PUB2"]
    # A pinned tariff applies alone.
    agreement.pinned_tariff_id = "PUB2"
    agreement.save()
    assert ids(tariff_ids=["PUB", "BMO"]) == ["PUB2"]
    assert tariffs_for(cso_id=cso_id, csp_id=csp_id)[0] == tariff("PUB2")


def test_dangling_references_resolve_when_the_tariff_arrives(cso):
    cso.client.put(
        "/locations/", [make_location("A", tariff_ids=["T1", "T2"]), make_location("B", tariff_ids=["T1"])]
    )
    dangling = tariff_references_dangling(cso_id=cso.partner.pk)
    assert sorted(dangling.values_list("tariff_id", flat=True)) == ["T1", "T1", "T2"]
    cso.client.put("/tariffs/T1", tariff("T1"))
    assert list(tariff_references_dangling(cso_id=cso.partner.pk).values_list("tariff_id", flat=True)) == [
        "T2"
    ]
    # Another CSO's tariff with the same id resolves nothing.
    other = onboard(name="Other", country="DE", party="OTH", roles=["CSO"])
    other.client.put("/tariffs/T2", tariff("T2") | {"party_id": "OTH"})
    assert list(tariff_references_dangling(cso_id=cso.partner.pk).values_list("tariff_id", flat=True)) == [
        "T2"
    ]
    cso.client.delete("/tariffs/T1")
    assert tariff_references_dangling(cso_id=cso.partner.pk).count() == 3


def test_tariff_examples_sharing_an_id_replace_each_other(publisher):
    cso = publisher("DE*ALL")
    for name in (
        "tariff_15_reservation_5_euro_per_hour.json",
        "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
    ):
        assert cso.client.put("/tariffs/20", example(name)).status_code in (200, 201)
    assert cso.client.get("/tariffs/20").json() == example(
        "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"
    )
    # tariff_8 is older than tariff_6 (both id 16): it is ignored.
    cso.client.put("/tariffs/16", example("tariff_6_025kwh_start_max_price.json"))
    assert (
        cso.client.put("/tariffs/16", example("tariff_8_simple_025kwh.json")).json()["result"]
        == "ignored_older"
    )


def test_tariff_scope(cso, csp, both):
    cso.client.put("/tariffs/T1", tariff("T1"))
    # A CSP cannot write; another CSO cannot delete or read a tariff that is not shared with it.
    r = csp.client.put("/tariffs/T1", tariff("T1"))
    assert r.status_code == 403 and error_code(r) == "role_required"
    assert both.client.delete("/tariffs/T1").status_code == 404
    assert both.client.get("/tariffs/T1").status_code == 404
    assert Tariff.objects.count() == 1
    # Two CSOs with the same tariff id: a CSP with both agreements says which it means.
    both.client.put("/tariffs/T1", tariff("T1") | {"country_code": "FR", "party_id": "GRO"})
    agree(cso, csp)
    agree(both, csp)
    r = csp.client.get("/tariffs/T1")
    assert r.status_code == 409 and error_code(r) == "ambiguous_tariff_id"
    assert csp.client.get("/tariffs/T1?operator=FR*GRO").json()["party_id"] == "GRO"
    assert both.client.get("/tariffs/T1").json()["party_id"] == "GRO"  # its own wins
