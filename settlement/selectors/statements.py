"""Reads of statements: who sees which, a statement's lines, its report document and SDR rows, and
the settled amounts per period (the finance pages' chart).

A final statement's document comes from its snapshot (taken when it became final), so it renders
the same bytes whatever changes later in the partner registry or the settings; a draft's document
is built from the current lines, fees and partner data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from clearinghouse.lib.identifiers import mask
from partners.models import Partner

from ..models import Sdr, SdrState, Statement, StatementLine, StatementState
from ..money import round_money
from ..reports import (
    FeeLine,
    Party,
    PaymentInstructionDoc,
    PositionSummary,
    SdrRow,
    StatementDocument,
)
from ..reports import StatementLine as DocLine
from ..reports.formatting import money_text
from ..services.settlement_figures import RoundedLine, line_sums_of, partner_lines

SDR_CHUNK = 2000  # rows per fetch of a report's server-side cursor
WATT_HOUR = Decimal("0.001")


def _kwh(value: Decimal) -> Decimal:
    """Energy to the watt-hour when that is exact (20.000000 → 20.000), else as stored."""
    short = value.quantize(WATT_HOUR)
    return short if short == value else value


def statements_visible(*, partner_id: int | None) -> QuerySet[Statement]:
    """Statements a reader may see: one partner's, or (None: hub finance staff) everyone's."""
    qs = Statement.objects.select_related("partner", "run")
    return qs if partner_id is None else qs.filter(partner_id=partner_id)


def statement_get_visible(*, partner_id: int | None, pk: int) -> Statement | None:
    """One statement if the reader may see it; another partner's is as good as absent."""
    return statements_visible(partner_id=partner_id).filter(pk=pk).first()


def statement_lines(statement: Statement) -> list[RoundedLine]:
    """The statement's lines from its partner's side, rounded, empty ones left out."""
    rows = StatementLine.objects.filter(run_id=statement.run_id).filter(
        Q(cso_id=statement.partner_id) | Q(csp_id=statement.partner_id)
    )
    lines = partner_lines(
        lines=[line_sums_of(row) for row in rows],
        partner_id=statement.partner_id,
        currency=statement.currency,
    )
    return [line for line in lines if not line.is_empty]


def _partners(ids: set[int]) -> dict[int, Partner]:
    return {p.pk: p for p in Partner.objects.filter(pk__in=ids)}


def hub_party() -> Party:
    return Party(
        name=settings.HUB_LEGAL_NAME,
        legal_name=settings.HUB_LEGAL_NAME,
        vat_id=settings.HUB_VAT_ID,
        address_lines=tuple(part.strip() for part in settings.HUB_ADDRESS.split(",") if part.strip()),
        identifiers=f"{settings.HUB_COUNTRY_CODE}*{settings.HUB_PARTY_ID}",
    )


def partner_party(partner: Partner) -> Party:
    city = f"{partner.billing_postal_code} {partner.billing_city}".strip()
    address = tuple(part for part in (partner.billing_street, city, partner.billing_country) if part)
    roles = [f"{partner.operator_id} (CSO)"] * partner.is_cso + [
        f"{partner.provider_id} (CSP)"
    ] * partner.is_csp
    return Party(
        name=partner.name,
        legal_name=partner.legal_name or partner.name,
        vat_id=partner.vat_id,
        address_lines=address,
        identifiers=" · ".join(roles),
    )


def _percent(rate: Decimal) -> Decimal:
    two = rate.quantize(Decimal("0.01"))
    return two if two == rate else rate.normalize()


def payment_due(issued_at: datetime) -> datetime:
    return issued_at + timedelta(days=settings.SETTLEMENT_PAYMENT_TERMS_DAYS)


def _payment(statement: Statement, hub: Party, partner: Party, number: str, issued_at: datetime) -> Any:
    if statement.payer == "":
        return None
    amount = round_money(statement.payment_amount, statement.currency)
    figure = f"{money_text(amount, statement.currency, grouping=True)} {statement.currency}"
    payer, payee = (hub, partner) if statement.payer == "HUB" else (partner, hub)
    if number:
        when = f"by {payment_due(issued_at):%Y-%m-%d}, reference {number}"
    else:
        when = "once the statement is final (draft: not yet payable)"
    text = f"{payer.legal_name} pays {payee.legal_name} {figure} {when}"
    if statement.payer == "PARTNER" and settings.SETTLEMENT_HUB_BANK_ACCOUNT:
        text += f", to {settings.SETTLEMENT_HUB_BANK_ACCOUNT}"
    return PaymentInstructionDoc(
        text=text + ".", payer=payer.legal_name, payee=payee.legal_name, amount=amount
    )


def _notes(statement: Statement, lines: list[RoundedLine], final: bool) -> tuple[str, ...]:
    notes = [
        "Amounts include VAT as each SDR states it; an SDR without an amount incl. VAT counts at its "
        "amount excl. VAT. Credits (corrections) are negative and lower the line they belong to.",
        "SDRs that arrive or are accepted after a period is final settle in the next open period.",
    ]
    held = [line for line in lines if line.sums.disputed_count]
    if held:
        count = sum(line.sums.disputed_count for line in held)
        amount = sum((line.disputed_held_incl_vat for line in held), Decimal(0))
        notes.append(
            f"Held back: {count} disputed SDR(s), {money_text(amount, statement.currency, grouping=True)} "
            f"{statement.currency} incl. VAT; they settle once the dispute is resolved."
        )
    if not final:
        notes.append("Draft: the figures may still change until the statement is final.")
    return tuple(notes)


def statement_document_live(
    statement: Statement, *, state: str | None = None, number: str = "", issued_at: datetime | None = None
) -> StatementDocument:
    """The statement's document from the current data (drafts; and the snapshot on finalising)."""
    cur = statement.currency
    state = state or statement.state
    issued_at = issued_at or statement.computed_at
    lines = statement_lines(statement)
    partners = _partners({line.counterparty_id for line in lines} | {statement.partner_id})
    hub, partner = hub_party(), partner_party(partners[statement.partner_id])
    doc_lines = []
    for line in lines:
        other = partners[line.counterparty_id]
        doc_lines.append(
            DocLine(
                counterparty_name=other.name,
                counterparty_id=other.provider_id if line.role == "CSO" else other.operator_id,
                role=line.role,
                sdr_count=line.sums.sdr_count,
                energy_kwh=line.energy_kwh,
                amount_excl_vat=line.amount_excl_vat,
                vat_amount=line.vat_amount,
                amount_incl_vat=line.amount_incl_vat,
                credits_incl_vat=line.credits_incl_vat,
                disputed_held_incl_vat=line.disputed_held_incl_vat,
            )
        )
    fees = [
        FeeLine(
            description=fee.description,
            basis=fee.basis,
            amount_excl_vat=round_money(fee.amount_excl_vat, cur),
            vat_rate_percent=_percent(fee.vat_rate_percent),
            vat_amount=round_money(fee.vat_amount, cur),
            amount_incl_vat=round_money(fee.amount_incl_vat, cur),
        )
        for fee in statement.fees.order_by("id")
    ]
    position = PositionSummary(
        receivable_as_cso=round_money(statement.receivable_as_cso, cur),
        payable_as_csp=round_money(statement.payable_as_csp, cur),
        hub_fees=round_money(statement.hub_fees, cur),
        net=round_money(statement.net, cur),
    )
    return StatementDocument(
        number=number or statement.number or "DRAFT",
        state=state,
        hub=hub,
        partner=partner,
        period_key=statement.period_key,
        period_start=statement.period_start,
        period_end=statement.period_end,
        currency=cur,
        issued_at=issued_at,
        lines=tuple(doc_lines),
        fees=tuple(fees),
        position=position,
        payment=_payment(statement, hub, partner, number or statement.number, issued_at),
        notes=_notes(statement, lines, final=state != StatementState.DRAFT),
    )


def statement_document(statement: Statement) -> StatementDocument:
    """The document a statement's reports render: its snapshot once final, else the live one."""
    if statement.state != StatementState.DRAFT and statement.snapshot:
        return document_from_json(statement.snapshot, state=statement.state)
    return statement_document_live(statement)


def statement_sdr_rows(statement: Statement, *, rename: Mapping[str, str] | None = None) -> Iterator[SdrRow]:
    """The statement's settled SDRs, line by line in the document's order, each line in SDR order,
    read through a server-side cursor so a million rows never sit in memory. Contract IDs are
    masked (SETTLEMENT_REPORTS_MASK_CONTRACT_IDS); `rename` replaces some first (pseudonyms)."""
    masked = settings.SETTLEMENT_REPORTS_MASK_CONTRACT_IDS
    rename = rename or {}
    rows = StatementLine.objects.filter(run_id=statement.run_id).filter(
        Q(cso_id=statement.partner_id) | Q(csp_id=statement.partner_id)
    )
    ordered = partner_lines(
        lines=[line_sums_of(row) for row in rows],
        partner_id=statement.partner_id,
        currency=statement.currency,
    )
    # A line where the partner is both CSO and CSP lists its SDRs once.
    line_ids = list(dict.fromkeys(line.sums.line_id for line in ordered))
    members = {line.sums.cso_id for line in ordered} | {line.sums.csp_id for line in ordered}
    labels = {p.pk: (p.operator_id, p.provider_id) for p in _partners(members).values()}
    for line_id in line_ids:
        sdrs = (
            Sdr.objects.filter(bucket__line_id=line_id)
            .order_by("id")
            .values_list(
                "sdr_id", "session_id", "cso_id", "csp_id", "contract_id", "start_date_time", "end_date_time",
                "total_energy", "total_cost_excl_vat", "total_cost_incl_vat", "credit", "state",
            )
        )  # fmt: skip
        for (
            sdr_id,
            session,
            cso,
            csp,
            contract,
            start,
            end,
            energy,
            excl,
            incl,
            credit,
            state,
        ) in sdrs.iterator(chunk_size=SDR_CHUNK):
            contract = rename.get(contract, contract)
            yield SdrRow(
                sdr_id=sdr_id,
                session_id=session,
                cso_id_str=labels[cso][0],
                csp_id_str=labels[csp][1],
                contract_ref=mask(contract) if masked and contract else contract,
                start=start,
                end=end,
                energy_kwh=_kwh(-energy if credit else energy),
                amount_excl_vat=excl,
                amount_incl_vat=excl if incl is None else incl,
                is_credit=credit,
                # On a line means settled: SETTLED is ACCEPTED in a closed bucket (Sdr.effective_state).
                state=SdrState.SETTLED if state == SdrState.ACCEPTED else state,
            )


@dataclass(frozen=True)
class PeriodTotal:
    period_key: str
    period_start: datetime
    receivable: Decimal
    payable: Decimal


def settled_per_period(*, partner_id: int | None, currency: str, limit: int = 12) -> list[PeriodTotal]:
    """Settled amounts (gross) per period in one currency, the oldest first: what the partner was
    owed and owed (or, for the hub, everything settled: every line is one partner's receivable)."""
    rows = (
        statements_visible(partner_id=partner_id)
        .filter(currency=currency)
        .values("period_key", "period_start")
        .annotate(receivable=Sum("receivable_as_cso"), payable=Sum("payable_as_csp"))
        .order_by("-period_start", "period_key")[:limit]
    )
    return [
        PeriodTotal(
            r["period_key"], r["period_start"], r["receivable"] or Decimal(0), r["payable"] or Decimal(0)
        )
        for r in reversed(list(rows))
    ]


# --- The snapshot of a final statement's document -----------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in obj.__slots__}


def document_to_json(doc: StatementDocument) -> dict[str, Any]:
    """A JSON form of a document that document_from_json turns back into an equal document."""
    return {
        "number": doc.number,
        "hub": _fields(doc.hub),
        "partner": _fields(doc.partner),
        "period_key": doc.period_key,
        "period_start": _plain(doc.period_start),
        "period_end": _plain(doc.period_end),
        "currency": doc.currency,
        "issued_at": _plain(doc.issued_at),
        "lines": [{**_fields(line), "role": line.role.value} for line in doc.lines],
        "fees": [_fields(fee) for fee in doc.fees],
        "position": _fields(doc.position),
        "payment": _fields(doc.payment) if doc.payment else None,
        "notes": list(doc.notes),
    }


def _party(data: dict[str, Any]) -> Party:
    return Party(**{**data, "address_lines": tuple(data["address_lines"])})


def document_from_json(data: dict[str, Any], *, state: str) -> StatementDocument:
    d = Decimal
    money_keys = {
        "amount_excl_vat",
        "vat_amount",
        "amount_incl_vat",
        "credits_incl_vat",
        "disputed_held_incl_vat",
    }
    line_numbers = money_keys | {"energy_kwh"}
    payment = data["payment"]
    return StatementDocument(
        number=data["number"],
        state=state,
        hub=_party(data["hub"]),
        partner=_party(data["partner"]),
        period_key=data["period_key"],
        period_start=datetime.fromisoformat(data["period_start"]),
        period_end=datetime.fromisoformat(data["period_end"]),
        currency=data["currency"],
        issued_at=datetime.fromisoformat(data["issued_at"]),
        lines=tuple(
            DocLine(**{k: d(v) if k in line_numbers else v for k, v in line.items()})
            for line in data["lines"]
        ),
        fees=tuple(
            FeeLine(**{k: d(v) if k in money_keys | {"vat_rate_percent"} else v for k, v in fee.items()})
            for fee in data["fees"]
        ),
        position=PositionSummary(**{k: d(v) for k, v in data["position"].items()}),
        payment=PaymentInstructionDoc(**{**payment, "amount": d(payment["amount"])}) if payment else None,
        notes=tuple(data["notes"]),
    )
