"""A Celery worker killed with SIGKILL in the middle of a settlement run, then restarted: every SDR is
settled exactly once and the totals match a bare SQL sum over the SDRs.

The hub runs as real processes on a private PostgreSQL and Redis. Thousands of SDRs come in through
the API in bulk, are delivered to the CSP, and are accepted by the hub's own periodic job once the
dispute window (0 days here) has passed; acceptance puts them into their settlement buckets. The
periodic job `settlement.settlement_runs_due` starts the run on the worker. The run settles in one
transaction (close the period's buckets, one GROUP BY into the lines); to kill the worker inside
that transaction for sure, the test holds the period's lock shared, as an acceptance in flight
would, so the run waits in the middle of its transaction; the test kills the worker's whole process
group there, lets go of the lock, starts a new worker, and checks that nothing of the killed
transaction stays, that the periodic job leaves the run alone while its heartbeat is fresh, and
takes it over once it is stale (SETTLEMENT_RUN_STALE_SECONDS, 30 s, the least the hub allows).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from settlement.services.settlement_buckets import LOCK_CLASS, _lock_key
from tests.reliability import hubworld
from tests.reliability.hubworld import HubWorld
from tests.reliability.stack import wait_for

pytestmark = [pytest.mark.reliability]

SDRS = 3000
BULK = 500
# The hub refuses less (settlement.E103): a live run's heartbeat may be this far apart.
STALE_SECONDS = 30


@pytest.fixture
def world(hub_factory: Any) -> Iterator[HubWorld]:
    hub = hub_factory(
        SETTLEMENT_RUN_STALE_SECONDS=STALE_SECONDS,
        SDR_DISPUTE_WINDOW_DAYS=0,
        SETTLEMENT_GRACE_DAYS=2,
    )
    # No beat: the test enqueues the periodic jobs itself, at the moments it chooses.
    built = hubworld.build(hub, start=lambda: hub.start(workers=1, beat=False))
    yield built
    built.cso_endpoint.stop()
    built.csp_endpoint.stop()


def count(world: HubWorld, state: str) -> int:
    """SDRs in a stored state; SETTLED is ACCEPTED in a closed settlement bucket."""
    if state == "SETTLED":
        sql = (
            "SELECT count(*) FROM settlement_sdr s JOIN settlement_settlementbucket b ON b.id = s.bucket_id "
            "WHERE s.state = 'ACCEPTED' AND b.line_id IS NOT NULL"
        )
        return world.hub.query(sql)[0][0]
    return world.hub.query("SELECT count(*) FROM settlement_sdr WHERE state = %s", [state])[0][0]


def waiting_for_lock(world: HubWorld) -> bool:
    return (
        world.hub.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0] > 0
    )


def test_a_worker_killed_mid_run_settles_every_sdr_exactly_once(world: HubWorld):
    hub = world.hub
    started = time.monotonic()
    for first in range(0, SDRS, BULK):
        batch = [world.cdr(f"K-{n}") for n in range(first, first + BULK)]
        answer = world.cso.post("/sdrs/", batch)
        assert answer.status_code == 200 and answer.json()["summary"]["created"] == BULK, answer.text[:300]
    ingested = time.monotonic() - started
    wait_for(
        lambda: count(world, "DELIVERED") == SDRS, timeout=120, what=f"SDR deliveries\n{hub.diagnostics()}"
    )
    hub.send_task("settlement.sdrs_accept_undisputed")
    wait_for(lambda: count(world, "ACCEPTED") == SDRS, timeout=120, what=f"acceptance\n{hub.diagnostics()}")
    prepared = time.monotonic() - started

    # Every accepted SDR is in an open bucket of one period: hold that period's lock shared.
    [(cadence, currency, period_key, placed)] = hub.query(
        "SELECT b.cadence, b.currency, b.period_key, count(*) FROM settlement_sdr s "
        "JOIN settlement_settlementbucket b ON b.id = s.bucket_id WHERE b.line_id IS NULL "
        "GROUP BY b.cadence, b.currency, b.period_key"
    )
    assert placed == SDRS
    holder = hub.stack.postgres.connect(hub.db)
    worker = hub.workers[0]
    with holder.transaction():
        holder.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)",
            [LOCK_CLASS, _lock_key(cadence, currency, period_key)],
        )
        # The run starts on the worker and waits for the lock inside its settling transaction.
        hub.send_task("settlement.settlement_runs_due")
        wait_for(
            lambda: waiting_for_lock(world),
            interval=0.05,
            timeout=60,
            what=f"the run to wait in its settling transaction\n{hub.diagnostics()}",
        )
        worker.kill()
    holder.close()
    time.sleep(1)  # the killed worker's session gets the lock, finds its client gone, rolls back
    run = hub.query("SELECT id, state, attempts FROM settlement_settlementrun")
    assert [(state, attempts) for _, state, attempts in run] == [("RUNNING", 1)], run
    # Nothing of the killed transaction stays: every bucket open, no sums on any line.
    assert count(world, "SETTLED") == 0
    assert hub.query("SELECT count(*) FROM settlement_settlementbucket WHERE line_id IS NOT NULL")[0][0] == 0
    assert hub.query("SELECT coalesce(sum(sdr_count), 0) FROM settlement_statementline")[0][0] == 0

    # A new worker. While the run's heartbeat is fresh its owner may still be alive, so the periodic
    # job must leave it alone; once the heartbeat is stale the job takes the run over.
    hub.start_worker(concurrency=1)
    hub.send_task("settlement.settlement_runs_due")
    time.sleep(3)
    assert count(world, "SETTLED") == 0
    assert hub.query("SELECT state, attempts FROM settlement_settlementrun") == [("RUNNING", 1)]
    wait_for(
        lambda: hub.query(
            "SELECT extract(epoch FROM now() - heartbeat_at) > %s FROM settlement_settlementrun",
            [STALE_SECONDS + 1],
        )[0][0],
        timeout=STALE_SECONDS + 30,
        interval=0.5,
        what="the killed run's heartbeat to go stale",
    )
    resumed = time.monotonic()
    hub.send_task("settlement.settlement_runs_due")
    wait_for(
        lambda: hub.query("SELECT state FROM settlement_settlementrun")[0][0] == "DONE",
        timeout=120,
        what=f"the run to finish on the new worker\n{hub.diagnostics()}",
    )
    finished = time.monotonic() - resumed

    assert count(world, "SETTLED") == SDRS
    # Exactly once: each SDR in one bucket (a column of the SDR), each bucket closed onto one line,
    # and the lines count each SDR once.
    assert count(world, "ACCEPTED") == SDRS  # the SDR rows were never written by the run
    closed = hub.query(
        "SELECT count(*), count(DISTINCT s.id) FROM settlement_sdr s "
        "JOIN settlement_settlementbucket b ON b.id = s.bucket_id WHERE b.line_id IS NOT NULL"
    )[0]
    assert closed == (SDRS, SDRS)
    lines = hub.query(
        "SELECT sum(sdr_count), sum(amount_excl_vat), sum(amount_incl_vat), sum(energy_kwh) "
        "FROM settlement_statementline"
    )[0]
    bare = hub.query(
        "SELECT count(*), sum(total_cost_excl_vat), sum(coalesce(total_cost_incl_vat, total_cost_excl_vat)), "
        "sum(total_energy) FROM settlement_sdr"
    )[0]
    assert lines == bare, (lines, bare)
    assert bare[2] == Decimal("7.14") * SDRS
    run_row = hub.query("SELECT state, attempts, sdr_count, statement_count FROM settlement_settlementrun")[0]
    assert run_row == ("DONE", 2, SDRS, 2), run_row
    statements = dict(
        hub.query(
            "SELECT p.name, s.receivable_as_cso + s.payable_as_csp FROM settlement_statement s "
            "JOIN partners_partner p ON p.id = s.partner_id"
        )
    )
    assert statements == {"Alpha Charge": bare[2], "Beta Mobility": bare[2]}, statements
    print(
        f"\nworker killed: {SDRS} SDRs ingested in {ingested:.1f}s, delivered and accepted by "
        f"{prepared:.1f}s; killed inside the settling transaction, nothing of it left; "
        f"the run resumed on a new worker and finished in {finished:.1f}s; {SDRS} settled once, "
        f"total {bare[2]} EUR incl. VAT on both statements"
    )
