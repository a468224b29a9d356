"""Seed demo partners once, for `make run`: a CSO, a CSP, a partner with both roles, agreements in
both modes and both authorization sub-types, and a staff login for the admin. Development only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from partners import services
from partners.models import Partner

DEMO_PARTNERS = [
    {
        "name": "Demo Charge Operator",
        "country_code": "DE",
        "party_id": "DCO",
        "roles": ["CSO"],
        "username": "demo-cso",
        "password": "demo-cso-password",
    },
    {
        "name": "Demo Mobility Provider",
        "country_code": "DE",
        "party_id": "DMP",
        "roles": ["CSP"],
        "username": "demo-csp",
        "password": "demo-csp-password",
    },
    {
        "name": "Demo Roaming Both",
        "country_code": "NL",
        "party_id": "DRB",
        "roles": ["CSO", "CSP"],
        "username": "demo-both",
        "password": "demo-both-password",
    },
]
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-demo-password"


def credentials_file() -> Path:
    return Path(settings.BASE_DIR) / "var" / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create demo partners and an admin login once (development only); prints the credentials."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--banner", action="store_true", help="print a readable summary, not JSON")
        parser.add_argument("--url", default=settings.HUB_PUBLIC_URL, help="where the hub is served")

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run in production", returncode=2)
        path = credentials_file()
        if Partner.objects.filter(country_code="DE", party_id="DCO").exists() and path.exists():
            data = json.loads(path.read_text())
        else:
            with transaction.atomic():
                data = self._seed()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=2) + "\n")
            path.chmod(0o600)
        if opts["banner"]:
            self.stdout.write(self._banner(data, opts["url"].rstrip("/"), path))
        else:
            self.stdout.write(json.dumps(data, indent=2))

    def _banner(self, data: dict, url: str, path: Path) -> str:
        lines = [
            "",
            "Clearing house is starting.",
            f"  Admin (operator console): {url}/admin/"
            f"   login {data['admin']['username']} / {data['admin']['password']}",
            f"  I3 API docs:              {url}/api/i3/v1/docs/",
            f"  OpenAPI schema:           {url}/api/i3/v1/schema/",
            f"  Health:                   {url}/healthz  {url}/readyz",
            "  Demo partners (API logins; HMAC secrets are in the file below):",
        ]
        for p in data["partners"]:
            ids = ", ".join(i for i in (p["operator_id"], p["provider_id"]) if i)
            lines.append(f"    {p['name']:<24} {ids:<16} {p['username']} / {p['password']}")
        lines += [f"  Credentials file: {path}", ""]
        return "\n".join(lines)

    def _seed(self) -> dict:
        user_model = get_user_model()
        if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
            user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.invalid", ADMIN_PASSWORD)
        partners: dict[str, Partner] = {}
        out: dict[str, Any] = {
            "admin": {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
            "partners": [],
        }
        for spec in DEMO_PARTNERS:
            existing = Partner.objects.filter(
                country_code=spec["country_code"], party_id=spec["party_id"]
            ).first()
            if existing:
                partners[spec["party_id"]] = existing
                continue
            partner, issued = services.partner_onboard(
                name=spec["name"],
                country_code=spec["country_code"],
                party_id=spec["party_id"],
                roles=spec["roles"],
                username=spec["username"],
                password=spec["password"],
            )
            partners[spec["party_id"]] = partner
            out["partners"].append(
                {
                    "name": partner.name,
                    "roles": partner.roles,
                    "operator_id": partner.operator_id if partner.is_cso else None,
                    "provider_id": partner.provider_id if partner.is_csp else None,
                    "username": issued.username,
                    "password": issued.password,
                    "hmac_secret": issued.hmac_secret,
                }
            )
        services.agreement_create(
            cso=partners["DCO"],
            csp=partners["DMP"],
            mode="CLEARING_HOUSE",
            authorization_subtype="CSP_ISSUED",
        )
        services.agreement_create(
            cso=partners["DRB"], csp=partners["DMP"], mode="MIXED", authorization_subtype="HUB_ISSUED"
        )
        services.agreement_create(
            cso=partners["DCO"],
            csp=partners["DRB"],
            mode="CLEARING_HOUSE",
            authorization_subtype="HUB_ISSUED",
        )
        return out
