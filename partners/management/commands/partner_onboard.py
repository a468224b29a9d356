"""Scripted onboarding: `manage.py partner_onboard --name N --country DE --party-id ABC --roles CSO,CSP`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clearinghouse.errors import DomainError
from partners import services


class Command(BaseCommand):
    help = "Register a partner, activate it and issue its API credentials; prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
        parser.add_argument("--party-id", required=True, help="three letters or digits, e.g. ABC")
        parser.add_argument("--roles", required=True, help="CSO, CSP or CSO,CSP")
        parser.add_argument("--endpoint", help="base URL where the hub delivers (one per role)")
        parser.add_argument("--username")
        parser.add_argument("--password")
        parser.add_argument("--legal-name", default="")
        parser.add_argument("--vat-id", default="")
        parser.add_argument("--currency", default="EUR", help="settlement currency (ISO 4217)")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            partner, issued = services.partner_onboard(
                name=opts["name"],
                country_code=opts["country"],
                party_id=opts["party_id"],
                roles=opts["roles"].split(","),
                endpoint_url=opts["endpoint"],
                username=opts["username"],
                password=opts["password"],
                legal_name=opts["legal_name"],
                vat_id=opts["vat_id"],
                settlement_currency=opts["currency"],
                contact_email=opts["email"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}", returncode=2) from None
        self.stdout.write(
            json.dumps(
                {
                    "partner_id": partner.pk,
                    "name": partner.name,
                    "roles": partner.roles,
                    "status": partner.status,
                    "operator_id": partner.operator_id if partner.is_cso else None,
                    "provider_id": partner.provider_id if partner.is_csp else None,
                    "username": issued.username,
                    "password": issued.password,
                    "hmac_secret": issued.hmac_secret,
                }
            )
        )
