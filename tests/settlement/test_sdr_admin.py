"""SDRs in the operator console: read-only, filters, search by ids, the dispute queue."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from settlement.models import Sdr

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:settlement_sdr_changelist"
QUEUE = "admin:settlement_disputedsdr_changelist"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.invalid", "staff-password-1")
    client.force_login(user)
    return client


@pytest.fixture
def sdrs(world):
    world.cso.client.post(
        "/sdrs/",
        [
            world.cdr(sdr_id="PLAIN"),
            world.cdr(sdr_id="PRICEY", excl=9.0, incl=10.71),
            world.cdr(sdr_id="BROKEN", currency="XXQ"),
            world.cdr(sdr_id="ARGUED", session_id="SESSION-ARGUED"),
        ],
    )
    argued = Sdr.objects.get(sdr_id="ARGUED")
    world.csp.client.post(
        f"/sdrs/{argued.pk}/dispute", {"reason_code": "INCORRECT_COST", "message": "too dear"}
    )
    return world


def listed(response) -> set[str]:
    return {sdr.sdr_id for sdr in response.context["cl"].result_list}


def test_changelist_filters(staff, sdrs):
    url = reverse(CHANGELIST)
    assert listed(staff.get(url)) == {"PLAIN", "PRICEY", "BROKEN", "ARGUED"}
    assert listed(staff.get(url, {"state": "REJECTED"})) == {"BROKEN"}
    assert listed(staff.get(url, {"finding": "COST_MISMATCH"})) == {"PRICEY"}
    assert listed(staff.get(url, {"finding": "any-warning"})) == {"PRICEY"}
    assert listed(staff.get(url, {"currency": "EUR"})) == {"PLAIN", "PRICEY", "ARGUED"}
    assert listed(staff.get(url, {"period": "2025-03"})) == {"PLAIN", "PRICEY", "ARGUED"}
    assert listed(staff.get(url, {"period": "2025-04"})) == set()
    assert listed(staff.get(url, {"cso__id__exact": sdrs.cso.partner.pk})) == {
        "PLAIN",
        "PRICEY",
        "BROKEN",
        "ARGUED",
    }
    assert listed(staff.get(url, {"csp__id__exact": sdrs.csp.partner.pk})) == {"PLAIN", "PRICEY", "ARGUED"}
    assert staff.get(url).context["cl"].show_full_result_count is False


def test_search_by_sdr_id_session_id_and_contract_id(staff, sdrs):
    url = reverse(CHANGELIST)
    assert listed(staff.get(url, {"q": "PRICEY"})) == {"PRICEY"}
    assert listed(staff.get(url, {"q": "SESSION-ARGUED"})) == {"ARGUED"}
    compact = sdrs.contract.replace("-", "")
    assert listed(staff.get(url, {"q": compact})) == {"PLAIN", "PRICEY", "ARGUED"}
    assert listed(staff.get(url, {"q": "nothing"})) == set()


def test_the_change_page_is_read_only_and_masks_the_token_uid(staff, sdrs):
    sdr = Sdr.objects.get(sdr_id="PRICEY")
    page = staff.get(reverse("admin:settlement_sdr_change", args=[sdr.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "COST_MISMATCH" in text and "RECEIVED" in text
    assert "04A2B3C4D5E6F7" not in text and "…E6F7" in text
    assert staff.get(reverse("admin:settlement_sdr_add")).status_code == 403
    assert staff.post(reverse("admin:settlement_sdr_delete", args=[sdr.pk])).status_code == 403


def test_the_dispute_queue(staff, sdrs):
    page = staff.get(reverse(QUEUE))
    assert page.status_code == 200
    assert listed(page) == {"ARGUED"}
    assert "too dear" in page.content.decode()
    assert listed(staff.get(reverse(QUEUE), {"dispute_reason_code": "OTHER"})) == set()
    argued = Sdr.objects.get(sdr_id="ARGUED")
    assert staff.get(reverse("admin:settlement_disputedsdr_change", args=[argued.pk])).status_code == 200
