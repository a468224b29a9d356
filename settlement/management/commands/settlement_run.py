"""`manage.py settlement_run --period 2026-11 [--currency EUR]`: settle a period now, in this process.

The period key names the cadence (2026-11 a month, 2026-W48 an ISO week, 2026-11-26 a day). Without
--currency every currency with accepted SDRs to settle is run. A run that exists already is resumed
or run again (adding SDRs accepted since to its drafts); a closed one is left alone. Exit status 2
for bad arguments, 1 when a run failed or the period is still open.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clearinghouse.errors import DomainError, InvalidInput
from clearinghouse.lib.codes import CURRENCY_MINOR_UNITS
from settlement.models import RunState
from settlement.periods import parse_period_key
from settlement.services.settlement_run import settlement_period_run


class Command(BaseCommand):
    help = "Settle a period (2026-11, 2026-W48 or 2026-11-26), in one currency or in all of them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--period", required=True, help="2026-11 (month), 2026-W48 (ISO week), 2026-11-26 (day)"
        )
        parser.add_argument("--currency", help="ISO 4217 code, e.g. EUR (default: every currency to settle)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            period = parse_period_key(opts["period"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        currency = opts.get("currency")
        if currency is not None and currency not in CURRENCY_MINOR_UNITS:
            raise CommandError(f"--currency {currency!r} is not an ISO 4217 code such as EUR", returncode=2)
        try:
            outcomes = settlement_period_run(period_key=period.key, currency=currency, requested_by="command")
        except InvalidInput as exc:
            raise CommandError(exc.message, returncode=2) from None
        except DomainError as exc:
            raise CommandError(exc.message, returncode=1) from None
        if not outcomes:
            self.stdout.write(f"{period.key}: nothing to settle.")
            return
        for outcome in outcomes:
            self.stdout.write(outcome.describe())
        failed = [o for o in outcomes if o.claimed and o.state == RunState.FAILED]
        if failed:
            raise CommandError(f"{len(failed)} run(s) failed; run the command again to resume.", returncode=1)
