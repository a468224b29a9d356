"""Every admin page of the app opens; the OpenAPI schema lists the endpoints."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from locations.models import EVSE, ConnectorTariff, EvseStatusChange, Location, StatusPushCursor, Tariff
from tests.locations.conftest import make_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    user = get_user_model().objects.create_superuser("staff", "staff@example.org", "a-long-staff-password")
    client = Client()
    client.force_login(user)
    return client


def test_admin_pages(staff, cso, csp):
    cso.client.put("/locations/A", make_location("A", tariff_ids=["T1", "T2"]))
    cso.client.put(
        "/tariffs/T1",
        {
            "country_code": "DE",
            "party_id": "ACH",
            "id": "T1",
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "FLAT", "price": 1, "step_size": 1}]}],
            "last_updated": "2024-01-01T00:00:00Z",
        },
    )
    cso.client.post(
        "/evse-statuses/",
        [{"evse_id": "DE*ACH*EA1", "status": "CHARGING", "timestamp": "2024-02-01T00:00:00Z"}],
    )
    StatusPushCursor.objects.create(csp=csp.partner)
    pages = {
        "location": Location.objects.get(),
        "evse": EVSE.objects.get(),
        "evsestatuschange": EvseStatusChange.objects.get(),
        "statuspushcursor": StatusPushCursor.objects.get(),
        "tariff": Tariff.objects.get(),
        "danglingtariffreference": ConnectorTariff.objects.first(),
    }
    for name, obj in pages.items():
        changelist = reverse(f"admin:locations_{name}_changelist")
        assert staff.get(changelist).status_code == 200, name
        assert staff.get(reverse(f"admin:locations_{name}_change", args=[obj.pk])).status_code == 200, name
    base = reverse("admin:locations_location_changelist")
    for query in ("?dangling=yes", "?evse_status=CHARGING", "?q=DE*ACH*EA1", "?country=DEU"):
        response = staff.get(base + query)
        assert response.status_code == 200 and b"Site A" in response.content, query
    for query in ("?dangling=no", "?evse_status=AVAILABLE"):
        response = staff.get(base + query)
        assert response.status_code == 200 and b"Site A" not in response.content, query
    refs = reverse("admin:locations_danglingtariffreference_changelist")
    dangling = staff.get(refs + "?resolved=no")
    assert b"T2" in dangling.content and b">T1<" not in dangling.content
    assert staff.get(refs + "?resolved=yes").status_code == 200
    assert staff.get(reverse("admin:locations_evse_changelist") + "?q=DE*ACH*EA1").status_code == 200


def test_openapi_schema_lists_the_endpoints(client):
    response = client.get("/api/i3/v1/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/i3/v1/locations/",
        "/api/i3/v1/locations/{location_id}",
        "/api/i3/v1/locations/{location_id}/{evse_uid}",
        "/api/i3/v1/locations/{location_id}/{evse_uid}/{connector_id}",
        "/api/i3/v1/evse-statuses/",
        "/api/i3/v1/tariffs/",
        "/api/i3/v1/tariffs/{tariff_id}",
    ):
        assert path in paths, path
