"""What the settlement run reads of SDRs: settleable rows grouped in SQL, the buckets acceptance puts
them in, SETTLED as "ACCEPTED in a closed bucket", and the settings checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.db.models import Count, Sum

from settlement.models import Sdr, SettlementBucket, SettlementRun, StatementLine
from settlement.selectors import SETTLEMENT_COLUMNS, sdrs_disputed, sdrs_settleable, state_q
from settlement.services import sdr_accept

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


def test_acceptance_places_sdrs_and_a_closed_bucket_settles_them(accepted):
    from django.utils import timezone

    accepted_ids = {"S-0", "S-1", "S-2", "S-0-C"}
    rows = {s.sdr_id: s for s in Sdr.objects.select_related("bucket")}
    # Accepting (by the CSP, or a credit with its original) put each into its pair's open bucket.
    assert {i for i, s in rows.items() if s.bucket_id} == accepted_ids
    assert len({rows[i].bucket_id for i in accepted_ids}) == 1
    assert rows["D"].bucket_id is None and rows["D"].effective_state == "DISPUTED"
    bucket = rows["S-1"].bucket
    assert (bucket.line_id, bucket.currency) == (None, "EUR")
    assert all(rows[i].effective_state == "ACCEPTED" for i in accepted_ids)
    # Closing the bucket onto a line settles them, without writing to the SDRs.
    run = SettlementRun.objects.create(
        cadence=bucket.cadence,
        period_key=bucket.period_key,
        period_start=bucket.period_start,
        period_end=bucket.period_end,
        currency="EUR",
    )
    line = StatementLine.objects.create(run=run, cso_id=bucket.cso_id, csp_id=bucket.csp_id)
    before = dict(Sdr.objects.values_list("sdr_id", "updated_at"))
    now = timezone.now()
    SettlementBucket.objects.filter(pk=bucket.pk).update(line=line, closed_at=now)
    assert set(Sdr.objects.filter(state_q("SETTLED")).values_list("sdr_id", flat=True)) == accepted_ids
    assert not Sdr.objects.filter(state_q("ACCEPTED")).exists()
    assert not sdrs_settleable(currency="EUR").exists()
    assert dict(Sdr.objects.values_list("sdr_id", "updated_at")) == before
    settled = Sdr.objects.get(sdr_id="S-1")
    assert (settled.state, settled.effective_state, settled.settled_at) == ("ACCEPTED", "SETTLED", now)
    # Accepting a settled SDR again changes nothing.
    assert sdr_accept(csp_id=accepted.csp.partner.pk, sdr_pk=settled.pk).effective_state == "SETTLED"


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
