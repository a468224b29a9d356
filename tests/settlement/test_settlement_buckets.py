"""Settlement buckets: acceptance places an SDR, a late one goes to the next open period, a fee plan's
new cadence moves open buckets, acceptance racing a run (PostgreSQL, real transactions in threads),
and the whole path on SQLite (the embedded default) in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from settlement.models import Sdr, SdrState, SettlementBucket, Statement, StatementLine
from settlement.selectors import state_q
from settlement.services import sdr_accept, settlement_steps
from settlement.services.settlement_finalise import statement_finalise
from settlement.services.settlement_run import settlement_run_execute, settlement_run_request
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import make_sdr, run_period

_media = support._media
scenario = support.scenario
D = Decimal
LATE = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def settled() -> set[int]:
    return set(Sdr.objects.filter(state_q(SdrState.SETTLED)).values_list("pk", flat=True))


def finalise(period: str = "2026-09", currency: str = "EUR") -> None:
    for statement in Statement.objects.filter(period_key=period, currency=currency):
        statement_finalise(statement_id=statement.pk)


@pytest.mark.django_db
def test_acceptance_places_the_sdr_in_its_period_and_a_late_one_in_the_next_open_period(scenario):
    early = make_sdr(scenario.a, scenario.b, "2.0000", "2.3800", "4", state=SdrState.DELIVERED, end=LATE)
    sdr_accept(csp_id=scenario.b.pk, sdr_pk=early.pk)
    early.refresh_from_db()
    assert (early.bucket.period_key, early.bucket.cadence, early.bucket.line_id) == (
        "2026-09",
        "MONTHLY",
        None,
    )
    run_period("2026-09")
    finalise()
    # September is final: an SDR of September accepted now is placed in October straight away.
    late = make_sdr(scenario.a, scenario.b, "3.0000", "3.5700", "6", state=SdrState.DELIVERED, end=LATE)
    accepted = sdr_accept(csp_id=scenario.b.pk, sdr_pk=late.pk)
    assert accepted.bucket.period_key == "2026-10" and accepted.effective_state == SdrState.ACCEPTED
    outcome = run_period("2026-10")
    assert outcome.settled == 2  # the late one and October's own
    late.refresh_from_db()
    assert late.effective_state == SdrState.SETTLED and late.bucket.line.run.period_key == "2026-10"


@pytest.mark.django_db
def test_an_sdr_accepted_after_the_run_moves_on_when_its_period_becomes_final(scenario):
    run_period("2026-09")
    # Accepted after September's run, before its statements are final: September's new open bucket.
    scenario.d1.refresh_from_db()
    withdrawn = sdr_accept(csp_id=scenario.b.pk, sdr_pk=scenario.d1.pk)
    bucket = withdrawn.bucket
    assert (bucket.period_key, bucket.line_id) == ("2026-09", None)
    before = list(StatementLine.objects.filter(run__period_key="2026-09").values_list("sdr_count", flat=True))
    finalise()
    # Finalising closed September: the bucket moved on to October, where d1 is settled, once.
    bucket.refresh_from_db()
    assert (bucket.period_key, bucket.period_start, bucket.line_id) == (
        "2026-10",
        datetime(2026, 10, 1, tzinfo=UTC),
        None,
    )
    assert list(
        StatementLine.objects.filter(run__period_key="2026-09").values_list("sdr_count", flat=True)
    ) == (before)
    assert run_period("2026-09").claimed is False
    assert run_period("2026-10").settled == 2  # d1 and October's own
    assert scenario.d1.pk in settled()
    line = StatementLine.objects.get(run__period_key="2026-10", cso=scenario.g, csp=scenario.b)
    assert (line.sdr_count, line.amount_incl_vat) == (1, D("10.8"))


@pytest.mark.django_db
def test_a_new_cadence_moves_the_open_buckets_of_its_pairs(scenario):
    early = make_sdr(scenario.a, scenario.g, "2.0000", "2.3800", "4", state=SdrState.DELIVERED, end=LATE)
    sdr_accept(csp_id=scenario.g.pk, sdr_pk=early.pk)
    assert SettlementBucket.objects.get(sdrs=early).cadence == "MONTHLY"
    scenario.g.fee_plan.cadence = "WEEKLY"
    scenario.g.fee_plan.save()
    # The ISO week of 20 September 2026 settles it; September's monthly run no longer has it.
    assert run_period("2026-W38").settled == 1
    early.refresh_from_db()
    assert (early.bucket.cadence, early.bucket.period_key) == ("WEEKLY", "2026-W38")
    assert early.effective_state == SdrState.SETTLED
    run_period("2026-09")
    assert not StatementLine.objects.filter(run__cadence="MONTHLY", cso=scenario.a, csp=scenario.g).exists()


# --- acceptance racing a run (PostgreSQL: the period's lock and the bucket row lock) ----------------


def _in_thread(target: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def body() -> None:
        try:
            results.append(target())
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    return thread


def _someone_waits_for_a_period_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


postgres_only = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgres", "postgresql", "pgsql"),
    reason="row and advisory locks are PostgreSQL's; SQLite lets one writer in at a time",
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_acceptance_in_flight_makes_the_run_wait_and_is_settled_by_it(scenario):
    run_period("2026-09")
    run = settlement_run_request(period_key="2026-09", currency="EUR")
    results: list[Any] = []
    with transaction.atomic():
        sdr_accept(csp_id=scenario.b.pk, sdr_pk=scenario.d1.pk)  # holds September's lock until commit
        thread = _in_thread(lambda: settlement_run_execute(run_id=run.pk), results)
        _wait(_someone_waits_for_a_period_lock, "the run to wait for the acceptance")
    thread.join(30)
    [outcome] = results
    assert outcome.state == "DONE" and outcome.settled == 1
    assert scenario.d1.pk in settled()
    line = StatementLine.objects.get(run=run, cso=scenario.g, csp=scenario.b)
    assert (line.sdr_count, line.disputed_count) == (3, 0)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_acceptance_during_a_run_waits_and_is_settled_once_by_the_next(scenario, monkeypatch):
    run_period("2026-09")
    run = settlement_run_request(period_key="2026-09", currency="EUR")
    make_sdr(scenario.g, scenario.b, "1.0000", "1.2000", "2")  # something for the run to close
    inside, release = threading.Event(), threading.Event()
    real = settlement_steps.bucket_sums

    def paused(bucket_ids: list[int]) -> Any:
        inside.set()  # the run's transaction has closed its buckets and holds the period's lock
        assert release.wait(20)
        return real(bucket_ids)

    monkeypatch.setattr(settlement_steps, "bucket_sums", paused)
    runs: list[Any] = []
    accepts: list[Any] = []
    runner = _in_thread(lambda: settlement_run_execute(run_id=run.pk), runs)
    assert inside.wait(20)
    acceptor = _in_thread(lambda: sdr_accept(csp_id=scenario.b.pk, sdr_pk=scenario.d1.pk), accepts)
    _wait(_someone_waits_for_a_period_lock, "the acceptance to wait for the run")
    release.set()
    runner.join(30)
    acceptor.join(30)
    [outcome], [accepted] = runs, accepts
    assert outcome.state == "DONE" and outcome.settled == 1  # the new SDR, not d1
    assert accepted.effective_state == SdrState.ACCEPTED
    # d1 waits in a new open bucket of September; the next execution settles it, once.
    d1 = Sdr.objects.select_related("bucket").get(pk=scenario.d1.pk)
    assert (d1.bucket.period_key, d1.bucket.line_id) == ("2026-09", None)
    monkeypatch.setattr(settlement_steps, "bucket_sums", real)
    assert settlement_run_execute(run_id=run.pk).settled == 1
    assert settlement_run_execute(run_id=run.pk).settled == 0
    line = StatementLine.objects.get(run=run, cso=scenario.g, csp=scenario.b)
    assert (line.sdr_count, line.amount_incl_vat, line.disputed_count) == (4, D("38.7"), 0)


# --- SQLite ---------------------------------------------------------------------------------------

SQLITE_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import IntegrityError, connection, transaction
assert connection.vendor == "sqlite", connection.vendor
from settlement.models import Sdr, SdrState, SettlementBucket, Statement
from settlement.selectors import state_q
from settlement.services import sdr_accept
from settlement.services.settlement_finalise import statement_finalise
from tests.settlement.test_settlement_support import SEPTEMBER, Scenario, make_sdr, run_period
from tests.support import onboard

s = Scenario(
    onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"]),
    onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"]),
    onboard(name="Gamma Roaming", country="FR", party="GRO", roles=["CSO", "CSP"]),
)
outcome = run_period("2026-09")
assert (outcome.state, outcome.settled, outcome.statements) == ("DONE", 8, 3), outcome
alpha = Statement.objects.get(partner=s.a, currency="EUR")
assert str(alpha.net) == "82.4300", alpha.net
assert run_period("2026-09").settled == 0
for statement in Statement.objects.filter(currency="EUR"):
    statement_finalise(statement_id=statement.pk)
late = make_sdr(s.a, s.b, "3.0000", "3.5700", "6", state=SdrState.DELIVERED, end=SEPTEMBER)
assert sdr_accept(csp_id=s.b.pk, sdr_pk=late.pk).bucket.period_key == "2026-10"
assert run_period("2026-10").settled == 2
assert Sdr.objects.filter(state_q(SdrState.SETTLED)).count() == 10
closed = SettlementBucket.objects.filter(line__isnull=False).first()
for attempt in (
    lambda: Sdr.objects.filter(pk=s.a1.pk).update(bucket=None),
    lambda: Sdr.objects.filter(pk=s.a1.pk).update(state="DISPUTED"),
    lambda: SettlementBucket.objects.filter(pk=closed.pk).update(line=None, closed_at=None),
    lambda: Sdr.objects.filter(pk=s.october.pk).update(bucket=closed),
):
    try:
        with transaction.atomic():
            attempt()
    except IntegrityError:
        continue
    raise AssertionError("the database let a settled SDR or a closed bucket change")
print("SQLITE OK")
"""


def test_the_settlement_path_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clearinghouse.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and "SQLITE OK" in proc.stdout, proc.stderr[-3000:]
