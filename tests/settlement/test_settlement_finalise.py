"""Finalising statements: gap-free numbers, FINAL locks everything (services and database), payments,
the message to the partner; late SDRs and corrections after FINAL land in the next open period."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from clearinghouse.errors import InvalidInput, InvalidTransition, RuleViolation
from clearinghouse.models import AuditEntry
from clearinghouse.routing.models import OutboxMessage
from partners.services import endpoints_replace
from settlement.models import (
    RunState,
    Sdr,
    SdrState,
    SettlementBucket,
    SettlementRun,
    Statement,
    StatementFee,
    StatementLine,
    StatementSequence,
)
from settlement.selectors import state_q
from settlement.services import settlement_finalise
from settlement.services.settlement_finalise import statement_finalise, statement_payment_record
from settlement.services.settlement_run import (
    settlement_run_execute,
    settlement_run_request,
    settlement_runs_due,
)
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import SEPTEMBER, make_sdr, run_period

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario
D = Decimal
YEAR = datetime.now(UTC).year


def statement_of(partner, currency="EUR", period="2026-09"):
    return Statement.objects.get(partner=partner, currency=currency, period_key=period)


def test_finalising_numbers_snapshots_and_closes_the_run(scenario):
    run_period("2026-09")
    alpha = statement_finalise(statement_id=statement_of(scenario.a).pk)
    assert (alpha.state, alpha.number) == ("FINAL", f"CH-{YEAR}-000001")
    assert alpha.issued_at is not None and alpha.snapshot["number"] == alpha.number
    assert alpha.snapshot["position"]["net"] == "82.43"
    assert SettlementRun.objects.get(currency="EUR").closed_at is not None
    # Finalising again changes nothing; the other statements of the run keep their turn.
    assert statement_finalise(statement_id=alpha.pk).number == alpha.number
    beta = statement_finalise(statement_id=statement_of(scenario.b).pk)
    assert beta.number == f"CH-{YEAR}-000002"
    assert StatementSequence.objects.get(year=YEAR).last_number == 2
    assert AuditEntry.objects.filter(action="statement.finalise").count() == 2
    # A closed run is never run again.
    outcome = run_period("2026-09")
    assert outcome.claimed is False and outcome.state == RunState.DONE


def test_a_statement_of_an_unfinished_run_cannot_be_finalised(scenario):
    run_period("2026-09")
    statement = statement_of(scenario.a)
    SettlementRun.objects.filter(pk=statement.run_id).update(state=RunState.FAILED)
    with pytest.raises(InvalidTransition) as refused:
        statement_finalise(statement_id=statement.pk)
    assert refused.value.code == "run_not_done"
    assert not StatementSequence.objects.exists()


def test_a_rolled_back_finalisation_gives_its_number_back(scenario, monkeypatch):
    run_period("2026-09")
    statement = statement_of(scenario.a)

    def broken(statement):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(settlement_finalise, "_route_final", broken)
    with pytest.raises(RuntimeError):
        statement_finalise(statement_id=statement.pk)
    statement.refresh_from_db()
    assert statement.state == "DRAFT" and statement.number == ""
    monkeypatch.undo()
    assert statement_finalise(statement_id=statement.pk).number == f"CH-{YEAR}-000001"


def test_final_locks_everything_in_the_database(scenario):
    run_period("2026-09")
    alpha = statement_finalise(statement_id=statement_of(scenario.a).pk)
    line = StatementLine.objects.filter(run_id=alpha.run_id).first()
    fee = alpha.fees.first()
    settled = SettlementBucket.objects.get(sdrs=scenario.a1)
    newcomer = make_sdr(scenario.a, scenario.b, "1", "1.19")
    refused = [
        lambda: Statement.objects.filter(pk=alpha.pk).update(net=D("1.00"), receivable_as_cso=D("2.86")),
        lambda: Statement.objects.filter(pk=alpha.pk).update(state="DRAFT"),
        lambda: Statement.objects.filter(pk=alpha.pk).update(number="CH-0000-000009"),
        lambda: StatementFee.objects.filter(pk=fee.pk).update(description="changed"),
        lambda: StatementFee.objects.create(
            statement=alpha, role="CSP", kind="PER_SDR", description="x", basis="x", quantity=1, rate=1,
            amount_excl_vat=1, vat_rate_percent=0, vat_amount=0, amount_incl_vat=1,
        ),
        lambda: StatementLine.objects.filter(pk=line.pk).update(sdr_count=99),
        lambda: StatementLine.objects.create(run_id=alpha.run_id, cso=scenario.g, csp=scenario.g),
        # No SDR joins, or leaves, a bucket closed onto the final run's lines.
        lambda: Sdr.objects.filter(pk=newcomer.pk).update(bucket=settled),
        lambda: Sdr.objects.filter(pk=scenario.a1.pk).update(bucket=None),
        lambda: Sdr.objects.filter(pk=scenario.a1.pk).update(total_cost_excl_vat=D("1")),
        lambda: SettlementBucket.objects.filter(pk=settled.pk).update(line=None, closed_at=None),
    ]  # fmt: skip
    if connection.vendor == "postgresql":
        refused.append(lambda: Statement.objects.filter(pk=alpha.pk).delete())
    for attempt in refused:
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()
    alpha.refresh_from_db()
    assert (alpha.net, alpha.state, alpha.fees.count()) == (D("82.43"), "FINAL", 2)
    # The payment state still moves forward.
    statement_payment_record(statement_id=alpha.pk, amount="82.43")
    with pytest.raises(IntegrityError), transaction.atomic():
        Statement.objects.filter(pk=alpha.pk).update(state="FINAL", paid_amount=0)


def test_payments_move_a_final_statement_to_paid(scenario):
    run_period("2026-09")
    draft = statement_of(scenario.b)
    with pytest.raises(InvalidTransition):
        statement_payment_record(statement_id=draft.pk, amount="1.00")
    alpha = statement_finalise(statement_id=statement_of(scenario.a).pk)
    for bad in ("abc", "1.234", "-1", "NaN", "0"):
        with pytest.raises(InvalidInput):
            statement_payment_record(statement_id=alpha.pk, amount=bad)
    alpha = statement_payment_record(statement_id=alpha.pk, amount="50.00", reference="transfer 1")
    assert (alpha.state, alpha.paid_amount, alpha.outstanding) == ("PARTIALLY_PAID", D("50.00"), D("32.43"))
    with pytest.raises(RuleViolation) as over:
        statement_payment_record(statement_id=alpha.pk, amount="40.00")
    assert over.value.details == {"outstanding": "32.43"}
    alpha = statement_payment_record(statement_id=alpha.pk, amount=D("32.43"))
    assert alpha.state == "PAID" and alpha.paid_at is not None
    assert list(alpha.payments.values_list("amount", "reference")) == [
        (D("50.00"), "transfer 1"),
        (D("32.43"), ""),
    ]
    with pytest.raises(InvalidTransition):
        statement_payment_record(statement_id=alpha.pk, amount="1.00")


def test_a_statement_with_nothing_due_is_marked_paid_with_zero(db):
    from tests.support import onboard

    x = onboard(name="Xeno Charge", country="BE", party="XEN", roles=["CSO"]).partner
    y = onboard(name="Yonder Mobility", country="AT", party="YON", roles=["CSP"]).partner
    original = make_sdr(x, y, "8.0000", "9.6000")
    make_sdr(x, y, "-8.0000", "-9.6000", credit_of=original)
    run_period("2026-09")
    statement = statement_of(x)
    assert (statement.sdr_count, statement.net, statement.payer, statement.payment_amount) == (2, 0, "", 0)
    statement = statement_finalise(statement_id=statement.pk)
    assert statement_payment_record(statement_id=statement.pk, amount="0").state == "PAID"


def test_the_partner_is_told_when_its_statement_is_final(scenario):
    endpoints_replace(partner=scenario.a, endpoints=[{"role": "CSO", "url": "https://alpha.example/i3"}])
    run_period("2026-09")
    alpha = statement_finalise(statement_id=statement_of(scenario.a).pk)
    [message] = OutboxMessage.objects.filter(event_type="statement.final")
    assert (message.partner_id, message.role, message.path) == (scenario.a.pk, "CSO", "statements")
    assert message.payload["number"] == alpha.number and message.payload["net"] == "82.43"
    assert [line["amount_incl_vat"] for line in message.payload["lines"]] == ["36.69", "47.60"]
    # Beta has no endpoint: it reads its statements with GET /statements/.
    statement_finalise(statement_id=statement_of(scenario.b).pk)
    assert OutboxMessage.objects.filter(event_type="statement.final").count() == 1


@pytest.mark.django_db(transaction=True)
def test_numbers_have_no_gaps_under_concurrency(scenario):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer; the row lock of the counter is PostgreSQL's")
    run_period("2026-09", "EUR")
    run_period("2026-09", "CHF")
    ids = list(Statement.objects.values_list("pk", flat=True))
    assert len(ids) == 5
    barrier, numbers, errors = threading.Barrier(len(ids)), [], []

    def finalise(pk):
        try:
            barrier.wait()
            numbers.append(statement_finalise(statement_id=pk).number)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalise, args=(pk,)) for pk in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(numbers) == [f"CH-{YEAR}-{n:06d}" for n in range(1, 6)]


def test_late_sdrs_and_corrections_after_final_land_in_the_next_open_period(scenario):
    run_period("2026-09")
    for statement in Statement.objects.filter(currency="EUR"):
        statement_finalise(statement_id=statement.pk)
    late = make_sdr(scenario.a, scenario.b, "3.0000", "3.5700", "6", end=datetime(2026, 9, 20, tzinfo=UTC))
    credit = make_sdr(
        scenario.a, scenario.b, "-10.0000", "-11.9000", "20", credit_of=scenario.a1, end=SEPTEMBER
    )
    # September is final: running it again does nothing, and the late ones wait for October.
    assert run_period("2026-09").claimed is False
    outcome = run_period("2026-10")
    assert outcome.settled == 3  # the late SDR, the credit and October's own SDR
    for sdr in (late, credit, scenario.october):
        sdr.refresh_from_db()
        assert sdr.effective_state == SdrState.SETTLED and sdr.bucket.line.run.period_key == "2026-10"
    alpha, beta = statement_of(scenario.a, period="2026-10"), statement_of(scenario.b, period="2026-10")
    # Alpha ← Beta: 3.57 + 4.76 - 11.90 = -3.57 (excl 3.00 + 4.00 - 10.00 = -3.00).
    # Alpha's fees: 2 SDRs × 0.10 = 0.20 + VAT 0.038 → 0.04 = 0.24; 1.5 % of -3.00 = -0.045 → -0.05
    #   + VAT -0.0095 → -0.01 = -0.06; fees 0.18; net -3.57 - 0.18 = -3.75 (Alpha pays the hub).
    # Beta's fee: 2 × 0.05 = 0.10 + VAT 0.021 → 0.02 = 0.12; net 3.57 - 0.12 = 3.45 (the hub pays).
    assert (alpha.receivable_as_cso, alpha.hub_fees, alpha.net, alpha.payer) == (
        D("-3.57"),
        D("0.18"),
        D("-3.75"),
        "PARTNER",
    )
    assert (beta.payable_as_csp, beta.hub_fees, beta.net, beta.payer) == (
        D("-3.57"),
        D("0.12"),
        D("3.45"),
        "HUB",
    )
    # September's statements did not move.
    assert statement_of(scenario.a).net == D("82.43")


def test_an_sdr_whose_period_is_final_is_planned_into_the_next_open_period(scenario):
    run_period("2026-09")
    for statement in Statement.objects.filter(currency="EUR"):
        statement_finalise(statement_id=statement.pk)
    make_sdr(scenario.a, scenario.b, "3.0000", "3.5700", end=datetime(2026, 9, 20, tzinfo=UTC))
    # Before October's grace has passed (1 November + 2 days), only September's CHF run is due.
    due = settlement_runs_due(now=datetime(2026, 11, 2, 23, 59, tzinfo=UTC))
    assert [(r.period_key, r.currency) for r in due] == [("2026-09", "CHF")]
    due = settlement_runs_due(now=datetime(2026, 11, 3, tzinfo=UTC))
    assert [(r.period_key, r.currency) for r in due] == [("2026-09", "CHF"), ("2026-10", "EUR")]


def test_the_periodic_job_runs_what_is_due(scenario, django_capture_on_commit_callbacks):
    from settlement.tasks import settlement_runs_due as job

    with django_capture_on_commit_callbacks(execute=True):
        assert job() == 3  # September EUR and CHF, October EUR
    assert set(SettlementRun.objects.values_list("period_key", "currency", "state")) == {
        ("2026-09", "EUR", "DONE"),
        ("2026-09", "CHF", "DONE"),
        ("2026-10", "EUR", "DONE"),
    }
    assert Sdr.objects.filter(state_q(SdrState.ACCEPTED)).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert job() == 0


def test_requests_are_checked(scenario):
    for key, currency, error in (
        ("2026-13", "EUR", InvalidInput),
        ("September", "EUR", InvalidInput),
        ("2026-09", "eur", InvalidInput),
        ("2026-09", "XYZ", InvalidInput),
        ("2026-11", "EUR", RuleViolation),  # still takes late SDRs
    ):
        with pytest.raises(error):
            settlement_run_request(period_key=key, currency=currency)
    assert not SettlementRun.objects.exists()


def test_pairs_settle_at_the_more_frequent_cadence_of_their_partners(scenario):
    scenario.g.fee_plan.cadence = "WEEKLY"
    scenario.g.fee_plan.save()
    run_period("2026-09")
    monthly = SettlementRun.objects.get(cadence="MONTHLY", currency="EUR")
    assert set(StatementLine.objects.filter(run=monthly).values_list("cso", "csp")) == {
        (scenario.a.pk, scenario.b.pk)
    }
    outcome = run_period("2026-W37")  # the ISO week of 10 September 2026
    assert outcome.settled == 3
    weekly = SettlementRun.objects.get(cadence="WEEKLY")
    assert set(StatementLine.objects.filter(run=weekly).values_list("cso", "csp")) == {
        (scenario.a.pk, scenario.g.pk),
        (scenario.g.pk, scenario.b.pk),
    }
    assert Statement.objects.filter(run=weekly).count() == 3
    assert Sdr.objects.filter(state_q(SdrState.ACCEPTED), currency="EUR").count() == 1  # October's


def test_executing_a_closed_run_does_nothing(scenario):
    run_period("2026-09")
    statement_finalise(statement_id=statement_of(scenario.a).pk)
    run = SettlementRun.objects.get(currency="EUR")
    assert settlement_run_execute(run_id=run.pk).claimed is False
