"""The partner registry's endpoints: profile, endpoints, directory, agreements, and isolation."""

from __future__ import annotations

import pytest

from clearinghouse.models import AuditEntry
from partners import services
from partners.models import RoamingEndpoint
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db


def test_me_shows_my_profile_only(cso, csp):
    me = cso.client.get("/partners/me").json()
    assert me["id"] == cso.partner.pk
    assert me["roles"] == ["CSO"]
    assert me["operator_id"] == "DE*ACH"
    assert me["provider_id"] is None
    assert me["status"] == "ACTIVE"
    assert csp.client.get("/partners/me").json()["provider_id"] == "NL-BMO"


def test_put_endpoints_replaces_the_set(both):
    body = {
        "endpoints": [
            {"role": "CSO", "url": "https://cso.example.com/i3", "protocol": "i3", "version": "1"},
            {"role": "CSP", "url": "https://csp.example.com/i3"},
        ]
    }
    r = both.client.put("/partners/me/endpoints", body)
    assert r.status_code == 200, r.content
    assert {e["role"] for e in r.json()} == {"CSO", "CSP"}
    r = both.client.put(
        "/partners/me/endpoints", {"endpoints": [{"role": "CSP", "url": "https://new.example/i3"}]}
    )
    assert r.status_code == 200
    assert list(RoamingEndpoint.objects.filter(partner=both.partner).values_list("role", "url")) == [
        ("CSP", "https://new.example/i3")
    ]
    entry = AuditEntry.objects.filter(action="partner.endpoints_replace", channel="API").latest("id")
    assert entry.partner_id == both.partner.pk
    assert entry.request_id


@pytest.mark.parametrize(
    "body",
    [
        {"endpoints": [{"role": "CSP", "url": "https://x.example"}]},  # CSO-only partner
        {"endpoints": [{"role": "XYZ", "url": "https://x.example"}]},
        {"endpoints": [{"role": "CSO", "url": "not a url"}]},
        {"endpoints": [{"role": "CSO", "url": "ftp://x.example"}]},
        {
            "endpoints": [
                {"role": "CSO", "url": "https://a.example"},
                {"role": "CSO", "url": "https://b.example"},
            ]
        },
        {"endpoints": [{"role": "CSO", "url": "https://a.example", "protocol": "ocpi"}]},
        {"endpoints": "nope"},
        {"endpoints": [17]},
        {"other": []},
        [],
    ],
)
def test_bad_endpoints_are_400_and_change_nothing(cso, body):
    services.endpoints_replace(
        partner=cso.partner, endpoints=[{"role": "CSO", "url": "https://keep.example/i3"}]
    )
    r = cso.client.put("/partners/me/endpoints", body)
    assert r.status_code == 400, r.content
    error_code(r)
    assert list(RoamingEndpoint.objects.filter(partner=cso.partner).values_list("url", flat=True)) == [
        "https://keep.example/i3"
    ]


def test_directory_lists_agreement_partners_and_mixed_mode_endpoints(cso, csp, both):
    stranger = onboard(name="Stranger", country="BE", party="STR", roles=["CSP"])
    services.endpoints_replace(
        partner=csp.partner, endpoints=[{"role": "CSP", "url": "https://csp.example/i3"}]
    )
    services.endpoints_replace(
        partner=both.partner, endpoints=[{"role": "CSP", "url": "https://both.example/i3"}]
    )
    services.agreement_create(cso=cso.partner, csp=csp.partner, mode="CLEARING_HOUSE")
    services.agreement_create(cso=cso.partner, csp=both.partner, mode="MIXED")
    results = cso.client.get("/partners/").json()["results"]
    by_name = {e["name"]: e for e in results}
    assert set(by_name) == {"Beta Mobility", "Gamma Roaming"}
    assert by_name["Beta Mobility"]["direct_endpoints"] == []
    assert [e["url"] for e in by_name["Gamma Roaming"]["direct_endpoints"]] == ["https://both.example/i3"]
    assert by_name["Gamma Roaming"]["agreements"][0]["mode"] == "MIXED"
    assert by_name["Gamma Roaming"]["agreements"][0]["my_role"] == "CSO"
    # The CSP sees the CSO; the stranger sees nobody.
    assert [e["name"] for e in csp.client.get("/partners/").json()["results"]] == ["Alpha Charge"]
    assert stranger.client.get("/partners/").json()["results"] == []


def test_directory_omits_suspended_partners_and_expired_agreements(cso, csp):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    services.agreement_create(
        cso=cso.partner,
        csp=csp.partner,
        valid_from=now - timedelta(days=10),
        valid_until=now - timedelta(days=1),
    )
    assert cso.client.get("/partners/").json()["results"] == []
    services.agreement_create(cso=cso.partner, csp=csp.partner)
    assert len(cso.client.get("/partners/").json()["results"]) == 1
    services.partner_suspend(partner=csp.partner)
    assert cso.client.get("/partners/").json()["results"] == []


def test_agreements_lists_mine_on_either_side(cso, csp, both):
    a1 = services.agreement_create(cso=cso.partner, csp=csp.partner)
    a2 = services.agreement_create(cso=both.partner, csp=csp.partner, authorization_subtype="HUB_ISSUED")
    services.agreement_create(cso=cso.partner, csp=both.partner)
    ids = [a["id"] for a in csp.client.get("/agreements/").json()["results"]]
    assert ids == [a1.pk, a2.pk]
    first = csp.client.get("/agreements/").json()["results"][0]
    assert first["cso"]["operator_id"] == "DE*ACH"
    assert first["csp"]["provider_id"] == "NL-BMO"
    assert first["mode"] == "CLEARING_HOUSE"
    assert first["authorization"] == "CSP_ISSUED"


def test_agreements_pagination_is_bounded_and_ordered(cso):
    partners = [onboard(name=f"P{i}", country="DE", party=f"P{i:02d}", roles=["CSP"]) for i in range(5)]
    for p in partners:
        services.agreement_create(cso=cso.partner, csp=p.partner)
    page = cso.client.get("/agreements/?limit=2").json()
    assert len(page["results"]) == 2
    seen = [a["id"] for a in page["results"]]
    while page["next"]:
        page = cso.client.get(page["next"].split("/api/i3/v1", 1)[1]).json()
        seen += [a["id"] for a in page["results"]]
    assert seen == sorted(seen) and len(seen) == 5
    for bad in ("0", "1001", "x"):
        r = cso.client.get(f"/agreements/?limit={bad}")
        assert r.status_code == 400
        assert error_code(r) == "invalid_limit"
    r = cso.client.get("/agreements/?cursor=garbage")
    assert r.status_code == 400


def test_unknown_api_path_is_404_in_the_error_format(cso):
    r = cso.client.get("/no-such-thing/")
    assert r.status_code == 404
    assert error_code(r) == "not_found"


def test_wrong_method_is_405_in_the_error_format(cso):
    r = cso.client.post("/partners/me", {})
    assert r.status_code == 405
    assert error_code(r) == "method_not_allowed"


def test_malformed_json_is_400(cso):
    r = cso.client.request("PUT", "/partners/me/endpoints", raw=b'{"endpoints": [')
    assert r.status_code == 400
    assert error_code(r) == "parse_error"


def test_ping_answers_without_touching_the_database(cso, django_assert_num_queries):
    cso.client.login()
    cso.client.get("/ping")  # warm the principal cache
    with django_assert_num_queries(0):
        r = cso.client.get("/ping")
    assert r.status_code == 200
    assert r.json()["operator_id"] == "DE*ACH"
    assert r.json()["provider_id"] is None
