"""Admin smoke test: every changelist, add and change page opens; actions call services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from clearinghouse.audit import audit_record
from clearinghouse.models import AuditEntry
from partners import services
from partners.models import Partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.invalid", "staff-password-1")
    client.force_login(user)
    return client


@pytest.fixture
def populated(cso, csp):
    services.endpoints_replace(
        partner=csp.partner, endpoints=[{"role": "CSP", "url": "https://csp.example/i3"}]
    )
    services.agreement_create(cso=cso.partner, csp=csp.partner)
    audit_record(action="test.entry")
    return cso, csp


def test_every_admin_page_opens(staff_client, populated):
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:{}_{}_changelist".format(*info))
        r = staff_client.get(url)
        assert r.status_code == 200, url
        if model_admin.has_add_permission(r.wsgi_request):
            add = reverse("admin:{}_{}_add".format(*info))
            assert staff_client.get(add).status_code == 200, add
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            assert staff_client.get(change).status_code == 200, change
        search = staff_client.get(url, {"q": "x"})
        assert search.status_code == 200, url


def test_partner_actions_call_services(staff_client):
    p = services.partner_create(name="Pending Co", country_code="DE", party_id="PEN", roles=["CSO"])
    url = reverse("admin:partners_partner_changelist")
    r = staff_client.post(url, {"action": "partner_approve", "_selected_action": [p.pk]}, follow=True)
    assert r.status_code == 200
    p.refresh_from_db()
    assert p.status == "ACTIVE"
    entry = AuditEntry.objects.filter(action="partner.approve").latest("id")
    assert entry.actor_label == "staff:staff"
    # A refused transition is reported, not raised.
    r = staff_client.post(url, {"action": "partner_approve", "_selected_action": [p.pk]}, follow=True)
    assert b"cannot approve" in r.content


def test_issue_api_credentials_shows_them_once(staff_client):
    p = services.partner_approve(
        partner=services.partner_create(name="Cred Co", country_code="DE", party_id="CRD", roles=["CSP"])
    )
    url = reverse("admin:partners_partner_changelist")
    r = staff_client.post(url, {"action": "issue_api_credentials", "_selected_action": [p.pk]})
    assert r.status_code == 200
    assert b"shown once" in r.content
    user = p.api_users.get().user
    assert user.username.encode() in r.content
    # The change page of the API user does not show the secret.
    change = staff_client.get(reverse("admin:partners_partneruser_change", args=[p.api_users.get().pk]))
    assert b"hmac_secret" not in change.content


def test_partner_form_validates_identifiers(staff_client):
    r = staff_client.post(
        reverse("admin:partners_partner_add"),
        {
            "name": "Bad",
            "country_code": "QQ",
            "party_id": "A",
            "is_cso": "on",
            "settlement_currency": "EUR",
            "endpoints-TOTAL_FORMS": "0",
            "endpoints-INITIAL_FORMS": "0",
            "api_users-TOTAL_FORMS": "0",
            "api_users-INITIAL_FORMS": "0",
            "agreements_as_cso-TOTAL_FORMS": "0",
            "agreements_as_cso-INITIAL_FORMS": "0",
            "agreements_as_csp-TOTAL_FORMS": "0",
            "agreements_as_csp-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 200
    assert not Partner.objects.filter(name="Bad").exists()


def test_admin_writes_are_audited(staff_client):
    p = services.partner_create(name="Edit Co", country_code="DE", party_id="EDT", roles=["CSO"])
    data = {
        "name": "Edited Co",
        "legal_name": "Edited",
        "country_code": "DE",
        "party_id": "EDT",
        "is_cso": "on",
        "settlement_currency": "EUR",
        "endpoints-TOTAL_FORMS": "0",
        "endpoints-INITIAL_FORMS": "0",
        "api_users-TOTAL_FORMS": "0",
        "api_users-INITIAL_FORMS": "0",
        "agreements_as_cso-TOTAL_FORMS": "0",
        "agreements_as_cso-INITIAL_FORMS": "0",
        "agreements_as_csp-TOTAL_FORMS": "0",
        "agreements_as_csp-INITIAL_FORMS": "0",
    }
    r = staff_client.post(reverse("admin:partners_partner_change", args=[p.pk]), data)
    assert r.status_code == 302, r.content[:2000]
    assert AuditEntry.objects.filter(channel="ADMIN", action="admin.change", object_id=str(p.pk)).exists()
