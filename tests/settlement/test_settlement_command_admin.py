"""`manage.py settlement_run`, the operator console's settlement pages and actions, and the tasks."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from clearinghouse.models import AuditEntry
from settlement.models import FeePlan, FinanceUser, SettlementRun, Statement
from settlement.services.settlement_finalise import statement_finalise
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import run_period

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario
ROOT = Path(__file__).resolve().parents[2]


def command(*args):
    out = StringIO()
    call_command("settlement_run", *args, stdout=out)
    return out.getvalue()


def test_the_command_settles_every_currency_of_a_period(scenario):
    out = command("--period", "2026-09")
    assert "2026-09 CHF: DONE, 1 SDRs settled, 2 statements" in out
    assert "2026-09 EUR: DONE, 8 SDRs settled, 3 statements" in out
    assert "2026-09 EUR: DONE, 0 SDRs settled, 3 statements" in command(
        "--period", "2026-09", "--currency", "EUR"
    )
    assert command("--period", "2026-08") == "2026-08: nothing to settle.\n"


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["--period", "2026-13"], "not a period key", 2),
        (["--period", "2026-09", "--currency", "euro"], "not an ISO 4217 code", 2),
        (["--period", "2026-11", "--currency", "EUR"], "takes late SDRs until", 1),
    ],
)
def test_bad_arguments_are_refused(scenario, args, message, status):
    with pytest.raises(CommandError) as refused:
        command(*args)
    assert message in str(refused.value) and refused.value.returncode == status
    assert not SettlementRun.objects.exists()


def test_bad_arguments_exit_with_status_2():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DJANGO_ENV": "test"}
    result = subprocess.run(
        [sys.executable, "manage.py", "settlement_run", "--period", "November"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not a period key" in result.stderr


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.invalid", "staff-password-1")
    client.force_login(user)
    return client


def test_settlement_admin_pages_open_with_data(staff, scenario, django_capture_on_commit_callbacks):
    run_period("2026-09")
    with django_capture_on_commit_callbacks(execute=True):
        statement_finalise(statement_id=Statement.objects.get(partner=scenario.a).pk)
    FinanceUser.objects.create(user=get_user_model().objects.create_user("alpha-fin"), partner=scenario.a)
    objects = {
        "feeplan": FeePlan.objects.all(),
        "financeuser": FinanceUser.objects.all(),
        "settlementrun": SettlementRun.objects.all(),
        "statement": Statement.objects.all(),
    }
    for model, rows in objects.items():
        changelist = reverse(f"admin:settlement_{model}_changelist")
        assert staff.get(changelist).status_code == 200, model
        assert staff.get(changelist, {"q": "x"}).status_code == 200, model
        for obj in rows:
            assert staff.get(reverse(f"admin:settlement_{model}_change", args=[obj.pk])).status_code == 200, (
                model
            )
    page = staff.get(
        reverse("admin:settlement_statement_change", args=[Statement.objects.get(partner=scenario.a).pk])
    )
    assert b"36.69" in page.content and b"Clearing fee as CSO" in page.content
    assert staff.get(reverse("admin:settlement_feeplan_add")).status_code == 200
    assert staff.get(reverse("admin:settlement_financeuser_add")).status_code == 200


def test_staff_run_settlement_from_the_admin(staff, scenario, django_capture_on_commit_callbacks):
    url = reverse("admin:settlement_settlementrun_run")
    assert b"Run settlement" in staff.get(reverse("admin:settlement_settlementrun_changelist")).content
    assert staff.get(url).status_code == 200
    r = staff.post(url, {"period": "2026-13"})
    assert r.status_code == 200 and b"not a period key" in r.content
    r = staff.post(url, {"period": "2026-11", "currency": "EUR"})
    assert r.status_code == 200 and b"takes late SDRs" in r.content
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(url, {"period": "2026-09"}, follow=True)
    assert b"Settlement started: 2026-09 CHF, 2026-09 EUR." in r.content
    assert set(SettlementRun.objects.values_list("currency", "state", "requested_by")) == {
        ("EUR", "DONE", "staff:staff"),
        ("CHF", "DONE", "staff:staff"),
    }
    assert AuditEntry.objects.filter(action="settlement.run_created", actor_label="staff:staff").count() == 2


def test_admin_actions_run_again_and_finalise(staff, scenario, django_capture_on_commit_callbacks):
    run_period("2026-09")
    run = SettlementRun.objects.get()
    SettlementRun.objects.filter(pk=run.pk).update(state="FAILED")
    changelist = reverse("admin:settlement_settlementrun_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(changelist, {"action": "run_again", "_selected_action": [run.pk]}, follow=True)
    assert b"Started 1 run(s)." in r.content
    run.refresh_from_db()
    assert run.state == "DONE" and run.attempts == 2
    statements = reverse("admin:settlement_statement_changelist")
    ids = list(Statement.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        r = staff.post(statements, {"action": "finalise", "_selected_action": ids}, follow=True)
    assert b"Finalised 3 statement(s)." in r.content
    assert set(Statement.objects.values_list("state", flat=True)) == {"FINAL"}
    assert all(s.report_pdf for s in Statement.objects.all())
    r = staff.post(changelist, {"action": "run_again", "_selected_action": [run.pk]}, follow=True)
    assert b"Closed runs" in r.content


def test_staff_without_permissions_cannot_run(client, scenario):
    user = get_user_model().objects.create_user("viewer", password="viewer-password-1", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:settlement_settlementrun_run")).status_code == 403


def test_tasks_execute_and_store(scenario, django_capture_on_commit_callbacks):
    from settlement.services.settlement_run import settlement_run_request
    from settlement.tasks import settlement_run_execute, statement_reports_store, statements_reports_missing

    run = settlement_run_request(period_key="2026-09", currency="EUR")
    assert settlement_run_execute(run.pk) == "DONE"
    statement = statement_finalise(statement_id=Statement.objects.get(partner=scenario.b).pk)
    assert statement_reports_store(statement.pk) is True
    assert statement_reports_store(statement.pk) is False
    assert statements_reports_missing() == 0


def test_settlement_settings_are_checked(settings):
    from django.core.checks import run_checks

    settings.SETTLEMENT_GRACE_DAYS = -1
    settings.SETTLEMENT_RUN_BATCH_SIZE = 0
    settings.SETTLEMENT_RUN_STALE_SECONDS = 5
    settings.SETTLEMENT_NUMBER_PREFIX = ""
    settings.SETTLEMENT_PAYMENT_TERMS_DAYS = -3
    ids = {m.id for m in run_checks() if m.id.startswith("settlement.E1")}
    assert ids == {f"settlement.E10{n}" for n in range(1, 6)}
