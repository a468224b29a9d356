"""Builders shared by the report tests (this module holds no tests itself).

The sample statement is for Gamma Roaming SAS, a partner in both roles, for November 2026 in EUR,
with amounts worked out by hand:

    line 1, as CSO against Beta Mobility:  net 1,030.00 + VAT 206.00 = gross 1,236.00
    line 2, as CSP against Alpha Charge:   net   350.00 + VAT  70.00 = gross   420.00
    transaction fee 165 SDRs × 0.10:       net    16.50 + VAT   3.30 = gross    19.80
    clearing fee 1.5 % of 1,236.00:        net    18.54 + VAT   3.71 = gross    22.25
    net position: 1,236.00 - 420.00 - (19.80 + 22.25) = 773.95, paid by the hub to the partner
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from settlement.reports import (
    FeeLine,
    Party,
    PaymentInstructionDoc,
    PositionSummary,
    SdrRow,
    StatementDocument,
    StatementLine,
)

D = Decimal
PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 12, 1, tzinfo=UTC)
ISSUED_AT = datetime(2026, 12, 3, 9, 30, 15, tzinfo=UTC)

HUB = Party(
    name="Open Roaming Clearing House",
    legal_name="Open Roaming Clearing House GmbH",
    vat_id="DE123456789",
    address_lines=("Musterstrasse 1", "10115 Berlin", "Germany"),
    identifiers="DE*HUB",
)
PARTNER = Party(
    name="Gamma Roaming",
    legal_name="Gamma Roaming SAS",
    vat_id="FR12345678901",
    address_lines=("12 rue de l'Énergie", "75011 Paris", "France"),
    identifiers="FR*GRO (CSO) · FR-GRO (CSP)",
)
# A name with a comma and double quotes: CSV must quote it, PDF must not read it as markup.
BETA = 'Beta "Mobility", B.V. <NL>'

LINES = (
    StatementLine(
        counterparty_name=BETA,
        counterparty_id="NL-BMO",
        role="CSO",
        sdr_count=120,
        energy_kwh=D("2456.789"),
        amount_excl_vat=D("1030.00"),
        vat_amount=D("206.00"),
        amount_incl_vat=D("1236.00"),
        credits_incl_vat=D("12.40"),
        disputed_held_incl_vat=D("35.70"),
    ),
    StatementLine(
        counterparty_name="Alpha Charge GmbH",
        counterparty_id="DE*ACH",
        role="CSP",
        sdr_count=45,
        energy_kwh=D("812.5"),
        amount_excl_vat=D("350.00"),
        vat_amount=D("70.00"),
        amount_incl_vat=D("420.00"),
        credits_incl_vat=D("0.00"),
        disputed_held_incl_vat=D("0.00"),
    ),
)
FEES = (
    FeeLine(
        description="Transaction fee",
        basis="165 SDRs × 0.10",
        amount_excl_vat=D("16.50"),
        vat_rate_percent=D("20"),
        vat_amount=D("3.30"),
        amount_incl_vat=D("19.80"),
    ),
    FeeLine(
        description="Clearing fee",
        basis="1.5 % of 1,236.00",
        amount_excl_vat=D("18.54"),
        vat_rate_percent=D("20"),
        vat_amount=D("3.71"),
        amount_incl_vat=D("22.25"),
    ),
)
POSITION = PositionSummary(
    receivable_as_cso=D("1236.00"), payable_as_csp=D("420.00"), hub_fees=D("42.05"), net=D("773.95")
)
PAYMENT = PaymentInstructionDoc(
    text="Open Roaming Clearing House GmbH pays Gamma Roaming SAS EUR 773.95 by 17 December 2026.",
    payer="Open Roaming Clearing House GmbH",
    payee="Gamma Roaming SAS",
    amount=D("773.95"),
)


def statement(**changes: Any) -> StatementDocument:
    """The sample FINAL statement, with any field replaced."""
    doc = StatementDocument(
        number="CH-2026-000123",
        state="FINAL",
        hub=HUB,
        partner=PARTNER,
        period_key="2026-11",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        currency="EUR",
        issued_at=ISSUED_AT,
        lines=LINES,
        fees=FEES,
        position=POSITION,
        payment=PAYMENT,
        notes=("Disputed SDRs settle in the period in which the dispute is resolved.",),
    )
    return dataclasses.replace(doc, **changes) if changes else doc


@functools.cache
def _amounts(step: int) -> tuple[Decimal, Decimal, Decimal]:
    energy = (D(step) / D(7) + D("0.5")).quantize(D("0.0001"))
    excl = (energy * D("0.39")).quantize(D("0.0001"))
    return energy, excl, (excl * D("1.2")).quantize(D("0.0001"))


def sdr(index: int) -> SdrRow:
    """A deterministic SDR row; every 50th is a credit, amounts at the four decimals of OCPI."""
    start = PERIOD_START + timedelta(minutes=index)
    energy, excl, incl = _amounts(index % 997)
    credit = index % 50 == 49
    return SdrRow(
        sdr_id=f"SDR-{index:08d}",
        session_id=f"FR*GRO*S{index:08d}",
        cso_id_str="FR*GRO",
        csp_id_str="NL-BMO",
        contract_ref=f"NL-BMO-C****{index % 100:02d}-X",
        start=start,
        end=start + timedelta(minutes=45),
        energy_kwh=energy,
        amount_excl_vat=-excl if credit else excl,
        amount_incl_vat=-incl if credit else incl,
        is_credit=credit,
        state="SETTLED",
    )


def sdr_rows(count: int) -> Iterator[SdrRow]:
    """`count` SDR rows made one at a time, as a database cursor would yield them."""
    return (sdr(index) for index in range(count))
