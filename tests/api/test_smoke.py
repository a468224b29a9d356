from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_login_and_profile(cso):
    r = cso.client.login()
    assert r.json()["expires_in"] == 1200
    r = cso.client.get("/partners/me")
    assert r.status_code == 200, r.content
    assert r.json()["operator_id"] == "DE*ACH"
