"""The operator console for commands, sessions and reservations: read-only, filtered, searchable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from sessions import services
from sessions.inputs import parse_command, parse_session
from sessions.models import ChargingSession, RemoteCommand, Reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.invalid", "staff-password-1")
    client.force_login(user)
    return client


@pytest.fixture
def records(world):
    csp_id = world.csp.partner.pk
    services.command_submit(
        csp_id=csp_id,
        request=parse_command(
            {"type": "START_SESSION", "evse_id": world.evse_id, "contract_id": world.contract_id}
        ),
    )
    services.command_submit(
        csp_id=csp_id,
        request=parse_command(
            {
                "type": "RESERVE_NOW",
                "evse_id": world.evse_id,
                "contract_id": world.contract_id,
                "reservation_id": "R-1",
                "expiry": (timezone.now() + timedelta(minutes=30)).isoformat(),
            }
        ),
    )
    fields = parse_session(
        {
            "id": "S-77",
            "evse_id": world.evse_id,
            "connector_id": "1",
            "contract_id": world.contract_id,
            "auth_method": "WHITELIST",
            "start_date_time": timezone.now().isoformat(),
            "currency": "EUR",
        },
        partial=False,
    )
    services.session_start(cso_id=world.cso.partner.pk, fields=fields)
    return world


@pytest.mark.parametrize("model", [RemoteCommand, ChargingSession, Reservation])
def test_pages_open_and_are_read_only(staff, records, model):
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    r = staff.get(changelist)
    assert r.status_code == 200
    obj = model.objects.first()
    change = staff.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert staff.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
    for params in (
        {"q": "x"},
        {"evse": "DE*ACH*E100*1"},
        {"evse": "nonsense"},
        {"cso__id__exact": obj.cso_id},
    ):
        assert staff.get(changelist, params).status_code == 200, params


def test_sessions_are_found_by_id_contract_and_evse_in_any_spelling(staff, records):
    url = reverse("admin:charging_sessions_chargingsession_changelist")
    compact = records.contract_id.replace("-", "")[:-1]  # no dashes, no check digit
    for term in ("S-77", records.contract_id, compact, "DEACHE100*1"):
        r = staff.get(url, {"q": term})
        assert r.status_code == 200 and b"S-77" in r.content, term
    r = staff.get(url, {"q": "S-78"})
    assert b"S-77" not in r.content


def test_the_evse_filter_narrows_the_list(staff, records):
    url = reverse("admin:charging_sessions_remotecommand_changelist")
    r = staff.get(url, {"evse": "deache100*1", "state__exact": "PENDING"})
    assert r.status_code == 200
    assert r.context["cl"].result_count == 2
    r = staff.get(url, {"evse": "DE*ACH*E100*2"})
    assert r.context["cl"].result_count == 0
    assert b'value="DE*ACH*E100*2"' in r.content
    # Typing an EVSE keeps the other filters in force.
    r = staff.get(url, {"evse": "DE*ACH*E100*1", "state__exact": "PENDING"})
    assert b'<input type="hidden" name="state__exact" value="PENDING">' in r.content
