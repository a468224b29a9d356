"""The CSV report: RFC 4180, exact decimal strings, totals that add up, streamed in bounded memory."""

from __future__ import annotations

import csv
import dataclasses
import io
import tracemalloc
from collections import defaultdict
from decimal import Decimal

import pytest

from settlement.reports import iter_csv
from settlement.reports.csv_report import CHUNK_BYTES, LINE_COLUMNS, SDR_COLUMNS, WIDTH
from tests.settlement.test_reports_support import (
    BETA,
    FEES,
    LINES,
    PAYMENT,
    POSITION,
    sdr,
    sdr_rows,
    statement,
)

D = Decimal


def render(doc=None, rows=()) -> bytes:
    return b"".join(iter_csv(doc or statement(), rows))


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def records(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    by_kind: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows:
        by_kind[row[0]].append(row[1:])
    return by_kind


def pairs(by_kind, kind: str) -> dict[str, str]:
    return {row[0]: row[1] for row in by_kind[kind]}


def test_summary_block_then_sdrs():
    rows = parse(render(rows=sdr_rows(3)))
    kinds = [row[0] for row in rows]
    order = ["statement", "hub", "partner", "line_columns", "line", "line_total", "fee_columns", "fee"]
    order += ["fee_total", "position", "payment", "note", "sdr_columns", "sdr", "sdr_total"]
    assert list(dict.fromkeys(kinds)) == order
    assert kinds[-5:] == ["sdr_columns", "sdr", "sdr", "sdr", "sdr_total"]

    by_kind = records(rows)
    head = pairs(by_kind, "statement")
    assert head == {
        "number": "CH-2026-000123",
        "state": "FINAL",
        "period_key": "2026-11",
        "period_start": "2026-11-01T00:00:00Z",
        "period_end": "2026-12-01T00:00:00Z",
        "currency": "EUR",
        "issued_at": "2026-12-03T09:30:15Z",
    }
    partner = pairs(by_kind, "partner")
    assert partner["legal_name"] == "Gamma Roaming SAS" and partner["vat_id"] == "FR12345678901"
    assert partner["address"] == "12 rue de l'Énergie\n75011 Paris\nFrance"
    assert pairs(by_kind, "hub")["vat_id"] == "DE123456789"
    assert pairs(by_kind, "payment") == {
        "text": "Open Roaming Clearing House GmbH pays Gamma Roaming SAS EUR 773.95 by 17 December 2026.",
        "payer": "Open Roaming Clearing House GmbH",
        "payee": "Gamma Roaming SAS",
        "amount": "773.95",
    }
    assert by_kind["note"][0][:2] == [
        "1",
        "Disputed SDRs settle in the period in which the dispute is resolved.",
    ]


def test_rfc4180_shape_and_quoting():
    data = render(rows=sdr_rows(2))
    assert not data.startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert data.endswith(b"\r\n")
    # A quoted field may hold a line break; outside quotes every record ends with CRLF.
    assert b'"12 rue de l\'\xc3\x89nergie\n75011 Paris\nFrance"' in data
    assert b'line,"Beta ""Mobility"", B.V. <NL>",NL-BMO,CSO,' in data
    assert b'"1.5 % of 1,236.00"' in data
    rows = parse(data)
    assert {len(row) for row in rows} == {WIDTH}
    line = records(rows)["line"][0]
    assert line[0] == BETA


def test_amounts_are_exact_decimal_strings_and_totals_add_up():
    by_kind = records(parse(render(rows=sdr_rows(250))))
    columns = by_kind["line_columns"][0][: len(LINE_COLUMNS)]
    lines = [dict(zip(columns, row, strict=False)) for row in by_kind["line"]]
    assert lines[0]["amount_incl_vat"] == "1236.00" and lines[0]["energy_kwh"] == "2456.789"
    assert lines[1]["energy_kwh"] == "812.500" and lines[1]["credits_incl_vat"] == "0.00"
    total = dict(zip(columns, by_kind["line_total"][0], strict=False))
    for key in LINE_COLUMNS[4:]:
        assert D(total[key]) == sum(D(line[key]) for line in lines), key
    assert total["sdr_count"] == "165"

    fee_total = by_kind["fee_total"][0]
    assert [fee_total[2], fee_total[4], fee_total[5]] == ["35.04", "7.01", "42.05"]
    position = pairs(by_kind, "position")
    assert position == {
        "receivable_as_cso": "1236.00",
        "payable_as_csp": "420.00",
        "hub_fees": "42.05",
        "net": "773.95",
    }
    assert D(position["hub_fees"]) == D(fee_total[5])
    assert D(position["net"]) == D(position["receivable_as_cso"]) - D(position["payable_as_csp"]) - D(
        position["hub_fees"]
    )


def test_sdr_rows_and_trailer():
    rows = list(sdr_rows(120))
    by_kind = records(parse(render(rows=rows)))
    assert by_kind["sdr_columns"][0][: len(SDR_COLUMNS)] == list(SDR_COLUMNS)
    parsed = [dict(zip(SDR_COLUMNS, row, strict=False)) for row in by_kind["sdr"]]
    assert len(parsed) == 120
    first, credit = parsed[0], parsed[49]
    assert first == {
        "sdr_id": "SDR-00000000",
        "session_id": "FR*GRO*S00000000",
        "cso_id": "FR*GRO",
        "csp_id": "NL-BMO",
        "contract_ref": "NL-BMO-C****00-X",
        "start_utc": "2026-11-01T00:00:00Z",
        "end_utc": "2026-11-01T00:45:00Z",
        "energy_kwh": "0.5000",
        "amount_excl_vat": "0.1950",
        "amount_incl_vat": "0.2340",
        "is_credit": "false",
        "state": "SETTLED",
    }
    assert credit["is_credit"] == "true" and credit["amount_incl_vat"].startswith("-")
    for row, source in zip(parsed, rows, strict=True):
        assert D(row["amount_incl_vat"]) == source.amount_incl_vat
        assert D(row["energy_kwh"]) == source.energy_kwh
    trailer = by_kind["sdr_total"][0]
    assert trailer[0] == "120"
    assert D(trailer[7]) == sum(row.energy_kwh for row in rows)
    assert D(trailer[8]) == sum(row.amount_excl_vat for row in rows)
    assert D(trailer[9]) == sum(row.amount_incl_vat for row in rows)


def test_sdr_amounts_show_at_least_the_minor_unit():
    row = dataclasses.replace(sdr(0), amount_excl_vat=D("12.5"), amount_incl_vat=D("15"))
    parsed = records(parse(render(rows=[row])))["sdr"][0]
    assert parsed[8:10] == ["12.50", "15.00"]


def test_partner_text_cannot_become_a_spreadsheet_formula():
    hostile = dataclasses.replace(LINES[0], counterparty_name='=HYPERLINK("http://evil.example","x")')
    row = dataclasses.replace(sdr(0), contract_ref="@SUM(1+1)")
    by_kind = records(parse(render(statement(lines=(hostile, LINES[1])), rows=[row])))
    assert by_kind["line"][0][0] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_kind["sdr"][0][4] == "'@SUM(1+1)"
    # Our own negative numbers stay numbers.
    credit = records(parse(render(rows=[sdr(49)])))["sdr"][0]
    assert credit[9] == str(sdr(49).amount_incl_vat) == "-3.5100"


def test_empty_statement():
    zero = dataclasses.replace(POSITION, receivable_as_cso=D("0.00"), payable_as_csp=D("0.00"))
    zero = dataclasses.replace(zero, hub_fees=D("0.00"), net=D("0.00"))
    doc = statement(lines=(), fees=(), position=zero, payment=None, notes=())
    by_kind = records(parse(render(doc)))
    assert "line" not in by_kind and "fee" not in by_kind and "payment" not in by_kind
    assert by_kind["line_total"][0][3:5] == ["0", "0.000"]
    assert by_kind["fee_total"][0][2] == "0.00"
    assert by_kind["sdr_total"][0][0] == "0"


def test_currency_minor_units():
    # Yen have no minor unit: 165 SDRs x 1 JPY, 20 % VAT = 33, gross 198, paid by the partner.
    fee = dataclasses.replace(FEES[0], amount_excl_vat=D("165"), vat_amount=D("33"), amount_incl_vat=D("198"))
    zero = D("0")
    position = dataclasses.replace(POSITION, receivable_as_cso=zero, payable_as_csp=zero, hub_fees=D("198"))
    jpy = {
        "currency": "JPY",
        "lines": (),
        "fees": (fee,),
        "position": dataclasses.replace(position, net=D("-198")),
        "payment": dataclasses.replace(PAYMENT, amount=D("198")),
    }
    by_kind = records(parse(render(statement(**jpy), rows=[sdr(0)])))
    assert by_kind["fee"][0][2:6] == ["165", "20", "33", "198"]
    assert pairs(by_kind, "position")["net"] == "-198"
    assert by_kind["sdr"][0][8] == "0.1950"  # SDR precision kept even where the currency has no cents


def test_output_comes_in_bounded_chunks():
    chunks = list(iter_csv(statement(), sdr_rows(5000)))
    assert len(chunks) > 5
    assert max(len(chunk) for chunk in chunks) < 2 * CHUNK_BYTES


def test_chunks_are_lazy():
    pulled = 0

    def counting():
        nonlocal pulled
        for row in sdr_rows(100_000):
            pulled += 1
            yield row

    stream = iter_csv(statement(), counting())
    next(stream)
    next(stream)
    assert 0 < pulled < 2_000  # two chunks need a few hundred rows, not all of them


@pytest.mark.slow
def test_two_hundred_thousand_rows_in_bounded_memory():
    size = 0
    tracemalloc.start()
    try:
        for chunk in iter_csv(statement(), sdr_rows(200_000)):
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 25_000_000  # the file is some 29 MB ...
    assert peak < 3 * 1024 * 1024  # ... and never more than a few chunks of it are held
