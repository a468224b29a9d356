"""A partner onboarded with the command talks to a real HTTP server with the copyable client."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from clearinghouse.lib.i3client import I3Client

pytestmark = pytest.mark.django_db(transaction=True)


def onboard(*args: str) -> dict:
    out = StringIO()
    call_command("partner_onboard", *args, stdout=out)
    return json.loads(out.getvalue())


def test_onboarded_partner_logs_in_signs_and_works_over_http(live_server):
    cso = onboard("--name", "Live CSO", "--country", "DE", "--party-id", "LIV", "--roles", "CSO")
    onboard("--name", "Live CSP", "--country", "DE", "--party-id", "LVP", "--roles", "CSP")
    call_command("agreement_create", "--cso", "DE*LIV", "--csp", "DE-LVP", stdout=StringIO())

    client = I3Client(f"{live_server.url}/api/i3/v1", cso["username"], cso["password"], cso["hmac_secret"])
    me = client.get("/partners/me")
    assert me.status == 200 and me.body["operator_id"] == "DE*LIV"
    assert me.headers.get("X-Request-ID")

    put = client.put(
        "/partners/me/endpoints", {"endpoints": [{"role": "CSO", "url": "https://liv.example/i3"}]}
    )
    assert put.status == 200, put.body
    agreements = client.get("/agreements/?limit=10")
    assert agreements.status == 200
    assert [a["csp"]["provider_id"] for a in agreements.body["results"]] == ["DE-LVP"]
    directory = client.get("/partners/")
    assert [p["provider_id"] for p in directory.body["results"]] == ["DE-LVP"]

    wrong = I3Client(f"{live_server.url}/api/i3/v1", cso["username"], cso["password"], "not-the-secret")
    with pytest.raises(RuntimeError):
        wrong.login()
