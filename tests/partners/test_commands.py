"""The scripted onboarding commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from partners.models import Partner, RoamingAgreement

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_partner_onboard_prints_one_json_object():
    data = run(
        "partner_onboard",
        "--name",
        "Acme",
        "--country",
        "DE",
        "--party-id",
        "ACM",
        "--roles",
        "CSO,CSP",
        "--endpoint",
        "https://acme.example/i3",
        "--username",
        "acme",
        "--password",
        "acme-password-1",
    )
    assert data["operator_id"] == "DE*ACM" and data["provider_id"] == "DE-ACM"
    assert data["username"] == "acme" and data["password"] == "acme-password-1"
    assert len(data["hmac_secret"]) >= 40
    assert Partner.objects.get(pk=data["partner_id"]).status == "ACTIVE"


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "X", "--country", "ZZ", "--party-id", "ABC", "--roles", "CSO"],
        ["--name", "X", "--country", "DE", "--party-id", "ABCD", "--roles", "CSO"],
        ["--name", "X", "--country", "DE", "--party-id", "ABC", "--roles", "EMSP"],
        ["--name", "X", "--country", "DE", "--party-id", "ABC", "--roles", "CSO", "--endpoint", "nope"],
        ["--name", "X", "--country", "DE", "--party-id", "ABC", "--roles", "CSO", "--password", "short"],
    ],
)
def test_partner_onboard_bad_arguments_exit_2_and_create_nothing(args):
    with pytest.raises(CommandError) as err:
        call_command("partner_onboard", *args, stdout=StringIO())
    assert err.value.returncode == 2
    assert not Partner.objects.exists()


def test_partner_onboard_missing_argument_is_an_error():
    with pytest.raises(CommandError):
        call_command("partner_onboard", "--name", "X", stdout=StringIO())


def test_agreement_create():
    run("partner_onboard", "--name", "C", "--country", "DE", "--party-id", "ABC", "--roles", "CSO")
    run("partner_onboard", "--name", "P", "--country", "DE", "--party-id", "XYZ", "--roles", "CSP")
    data = run(
        "agreement_create",
        "--cso",
        "DE*ABC",
        "--csp",
        "DE-XYZ",
        "--mode",
        "MIXED",
        "--authorization",
        "HUB_ISSUED",
        "--valid-from",
        "2026-01-01",
        "--valid-until",
        "2027-01-01T00:00:00Z",
    )
    a = RoamingAgreement.objects.get(pk=data["agreement_id"])
    assert (a.mode, a.authorization_subtype) == ("MIXED", "HUB_ISSUED")
    assert a.valid_from.isoformat().startswith("2026-01-01")


@pytest.mark.parametrize(
    "args",
    [
        ["--cso", "DE*NOP", "--csp", "DE-XYZ"],
        ["--cso", "DE*ABC", "--csp", "DE-NOP"],
        ["--cso", "garbage", "--csp", "DE-XYZ"],
        ["--cso", "DE*ABC", "--csp", "DE-XYZ", "--valid-from", "someday"],
        ["--cso", "DE*ABC", "--csp", "DE-XYZ", "--valid-from", "2027-01-01", "--valid-until", "2026-01-01"],
        ["--cso", "DE-XYZ", "--csp", "DE*ABC"],
    ],
)
def test_agreement_create_bad_arguments_exit_2(args):
    run("partner_onboard", "--name", "C", "--country", "DE", "--party-id", "ABC", "--roles", "CSO")
    run("partner_onboard", "--name", "P", "--country", "DE", "--party-id", "XYZ", "--roles", "CSP")
    with pytest.raises(CommandError) as err:
        call_command("agreement_create", *args, stdout=StringIO())
    assert err.value.returncode == 2
    assert not RoamingAgreement.objects.exists()


def test_seed_demo_runs_once(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", "--banner", stdout=StringIO())
    assert Partner.objects.count() == 3
    assert RoamingAgreement.objects.count() == 3
