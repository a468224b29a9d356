"""A settlement run over the hand-computed September scenario (tests/settlement/test_settlement_support):
statements, lines, fees, netting in two currencies; idempotent re-runs; runs killed halfway."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from settlement.models import (
    RunState,
    Sdr,
    SdrState,
    SettlementBucket,
    SettlementRun,
    Statement,
    StatementFee,
    StatementLine,
)
from settlement.selectors import state_q
from settlement.selectors.statements import statement_lines
from settlement.services import settlement_steps
from settlement.services.settlement_run import settlement_run_execute, settlement_run_request
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import run_period

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario
D = Decimal

# The figures of the September EUR statements, worked out by hand:
#
# Alpha (CSO only): receivable 36.69 (from Beta) + 47.60 (from Gamma) = 84.29
#   transaction fee: (5 - 1 credit) + 1 = 5 SDRs × 0.10 = 0.50; VAT 19 % = 0.095 → 0.10; gross 0.60
#   clearing fee: 1.5 % of (30.83 + 40.00 = 70.83) = 1.06245 → 1.06; VAT 0.2014 → 0.20; gross 1.26
#   fees 1.86; net 84.29 - 0 - 1.86 = 82.43: the hub pays Alpha 82.43
# Beta (CSP only): payable 36.69 (to Alpha) + 26.70 (to Gamma) = 63.39
#   transaction fee: 4 + 2 = 6 SDRs × 0.05 = 0.30; VAT 21 % = 0.063 → 0.06; gross 0.36
#   net 0 - 63.39 - 0.36 = -63.75: Beta pays the hub 63.75
# Gamma (both): receivable 26.70 (from Beta), payable 47.60 (to Alpha)
#   clearing fee as CSO: 2 % of 22.25 = 0.445 → 0.45; VAT 20 % = 0.09; gross 0.54
#   transaction fee as CSP: 1 SDR × 0.20 = 0.20; VAT 0.04; gross 0.24
#   fees 0.78; net 26.70 - 47.60 - 0.78 = -21.68: Gamma pays the hub 21.68; held back 10.80
# Balance: 82.43 - 63.75 - 21.68 = -3.00, and the fees 1.86 + 0.36 + 0.78 = 3.00.
EUR = {
    "Alpha Charge": ("84.29", "0.00", "1.86", "82.43", "HUB", "82.43", "0.00"),
    "Beta Mobility": ("0.00", "63.39", "0.36", "-63.75", "PARTNER", "63.75", "10.80"),
    "Gamma Roaming": ("26.70", "47.60", "0.78", "-21.68", "PARTNER", "21.68", "10.80"),
}
# CHF: Alpha receivable 108.10; fees 1 × 0.10 = 0.10 + VAT 0.019 → 0.02 = 0.12, and 1.5 % of 100.00
# = 1.50 + VAT 0.285 → 0.29 = 1.79; net 108.10 - 1.91 = 106.19. Beta payable 108.10; fee 0.05 + VAT
# 0.0105 → 0.01 = 0.06; net -108.16. Balance: 106.19 - 108.16 = -1.97 = -(1.91 + 0.06).
CHF = {
    "Alpha Charge": ("108.10", "0.00", "1.91", "106.19", "HUB", "106.19", "0.00"),
    "Beta Mobility": ("0.00", "108.10", "0.06", "-108.16", "PARTNER", "108.16", "0.00"),
}


def settled_count() -> int:
    return Sdr.objects.filter(state_q(SdrState.SETTLED)).count()


def figures(currency: str) -> dict[str, tuple[str, ...]]:
    cents = D("0.01")
    return {
        s.partner.name: (
            *(str(v.quantize(cents)) for v in (s.receivable_as_cso, s.payable_as_csp, s.hub_fees, s.net)),
            s.payer,
            str(s.payment_amount.quantize(cents)),
            str(s.disputed_held_incl_vat.quantize(cents)),
        )
        for s in Statement.objects.filter(currency=currency).select_related("partner")
    }


def test_september_statements_lines_fees_and_netting(scenario):
    stored_at = {sdr.pk: sdr.updated_at for sdr in scenario.eur_sdrs}
    outcome = run_period("2026-09")
    assert (outcome.state, outcome.settled, outcome.statements) == ("DONE", 8, 3)
    assert figures("EUR") == EUR
    run = SettlementRun.objects.get(currency="EUR")
    assert (run.state, run.sdr_count, run.statement_count, run.cadence) == ("DONE", 8, 3, "MONTHLY")

    line = StatementLine.objects.get(run=run, cso=scenario.a, csp=scenario.b)
    assert (line.sdr_count, line.credit_count) == (5, 1)
    assert (line.amount_excl_vat, line.amount_incl_vat, line.credits_incl_vat) == (
        D("30.8333"),
        D("36.6916"),
        D("-5.95"),
    )
    assert line.energy_kwh == D("62.611")
    held = StatementLine.objects.get(run=run, cso=scenario.g, csp=scenario.b)
    assert (held.sdr_count, held.disputed_count, held.disputed_incl_vat) == (2, 1, D("10.8"))

    alpha = Statement.objects.get(currency="EUR", partner=scenario.a)
    [vs_beta, vs_gamma] = statement_lines(alpha)
    assert (vs_beta.role, vs_beta.amount_excl_vat, vs_beta.vat_amount, vs_beta.amount_incl_vat) == (
        "CSO",
        D("30.83"),
        D("5.86"),
        D("36.69"),
    )
    assert (vs_beta.credits_incl_vat, vs_beta.energy_kwh) == (D("5.95"), D("62.611"))
    assert (vs_gamma.counterparty_id, vs_gamma.amount_incl_vat) == (scenario.g.pk, D("47.60"))
    fees = {(f.kind, f.basis): (f.amount_excl_vat, f.vat_amount, f.amount_incl_vat) for f in alpha.fees.all()}
    assert fees == {
        ("PER_SDR", "5 SDRs × 0.1"): (D("0.50"), D("0.10"), D("0.60")),
        ("PERCENT", "1.5 % of 70.83 settled excl. VAT"): (D("1.06"), D("0.20"), D("1.26")),
    }
    assert alpha.sdr_count == 6 and alpha.energy_kwh == D("142.611")
    gamma = Statement.objects.get(currency="EUR", partner=scenario.g)
    assert [(line.role, line.amount_incl_vat) for line in statement_lines(gamma)] == [
        ("CSO", D("26.70")),
        ("CSP", D("47.60")),
    ]
    assert sorted(gamma.fees.values_list("role", "kind", "amount_incl_vat")) == [
        ("CSO", "PERCENT", D("0.54")),
        ("CSP", "PER_SDR", D("0.24")),
    ]

    # Every SDR of the run is SETTLED: in a bucket closed onto its pair's line, once, and the SDR row
    # itself unwritten (its stored state stays ACCEPTED); the others are untouched.
    for sdr in scenario.eur_sdrs:
        sdr.refresh_from_db()
        assert sdr.effective_state == SdrState.SETTLED and sdr.settled_at is not None
        assert (sdr.state, sdr.updated_at) == (SdrState.ACCEPTED, stored_at[sdr.pk])
        assert (sdr.bucket.line.cso_id, sdr.bucket.line.csp_id) == (sdr.cso_id, sdr.csp_id)
    assert settled_count() == 8
    assert Sdr.objects.get(pk=scenario.d1.pk).effective_state == SdrState.DISPUTED
    assert Sdr.objects.get(pk=scenario.october.pk).effective_state == SdrState.ACCEPTED
    assert Sdr.objects.get(pk=scenario.h1.pk).effective_state == SdrState.ACCEPTED  # CHF is another run


def test_second_currency_is_its_own_run(scenario):
    run_period("2026-09", "EUR")
    outcome = run_period("2026-09", "CHF")
    assert (outcome.settled, outcome.statements) == (1, 2)
    assert figures("CHF") == CHF
    assert SettlementRun.objects.count() == 2


def test_run_again_settles_nothing_twice_and_keeps_the_statements(scenario):
    run_period("2026-09")
    before = {s.pk: (s.updated_at, s.computed_at, s.net) for s in Statement.objects.all()}
    fees_before = list(StatementFee.objects.order_by("pk").values_list("pk", flat=True))
    again = run_period("2026-09")
    assert (again.state, again.settled, again.statements) == ("DONE", 0, 3)
    assert {s.pk: (s.updated_at, s.computed_at, s.net) for s in Statement.objects.all()} == before
    assert list(StatementFee.objects.order_by("pk").values_list("pk", flat=True)) == fees_before
    assert settled_count() == 8
    assert SettlementRun.objects.get(currency="EUR").attempts == 2


def test_an_sdr_accepted_after_the_run_joins_the_draft_on_the_next_run(scenario):
    run_period("2026-09")
    # d1's dispute is withdrawn: it is accepted and, the period not being final, joins September.
    Sdr.objects.filter(pk=scenario.d1.pk).update(state=SdrState.ACCEPTED)
    outcome = run_period("2026-09")
    assert outcome.settled == 1
    gamma = Statement.objects.get(currency="EUR", partner=scenario.g)
    # Gamma ← Beta now 26.70 + 10.80 = 37.50; clearing fee 2 % of 31.25 = 0.625 → 0.63 + VAT 0.126
    # → 0.13 = 0.76; fees 0.76 + 0.24 = 1.00; net 37.50 - 47.60 - 1.00 = -11.10; nothing held back.
    assert (gamma.receivable_as_cso, gamma.hub_fees, gamma.net, gamma.disputed_held_incl_vat) == (
        D("37.50"),
        D("1.00"),
        D("-11.10"),
        D("0"),
    )


def test_the_database_refuses_to_settle_an_sdr_twice(scenario):
    run_period("2026-09")
    run = SettlementRun.objects.get(currency="EUR")
    bucket = SettlementBucket.objects.get(sdrs=scenario.a1)
    other_line = StatementLine.objects.filter(run=run).exclude(pk=bucket.line_id).first()
    october = SettlementBucket.objects.create(
        cso=scenario.a, csp=scenario.b, currency="EUR", cadence="MONTHLY", period_key="2026-10",
        period_start=datetime(2026, 10, 1, tzinfo=UTC), period_end=datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    refused = [
        # A settled SDR never moves to another bucket, nor out of its own, nor back to ACCEPTED.
        lambda: Sdr.objects.filter(pk=scenario.a1.pk).update(bucket=october),
        lambda: Sdr.objects.filter(pk=scenario.a1.pk).update(bucket=None),
        lambda: Sdr.objects.filter(pk=scenario.a1.pk).update(state=SdrState.DISPUTED),
        # A closed bucket never moves to another line, nor reopens.
        lambda: SettlementBucket.objects.filter(pk=bucket.pk).update(line=other_line),
        lambda: SettlementBucket.objects.filter(pk=bucket.pk).update(line=None, closed_at=None),
        # A new SDR cannot join a closed bucket.
        lambda: Sdr.objects.filter(pk=scenario.october.pk).update(bucket=bucket),
    ]
    for attempt in refused:
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()
    assert settled_count() == 8


def test_a_run_killed_while_settling_settles_nothing_and_the_next_settles_every_sdr_once(
    scenario, monkeypatch
):
    real = settlement_steps._add_to_lines

    def dying(*args, **kwargs):
        real(*args, **kwargs)  # buckets closed, lines summed: the worker dies before the commit
        raise RuntimeError("worker killed")

    monkeypatch.setattr(settlement_steps, "_add_to_lines", dying)
    first = run_period("2026-09")
    assert first.state == RunState.FAILED and "worker killed" in first.error
    assert settled_count() == 0 and not SettlementBucket.objects.filter(line__isnull=False).exists()
    assert not StatementLine.objects.exclude(sdr_count=0).exists()
    assert not Statement.objects.exists()
    # Acceptance (here: the run's placing step) had put them into buckets, which stay open.
    assert SettlementBucket.objects.filter(line__isnull=True).count() == 3  # one per pair

    monkeypatch.setattr(settlement_steps, "_add_to_lines", real)
    second = run_period("2026-09")
    assert second.state == "DONE" and second.settled == 8
    assert settled_count() == 8
    assert figures("EUR") == EUR
    line = StatementLine.objects.get(run__currency="EUR", cso=scenario.a, csp=scenario.b)
    assert (line.sdr_count, line.amount_incl_vat) == (5, D("36.6916"))
    # And again: nothing twice.
    assert run_period("2026-09").settled == 0
    assert StatementLine.objects.get(pk=line.pk).sdr_count == 5


def test_a_run_killed_between_statements_resumes(scenario, monkeypatch):
    real, calls = settlement_steps.checkpoint, []

    def dying(run_id, token):
        calls.append(run_id)
        if len(calls) == 5:  # placing (two), settling, one statement; dies at the second statement
            raise RuntimeError("worker killed")
        real(run_id, token)

    monkeypatch.setattr(settlement_steps, "checkpoint", dying)
    assert run_period("2026-09").state == "FAILED"
    assert Statement.objects.count() == 1 and settled_count() == 8
    monkeypatch.setattr(settlement_steps, "checkpoint", real)
    again = run_period("2026-09")
    assert again.state == "DONE" and again.settled == 0
    assert figures("EUR") == EUR


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing in the run gets to mark it FAILED."""


def test_a_run_whose_worker_died_is_taken_over_once_stale(scenario, settings, monkeypatch):
    real, calls = settlement_steps.checkpoint, []

    def dying(run_id, token):
        calls.append(run_id)
        if len(calls) == 2:
            raise WorkerDied
        real(run_id, token)

    monkeypatch.setattr(settlement_steps, "checkpoint", dying)
    run = settlement_run_request(period_key="2026-09", currency="EUR")
    with pytest.raises(WorkerDied):
        settlement_run_execute(run_id=run.pk)
    monkeypatch.setattr(settlement_steps, "checkpoint", real)
    run.refresh_from_db()
    assert run.state == RunState.RUNNING
    # Its heartbeat is fresh: another worker leaves it alone.
    assert settlement_run_execute(run_id=run.pk).claimed is False
    settings.SETTLEMENT_RUN_STALE_SECONDS = 0
    outcome = settlement_run_execute(run_id=run.pk)
    assert outcome.claimed and outcome.state == "DONE" and outcome.settled == 8
    assert figures("EUR") == EUR


def test_a_worker_that_lost_its_run_stops(scenario, monkeypatch):
    run = settlement_run_request(period_key="2026-09", currency="EUR")
    real = settlement_steps.checkpoint

    def taken_over(run_id, token):
        # Another worker claimed the run in the meantime (the heartbeat looked stale).
        SettlementRun.objects.filter(pk=run_id).update(claim_token="someone-else")
        real(run_id, token)

    monkeypatch.setattr(settlement_steps, "checkpoint", taken_over)
    outcome = settlement_run_execute(run_id=run.pk)
    assert outcome.state == RunState.RUNNING and outcome.settled == 0
    assert settled_count() == 0


def test_sdr_without_amount_incl_vat_counts_at_its_amount_excl_vat(scenario):
    from tests.settlement.test_settlement_support import make_sdr

    make_sdr(scenario.a, scenario.g, "2.5000", None, "5")
    run_period("2026-09")
    line = StatementLine.objects.get(run__currency="EUR", cso=scenario.a, csp=scenario.g)
    assert (line.amount_excl_vat, line.amount_incl_vat) == (D("42.5"), D("50.1"))  # 47.60 + 2.50
