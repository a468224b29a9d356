"""The CSV statement report: a summary block, then one row per SDR, streamed.

The CSV is the machine-readable report (the XLSX is the one for people), so it is plain RFC 4180:
UTF-8 without a byte-order mark, CRLF line ends, fields quoted only when they need it, every row the
same width. Its first column names the record, so a reader picks what it needs by that column:

    statement|hub|partner  key/value pairs (number, state, period, currency, parties)
    line_columns, line*, line_total        statement lines per counterparty and role
    fee_columns, fee*, fee_total           hub fees
    position                               receivable_as_cso, payable_as_csp, hub_fees, net
    payment                                text, payer, payee, amount (absent when nothing is due)
    note                                   free text, numbered
    sdr_columns, sdr*, sdr_total           one row per SDR; the trailer counts and sums them, so a
                                           truncated download is detectable

Amounts are decimal strings in the statement's currency (never floats, never rounded here), times
ISO 8601 in UTC. Rows are produced from the SDR iterable one at a time and handed out in chunks of
about 64 KiB, so a million SDRs never sit in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from ..money import minor_unit
from .document import LINE_MONEY, Party, SdrRow, StatementDocument
from .formatting import ENERGY_PLACES, decimal_text, energy_text, iso_utc, money_text, spreadsheet_safe

CHUNK_BYTES = 64 * 1024

LINE_COLUMNS = (
    "counterparty_name",
    "counterparty_id",
    "role",
    "sdr_count",
    "energy_kwh",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
    "credits_incl_vat",
    "disputed_held_incl_vat",
)
FEE_COLUMNS = ("description", "basis", "amount_excl_vat", "vat_rate_percent", "vat_amount", "amount_incl_vat")
SDR_COLUMNS = (
    "sdr_id",
    "session_id",
    "cso_id",
    "csp_id",
    "contract_ref",
    "start_utc",
    "end_utc",
    "energy_kwh",
    "amount_excl_vat",
    "amount_incl_vat",
    "is_credit",
    "state",
)
# RFC 4180: every record has the same number of fields; shorter records are padded.
WIDTH = 1 + max(len(LINE_COLUMNS), len(FEE_COLUMNS), len(SDR_COLUMNS))


def _text(value: str) -> str:
    """Partner-supplied text, which a spreadsheet opening the file shows and never evaluates."""
    return spreadsheet_safe(value)


def _party_rows(record: str, party: Party) -> list[list[str]]:
    return [
        [record, "name", _text(party.name)],
        [record, "legal_name", _text(party.legal_name)],
        [record, "vat_id", _text(party.vat_id)],
        [record, "address", _text("\n".join(party.address_lines))],
        [record, "identifiers", _text(party.identifiers)],
    ]


def summary_rows(doc: StatementDocument) -> Iterator[list[str]]:
    """The summary block: header, parties, lines, fees, position, payment, notes."""
    cur = doc.currency

    def money(amount: Decimal) -> str:
        return money_text(amount, cur)

    yield ["statement", "number", _text(doc.number)]
    yield ["statement", "state", doc.state.value]
    yield ["statement", "period_key", _text(doc.period_key)]
    yield ["statement", "period_start", iso_utc(doc.period_start)]
    yield ["statement", "period_end", iso_utc(doc.period_end)]
    yield ["statement", "currency", cur]
    yield ["statement", "issued_at", iso_utc(doc.issued_at)]
    yield from _party_rows("hub", doc.hub)
    yield from _party_rows("partner", doc.partner)

    yield ["line_columns", *LINE_COLUMNS]
    for line in doc.lines:
        yield [
            "line",
            _text(line.counterparty_name),
            _text(line.counterparty_id),
            line.role.value,
            str(line.sdr_count),
            energy_text(line.energy_kwh),
            *(money(getattr(line, key)) for key in LINE_MONEY),
        ]
    line_sums = doc.line_totals()
    yield [
        "line_total",
        "",
        "",
        "",
        str(sum(line.sdr_count for line in doc.lines)),
        energy_text(line_sums["energy_kwh"]),
        *(money(line_sums[key]) for key in LINE_MONEY),
    ]

    yield ["fee_columns", *FEE_COLUMNS]
    for fee in doc.fees:
        yield [
            "fee",
            _text(fee.description),
            _text(fee.basis),
            money(fee.amount_excl_vat),
            format(fee.vat_rate_percent, "f"),
            money(fee.vat_amount),
            money(fee.amount_incl_vat),
        ]
    fee_sums = doc.fee_totals()
    yield [
        "fee_total",
        "",
        "",
        money(fee_sums["amount_excl_vat"]),
        "",
        money(fee_sums["vat_amount"]),
        money(fee_sums["amount_incl_vat"]),
    ]

    for key, value in doc.position.money().items():
        yield ["position", key, money(value)]
    if doc.payment is not None:
        yield ["payment", "text", _text(doc.payment.text)]
        yield ["payment", "payer", _text(doc.payment.payer)]
        yield ["payment", "payee", _text(doc.payment.payee)]
        yield ["payment", "amount", money(doc.payment.amount)]
    for number, note in enumerate(doc.notes, start=1):
        yield ["note", str(number), _text(note)]


def sdr_rows_csv(doc: StatementDocument, sdr_rows: Iterable[SdrRow]) -> Iterator[list[str]]:
    """The SDR table and its trailer, one row at a time; only running totals are kept."""
    cur = doc.currency
    places = minor_unit(cur)
    count = 0
    energy = excl = incl = Decimal(0)
    yield ["sdr_columns", *SDR_COLUMNS]
    for sdr in sdr_rows:
        count += 1
        energy += sdr.energy_kwh
        excl += sdr.amount_excl_vat
        incl += sdr.amount_incl_vat
        yield [
            "sdr",
            _text(sdr.sdr_id),
            _text(sdr.session_id),
            _text(sdr.cso_id_str),
            _text(sdr.csp_id_str),
            _text(sdr.contract_ref),
            iso_utc(sdr.start),
            iso_utc(sdr.end),
            decimal_text(sdr.energy_kwh, ENERGY_PLACES),
            decimal_text(sdr.amount_excl_vat, places),
            decimal_text(sdr.amount_incl_vat, places),
            "true" if sdr.is_credit else "false",
            _text(sdr.state),
        ]
    yield [
        "sdr_total",
        str(count),
        "",
        "",
        "",
        "",
        "",
        "",
        energy_text(energy),
        money_text(excl, cur),
        money_text(incl, cur),
    ]


def iter_csv(doc: StatementDocument, sdr_rows: Iterable[SdrRow]) -> Iterator[bytes]:
    """The CSV report as UTF-8 chunks, pulling SDR rows lazily from `sdr_rows`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def rows() -> Iterator[Sequence[str]]:
        yield from summary_rows(doc)
        yield from sdr_rows_csv(doc, sdr_rows)

    for row in rows():
        writer.writerow([*row, *[""] * (WIDTH - len(row))])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")
