"""What the settlement run reads and writes of SDRs: settleable rows grouped in SQL, one UPDATE to
settle them, and the settings checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.db.models import Count, Sum

from settlement.models import Sdr
from settlement.selectors import SETTLEMENT_COLUMNS, sdrs_disputed, sdrs_settleable
from settlement.services import sdr_accept, sdrs_settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(world):
    world.cso.client.post("/sdrs/", [world.cdr(sdr_id=f"S-{n}") for n in range(3)])
    for sdr in Sdr.objects.all():
        sdr_accept(csp_id=world.csp.partner.pk, sdr_pk=sdr.pk)
    world.cso.client.post(f"/sdrs/{Sdr.objects.get(sdr_id='S-0').pk}/corrections", {})
    world.cso.client.post("/sdrs/", world.cdr(sdr_id="D"))
    world.csp.client.post(f"/sdrs/{Sdr.objects.get(sdr_id='D').pk}/dispute", {"reason_code": "OTHER"})
    return world


def test_settleable_sdrs_group_in_sql(accepted):
    rows = sdrs_settleable(currency="EUR")
    assert set(rows.values_list("sdr_id", flat=True)) == {"S-0", "S-1", "S-2", "S-0-C"}
    assert set(rows.query.deferred_loading[0]) == set(SETTLEMENT_COLUMNS)
    totals = rows.values("cso_id", "csp_id", "currency").annotate(
        count=Count("id"),
        excl=Sum("total_cost_excl_vat"),
        incl=Sum("total_cost_incl_vat"),
        energy=Sum("total_energy"),
    )
    [line] = list(totals)
    assert line["count"] == 4
    assert line["excl"] == Decimal("12.0000") and line["incl"] == Decimal("14.2800")  # 3 × 6.00 − 6.00
    assert line["energy"] == Decimal("80")  # a credit repeats the original's energy
    assert [s.sdr_id for s in sdrs_disputed(currency="EUR")] == ["D"]
    assert not sdrs_settleable(currency="CHF").exists()


def test_settling_moves_only_accepted_sdrs(accepted):
    from django.utils import timezone

    now = timezone.now()
    assert sdrs_settle(sdrs=sdrs_settleable(currency="EUR"), settled_at=now) == 4
    assert set(Sdr.objects.filter(state="SETTLED").values_list("sdr_id", flat=True)) == {
        "S-0",
        "S-1",
        "S-2",
        "S-0-C",
    }
    assert Sdr.objects.get(sdr_id="D").state == "DISPUTED"
    assert sdrs_settle(sdrs=Sdr.objects.all(), settled_at=now) == 0
    settled = Sdr.objects.get(sdr_id="S-1")
    # Accepting a settled SDR again changes nothing.
    assert sdr_accept(csp_id=accepted.csp.partner.pk, sdr_pk=settled.pk).state == "SETTLED"


def test_settings_are_checked(settings):
    settings.SDR_COST_TOLERANCE = "cheap"
    settings.SDR_ENERGY_CAPACITY_TOLERANCE = "-1"
    settings.SDR_BULK_MAX_ITEMS = 0
    settings.SDR_DELIVERY_BATCH_SIZE = 0
    settings.SDR_DISPUTE_WINDOW_DAYS = -1
    ids = {message.id for message in run_checks() if message.id.startswith("settlement.")}
    assert ids == {
        "settlement.E001",
        "settlement.E002",
        "settlement.E003",
        "settlement.E004",
        "settlement.E005",
    }
