"""Erasure, export and retention in the operator console."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from clearinghouse.models import AuditEntry
from credentials.models import Credential, DataExport, Erasure, RetentionRun
from credentials.privacy.services import retention_run
from sessions.models import ChargingSession

from .conftest import DRIVER, PIN, World, authorize, populate, session_start
from .support import occurrences

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Any) -> Any:
    user = get_user_model().objects.create_superuser(
        "privacy-admin", "pa@example.invalid", "a-long-password-1"
    )
    client.force_login(user)
    return client


def test_staff_erase_a_contract_in_any_spelling(world: World, staff: Any) -> None:
    populate(world)
    add = reverse("admin:credentials_erasure_add")
    assert staff.get(add).status_code == 200
    r = staff.post(add, {"contract_id": world.contract.replace("-", "").lower()})
    assert r.status_code == 302, r.content[:2000]
    erasure = Erasure.objects.get()
    assert (erasure.state, erasure.channel, erasure.requested_by) == (
        "COMPLETED",
        "ADMIN",
        "staff:privacy-admin",
    )
    assert erasure.csp_id == world.csp.partner.pk
    assert occurrences(world.spellings + world.secrets) == []
    assert AuditEntry.objects.filter(action="admin.add", object_id=str(erasure.pk), channel="ADMIN").exists()
    # The erasure's page and the list open; pasting the contract ID finds its erasure.
    assert staff.get(reverse("admin:credentials_erasure_change", args=[erasure.pk])).status_code == 200
    found = staff.get(reverse("admin:credentials_erasure_changelist"), {"q": world.contract})
    assert found.status_code == 200 and erasure.pseudonym.encode() in found.content
    # A second request in the console answers the same erasure.
    assert staff.post(add, {"contract_id": world.contract}).status_code == 302
    assert Erasure.objects.count() == 1


@pytest.mark.parametrize("value", ["", "garbage", "NL-BMO-C12345678-0", "FR-XYZ-C00000001"])
def test_the_console_refuses_what_is_not_a_known_contract(world: World, staff: Any, value: str) -> None:
    r = staff.post(reverse("admin:credentials_erasure_add"), {"contract_id": value})
    assert r.status_code == 200 and b"errorlist" in r.content
    assert not Erasure.objects.exists()


def test_staff_run_a_waiting_erasure_now(world: World, staff: Any) -> None:
    item = {"type": "RFID", "value": "04A1B2C3D4E5F6", "contract_id": world.contract, "whitelist": "ALWAYS"}
    world.csp.client.post("/credentials/", [item])
    started = authorize(world, {"type": "RFID", "value": "04A1B2C3D4E5F6"})
    session_start(world, "S-LIVE", world.contract, started["authorization_reference"])
    staff.post(reverse("admin:credentials_erasure_add"), {"contract_id": world.contract})
    erasure = Erasure.objects.get()
    assert erasure.state == "SCHEDULED"
    r = staff.post(
        reverse("admin:credentials_erasure_changelist"),
        {"action": "run_now", "_selected_action": [erasure.pk]},
        follow=True,
    )
    assert r.status_code == 200 and b"Completed 1 erasure" in r.content
    erasure.refresh_from_db()
    assert erasure.state == "COMPLETED"
    assert ChargingSession.objects.get(session_id="S-LIVE").contract_id == erasure.pseudonym
    assert not Credential.objects.exists()


def test_staff_download_an_export(world: World, staff: Any) -> None:
    populate(world)
    r = staff.post(reverse("admin:credentials_dataexport_add"), {"contract_id": world.contract})
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json" and "attachment" in r["Content-Disposition"]
    assert "no-store" in r["Cache-Control"]
    doc = json.loads(r.content)
    assert doc["personal_data"][0]["name"] == DRIVER["name"] and len(doc["sdrs"]) == 2
    assert PIN not in r.content.decode()
    record = DataExport.objects.get()
    assert (record.channel, record.requested_by) == ("ADMIN", "staff:privacy-admin")
    assert staff.get(reverse("admin:credentials_dataexport_change", args=[record.pk])).status_code == 200


def test_every_privacy_page_opens(world: World, staff: Any) -> None:
    populate(world)
    world.csp.client.post("/privacy/erasures", {"contract_id": world.other_contract})
    world.csp.client.get(f"/privacy/export?contract_id={world.contract}")
    retention_run()
    for model in (Erasure, DataExport, RetentionRun):
        name = model._meta.model_name
        assert staff.get(reverse(f"admin:credentials_{name}_changelist")).status_code == 200
        assert staff.get(reverse(f"admin:credentials_{name}_changelist"), {"q": "x"}).status_code == 200
        first = model.objects.first()
        assert staff.get(reverse(f"admin:credentials_{name}_change", args=[first.pk])).status_code == 200
