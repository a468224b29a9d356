"""`manage.py agreement_create --cso DE*ABC --csp DE-XYZ --mode CLEARING_HOUSE --authorization CSP_ISSUED`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from clearinghouse.errors import DomainError
from clearinghouse.lib.identifiers import IdentifierError, parse_operator_id, parse_provider_id
from partners import selectors, services


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--{name} must be a date (2026-01-01) or an RFC 3339 date-time", returncode=2)
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class Command(BaseCommand):
    help = "Create a roaming agreement between a CSO (operator ID) and a CSP (provider ID)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cso", required=True, help="operator ID, e.g. DE*ABC")
        parser.add_argument("--csp", required=True, help="provider ID, e.g. DE-XYZ")
        parser.add_argument("--mode", default="CLEARING_HOUSE", choices=["CLEARING_HOUSE", "MIXED"])
        parser.add_argument("--authorization", default="CSP_ISSUED", choices=["HUB_ISSUED", "CSP_ISSUED"])
        parser.add_argument("--valid-from")
        parser.add_argument("--valid-until")
        parser.add_argument("--tariff", default="", help="pin one of the CSO's tariff ids")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            cso_country, cso_party = parse_operator_id(opts["cso"])
            csp_country, csp_party = parse_provider_id(opts["csp"])
        except IdentifierError as exc:
            raise CommandError(str(exc), returncode=2) from None
        cso = selectors.partner_by_operator_id(country_code=cso_country, party_id=cso_party)
        csp = selectors.partner_by_provider_id(country_code=csp_country, party_id=csp_party)
        if cso is None:
            raise CommandError(f"no CSO partner with operator ID {opts['cso']}", returncode=2)
        if csp is None:
            raise CommandError(f"no CSP partner with provider ID {opts['csp']}", returncode=2)
        try:
            agreement = services.agreement_create(
                cso=cso,
                csp=csp,
                mode=opts["mode"],
                authorization_subtype=opts["authorization"],
                valid_from=_moment(opts["valid_from"], "valid-from"),
                valid_until=_moment(opts["valid_until"], "valid-until"),
                pinned_tariff_id=opts["tariff"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}", returncode=2) from None
        self.stdout.write(
            json.dumps(
                {
                    "agreement_id": agreement.pk,
                    "cso": cso.operator_id,
                    "csp": csp.provider_id,
                    "mode": agreement.mode,
                    "authorization": agreement.authorization_subtype,
                    "valid_from": agreement.valid_from.isoformat(),
                    "valid_until": agreement.valid_until.isoformat() if agreement.valid_until else None,
                }
            )
        )
