"""The nightly retention job, run with a moved clock: at each period's end exactly the rows of that
data class that are due are anonymised or deleted, in batches, and nothing else changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from clearinghouse.models import AuditEntry, IdempotencyRecord
from clearinghouse.routing.models import OutboxMessage
from credentials.models import AuthorizationRecord, Credential, DataExport, RetentionRun
from credentials.privacy.contracts import pseudonym_of
from credentials.privacy.identity import is_pseudonym
from credentials.privacy.services import retention_run
from sessions.models import ChargingSession, RemoteCommand, Reservation
from settlement.models import Sdr, SdrChargingPeriod, SdrEvent, SdrFinding

from .conftest import UID, World, cdr_doc, populate
from .support import changes, snapshot

pytestmark = pytest.mark.django_db

# The job's own bookkeeping: checked on its own.
OWN = ("credentials.RetentionRun", "clearinghouse.AuditEntry")


def keys(model: Any, pks: Any) -> set[tuple[str, str]]:
    return {(model._meta.label, str(pk)) for pk in pks}


def run_at(now: datetime) -> tuple[RetentionRun, dict[str, set[tuple[str, str]]]]:
    before = snapshot()
    run = retention_run(now=now)
    assert run is not None and run.state == "COMPLETED", run
    return run, changes(before, snapshot(), ignore=OWN)


@pytest.fixture
def aged(world: World, settings: Any) -> tuple[World, datetime, dict[str, Any]]:
    """The populated world, with a delivered, a cancelled and a dead message, a rejected SDR, an
    export and an admin log line; every row written now (the clock then moves)."""
    settings.PRIVACY_RETENTION_BATCH_SIZE = 2  # several batches (transactions) per step
    populate(world)
    messages = list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    OutboxMessage.objects.filter(pk=messages[0]).update(
        state="DELIVERED", delivered_at=now, response_body={"ok": True, "contract": world.contract}
    )
    OutboxMessage.objects.filter(pk=messages[1]).update(state="CANCELLED")
    OutboxMessage.objects.filter(pk=messages[2]).update(state="DEAD", last_error=f"refused {world.contract}")
    bad = cdr_doc(world.cso.partner.operator_id, world.contract, sdr_id="SDR-BAD", evse_suffix="E999")
    assert world.cso.client.post("/sdrs/", bad).status_code == 422
    assert world.csp.client.get(f"/privacy/export?contract_id={world.contract}").status_code == 200
    staff = get_user_model().objects.create_superuser(
        "retention-staff", "r@example.invalid", "a-long-password-1"
    )
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[Credential.objects.first()], action_flag=CHANGE, change_message="looked"
    )
    made = {"messages": messages, "staff": staff}
    return world, timezone.now(), made


def test_the_clock_moves_and_each_class_goes_when_due(aged: tuple[World, datetime, dict[str, Any]]) -> None:
    world, t0, made = aged
    messages = made["messages"]
    day = timedelta(days=1)

    # Today nothing is due.
    run, diff = run_at(t0)
    assert diff == {"changed": set(), "deleted": set(), "added": set()}
    assert set(run.counts.values()) == {0}

    # A day later the idempotency answers (24 hours) go.
    answers = set(IdempotencyRecord.objects.values_list("pk", flat=True))
    assert answers
    _, diff = run_at(t0 + 2 * day)
    assert diff == {"changed": set(), "deleted": keys(IdempotencyRecord, answers), "added": set()}

    # 29 days: nothing new. 31 days: delivered and cancelled payloads are emptied, nothing else.
    assert run_at(t0 + 29 * day)[1] == {"changed": set(), "deleted": set(), "added": set()}
    run, diff = run_at(t0 + 31 * day)
    assert diff == {"changed": keys(OutboxMessage, messages[:2]), "deleted": set(), "added": set()}
    assert run.counts["routing.delivery_payloads"] == 2
    delivered = OutboxMessage.objects.get(pk=messages[0])
    assert (delivered.payload, delivered.response_body, delivered.state) == ({}, None, "DELIVERED")
    assert OutboxMessage.objects.filter(state="PENDING").exclude(payload={}).count() == len(messages) - 3

    # 89 days: nothing. 91 days: authorization records are anonymised, the dead letter is deleted.
    assert run_at(t0 + 89 * day)[1] == {"changed": set(), "deleted": set(), "added": set()}
    authorizations = set(AuthorizationRecord.objects.values_list("pk", flat=True))
    run, diff = run_at(t0 + 91 * day)
    assert diff["changed"] == keys(AuthorizationRecord, authorizations)
    assert diff["deleted"] == keys(OutboxMessage, messages[2:3])
    for record in AuthorizationRecord.objects.all():
        assert (record.lookup_hash, record.credential_hint, record.credential_id) == ("", "", None)
        assert is_pseudonym(record.contract_id), record.contract_id
    assert AuthorizationRecord.objects.filter(contract_id=pseudonym_of(world.contract)).count() == 6

    # 179 days: nothing. 181 days: finished sessions, commands and reservations are pseudonymised.
    assert run_at(t0 + 179 * day)[1] == {"changed": set(), "deleted": set(), "added": set()}
    named = RemoteCommand.objects.exclude(contract_id="").values_list("pk", flat=True)
    run, diff = run_at(t0 + 181 * day)
    assert diff["changed"] == (
        keys(ChargingSession, ChargingSession.objects.values_list("pk", flat=True))
        | keys(RemoteCommand, named)
        | keys(Reservation, Reservation.objects.values_list("pk", flat=True))
    )
    assert diff["deleted"] == set()
    assert ChargingSession.objects.get(session_id="S-1").contract_id == pseudonym_of(world.contract)
    assert ChargingSession.objects.get(session_id="S-1").kwh == 20  # the figures stay
    assert set(ChargingSession.objects.values_list("token_hint", flat=True)) == {""}

    # 366 days: the audit log goes (and with it the export records and the admin log); accepted
    # SDRs are pseudonymised, the rejected one is deleted; delivered-but-not-accepted SDRs wait.
    rejected = Sdr.objects.get(state="REJECTED")
    accepted = Sdr.objects.get(sdr_id="SDR-1")
    logged = set(AuditEntry.objects.values_list("pk", flat=True))
    expected_deleted = (
        keys(Sdr, [rejected.pk])
        | keys(SdrFinding, rejected.findings.values_list("pk", flat=True))
        | keys(SdrEvent, rejected.events.values_list("pk", flat=True))
        | keys(LogEntry, LogEntry.objects.values_list("pk", flat=True))
        | keys(DataExport, DataExport.objects.values_list("pk", flat=True))
    )
    run, diff = run_at(t0 + 366 * day)
    assert diff == {"changed": keys(Sdr, [accepted.pk]), "deleted": expected_deleted, "added": set()}
    assert run.counts["settlement.sdr_personal_references"] == 2  # one pseudonymised, one deleted
    assert not AuditEntry.objects.filter(pk__in=logged).exists()
    accepted.refresh_from_db()
    assert accepted.contract_id == pseudonym_of(world.contract)
    assert accepted.cdr["cdr_token"]["uid"] == accepted.contract_id
    assert accepted.total_cost_excl_vat == 6 and accepted.total_energy == 20
    assert Sdr.objects.get(sdr_id="SDR-2").contract_id == world.contract  # DELIVERED: still open
    assert UID in str(Sdr.objects.get(sdr_id="SDR-2").cdr)

    # The accounting period (10 years) ends: the SDRs are deleted with their periods and events.
    periods = SdrChargingPeriod.objects.count()
    assert periods and SdrEvent.objects.exists()
    ten_years = t0.replace(year=t0.year + 10) + 5 * day
    run, diff = run_at(ten_years)
    assert run.counts["settlement.sdrs_past_accounting"] == 3
    assert (
        not Sdr.objects.exists() and not SdrChargingPeriod.objects.exists() and not SdrEvent.objects.exists()
    )
    assert diff["changed"] == set()


def test_the_job_runs_once_at_a_time_and_is_scheduled(world: World) -> None:
    from clearinghouse.schedule import beat_schedule
    from credentials.tasks import privacy_erasures_run_scheduled, privacy_retention_run

    schedule = beat_schedule(routing_sweep_seconds=5.0)
    assert schedule["credentials-privacy-retention-run"] == {
        "task": "credentials.privacy_retention_run",
        "schedule": 86400.0,
    }
    assert (
        schedule["credentials-privacy-erasures-run-scheduled"]["task"]
        == "credentials.privacy_erasures_run_scheduled"
    )
    RetentionRun.objects.create(as_of=timezone.now())  # one is going on
    assert retention_run() is None
    assert privacy_retention_run.delay().get() == 0
    RetentionRun.objects.filter(state="RUNNING").update(started_at=timezone.now() - timedelta(hours=2))
    run = retention_run()
    assert run is not None and run.state == "COMPLETED"
    assert RetentionRun.objects.get(state="FAILED").error.startswith("abandoned")
    assert privacy_erasures_run_scheduled.delay().get() == 0


def test_a_failing_step_marks_the_run_failed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from credentials.privacy import registry

    def broken(now: datetime, batch_size: int) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setitem(
        registry._RETENTION_STEPS, "test.broken", registry.Registered("test.broken", broken, 1)
    )
    with pytest.raises(RuntimeError):
        retention_run()
    run = RetentionRun.objects.get()
    assert (run.state, run.error) == ("FAILED", "test.broken: RuntimeError")


def test_zero_keeps_a_class_forever(aged: tuple[World, datetime, dict[str, Any]], settings: Any) -> None:
    _world, t0, _ = aged
    for name in (
        "PRIVACY_AUTHORIZATION_RETENTION_DAYS", "PRIVACY_SESSION_RETENTION_DAYS",
        "PRIVACY_DELIVERY_PAYLOAD_RETENTION_DAYS", "PRIVACY_DEAD_LETTER_RETENTION_DAYS",
        "PRIVACY_AUDIT_LOG_RETENTION_DAYS", "PRIVACY_SDR_PERSONAL_RETENTION_DAYS",
        "PRIVACY_ACCOUNTING_RETENTION_YEARS", "I3_IDEMPOTENCY_TTL_HOURS",
    ):  # fmt: skip
        setattr(settings, name, 0)
    _, diff = run_at(t0.replace(year=t0.year + 20))
    assert diff == {"changed": set(), "deleted": set(), "added": set()}
