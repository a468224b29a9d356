"""The XLSX report: three sheets, numbers as numbers with exact decimal text, constant memory."""

from __future__ import annotations

import dataclasses
import io
import re
import tracemalloc
import zipfile
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from settlement.reports import write_xlsx
from settlement.reports.xlsx_report import money_format
from tests.settlement.test_reports_support import BETA, LINES, sdr, sdr_rows, statement

D = Decimal


def render(doc=None, rows=()) -> bytes:
    out = io.BytesIO()
    write_xlsx(doc or statement(), rows, out)
    return out.getvalue()


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def exact(value: object) -> Decimal:
    """A number cell read back: openpyxl gives a float, whose shortest repr is the decimal written."""
    assert isinstance(value, int | float), value
    return D(repr(value)) if isinstance(value, float) else D(value)


def summary_rows(wb) -> dict[str, tuple]:
    """Summary rows keyed by the text in column A (the first row wins)."""
    rows: dict[str, tuple] = {}
    for row in wb["Summary"].iter_rows():
        if row[0].value is not None:
            rows.setdefault(str(row[0].value), row)
    return rows


def test_sheets_and_summary():
    wb = load(render())
    assert wb.sheetnames == ["Summary", "SDRs", "Fees"]
    rows = summary_rows(wb)
    assert rows["Settlement statement CH-2026-000123"][0].font.b
    assert rows["Statement number"][1].value == "CH-2026-000123"
    assert rows["State"][1].value == "FINAL"
    assert rows["Period"][1].value == "2026-11 (2026-11-01 – 2026-11-30)"
    assert rows["Period start (UTC)"][1].value == datetime(2026, 11, 1)
    assert rows["Period end (UTC, exclusive)"][1].value == datetime(2026, 12, 1)
    assert rows["Issued at (UTC)"][1].value == datetime(2026, 12, 3, 9, 30, 15)
    assert rows["Issued at (UTC)"][1].number_format == "yyyy-mm-dd hh:mm:ss"
    assert [cell.value for cell in rows["Legal name"][:3]] == [
        "Legal name",
        "Open Roaming Clearing House GmbH",
        "Gamma Roaming SAS",
    ]
    assert [cell.value for cell in rows["VAT ID"][1:3]] == ["DE123456789", "FR12345678901"]
    assert rows["Address"][2].value == "12 rue de l'Énergie"
    assert rows["Instruction"][1].value.startswith("Open Roaming Clearing House GmbH pays Gamma Roaming SAS")
    assert rows["Payer"][1].value == "Open Roaming Clearing House GmbH"
    assert rows["Payee"][1].value == "Gamma Roaming SAS"
    assert exact(rows["Amount (EUR)"][1].value) == D("773.95")


def test_summary_numbers_are_exact_and_formatted():
    wb = load(render())
    rows = summary_rows(wb)
    beta = rows[BETA]
    assert [cell.value for cell in beta[1:3]] == ["NL-BMO", "CSO (receivable)"]
    assert beta[3].value == 120 and beta[3].number_format == "#,##0"
    assert exact(beta[4].value) == D("2456.789") and beta[4].number_format == "#,##0.000"
    amounts = [exact(cell.value) for cell in beta[5:10]]
    assert amounts == [D("1030.00"), D("206.00"), D("1236.00"), D("12.40"), D("35.70")]
    assert {cell.number_format for cell in beta[5:10]} == {"#,##0.00"}
    assert all(cell.data_type == "n" for cell in beta[3:10])
    total = rows["Total"]
    assert total[3].value == 165 and total[5].font.b
    assert [exact(cell.value) for cell in total[5:10]] == [
        D("1380.00"),
        D("276.00"),
        D("1656.00"),
        D("12.40"),
        D("35.70"),
    ]
    position = {
        name: exact(rows[name][1].value) for name in ("Receivable as CSO", "Payable as CSP", "Hub fees")
    }
    assert position == {
        "Receivable as CSO": D("1236.00"),
        "Payable as CSP": D("420.00"),
        "Hub fees": D("42.05"),
    }
    assert exact(rows["Net position"][1].value) == D("773.95")


def test_fees_sheet():
    ws = load(render())["Fees"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Description", "Basis", "Net (EUR)", "VAT rate (%)", "VAT (EUR)", "Gross (EUR)")
    assert rows[1][:2] == ("Transaction fee", "165 SDRs × 0.10")
    assert [exact(value) for value in rows[2][2:]] == [D("18.54"), D("20"), D("3.71"), D("22.25")]
    assert rows[3][0] == "Total" and [exact(rows[3][i]) for i in (2, 4, 5)] == [
        D("35.04"),
        D("7.01"),
        D("42.05"),
    ]
    assert ws["C2"].number_format == "#,##0.00" and ws["D2"].number_format == "0.00"
    assert ws.freeze_panes == "A2"


def test_sdr_sheet_rows_exact():
    source = list(sdr_rows(300))
    ws = load(render(rows=source))["SDRs"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("SDR ID", "Session ID", "CSO", "CSP", "Contract (masked)")
    assert len(rows) == 301
    for row, sdr_row in zip(rows[1:], source, strict=True):
        assert row[0] == sdr_row.sdr_id and row[4] == sdr_row.contract_ref
        assert row[5] == sdr_row.start.replace(tzinfo=None) and row[6] == sdr_row.end.replace(tzinfo=None)
        assert exact(row[7]) == sdr_row.energy_kwh
        assert exact(row[8]) == sdr_row.amount_excl_vat
        assert exact(row[9]) == sdr_row.amount_incl_vat
        assert row[10] == ("yes" if sdr_row.is_credit else "no")
    assert ws["F2"].number_format == "yyyy-mm-dd hh:mm:ss" and ws["I2"].number_format == "#,##0.0000"
    assert ws.freeze_panes == "A2"


def test_file_holds_the_exact_decimal_text():
    # openpyxl's own Decimal path prints "%.16g" of a float: 93.26 would become 93.26000000000001.
    awkward = [D("93.26"), D("681446.56"), D("8649188614.63")]
    rows = [dataclasses.replace(sdr(i), amount_excl_vat=value) for i, value in enumerate(awkward)]
    with zipfile.ZipFile(io.BytesIO(render(rows=rows))) as archive:
        xml = archive.read("xl/worksheets/sheet2.xml").decode()
    values = re.findall(r'<c r="I\d+" s="\d+" t="n"><v>([^<]+)</v>', xml)
    assert values == ["93.26", "681446.56", "8649188614.63"]
    summary = zipfile.ZipFile(io.BytesIO(render())).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>1030.00</v>" in summary and "<v>773.95</v>" in summary


def test_more_digits_than_a_double_holds_become_text_not_a_rounded_number():
    huge = dataclasses.replace(sdr(0), energy_kwh=D("1234567890123.4567"))
    ws = load(render(rows=[huge]))["SDRs"]
    assert ws["H2"].data_type == "s" and ws["H2"].value == "1234567890123.4567"


def test_partner_text_stays_text():
    hostile = dataclasses.replace(LINES[0], counterparty_name="=1+2")
    row = dataclasses.replace(sdr(0), contract_ref='=HYPERLINK("http://evil.example")', state="\x07SETTLED")
    wb = load(render(statement(lines=(hostile, LINES[1])), rows=[row]))
    cell = summary_rows(wb)["=1+2"][0]
    assert cell.data_type == "s" and cell.value == "=1+2"
    assert wb["SDRs"]["E2"].data_type == "s" and wb["SDRs"]["E2"].value.startswith("=HYPERLINK")
    assert wb["SDRs"]["L2"].value == "SETTLED"  # control characters cannot go into XML


def test_draft_is_marked():
    rows = summary_rows(load(render(statement(state="DRAFT"))))
    assert "Settlement statement CH-2026-000123 — DRAFT, not final" in rows
    assert rows["State"][1].value == "DRAFT"


def test_money_formats_follow_the_minor_unit():
    assert money_format("EUR") == "#,##0.00"
    assert money_format("JPY") == "#,##0"
    assert money_format("BHD") == "#,##0.000"


def test_workbook_properties_come_from_the_document():
    wb = load(render())
    assert wb.properties.creator == "Open Roaming Clearing House GmbH"
    assert wb.properties.created == wb.properties.modified == datetime(2026, 12, 3, 9, 30, 15)
    assert wb.properties.title == "Settlement statement CH-2026-000123"


def _peak(rows: int) -> int:
    class Sink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            return len(data)

    tracemalloc.start()
    try:
        write_xlsx(statement(), sdr_rows(rows), Sink())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_sdr_count():
    small, large = _peak(500), _peak(4000)
    # Write-only sheets stream rows to a temporary file; eight times the rows, the same memory.
    assert large < small + 1024 * 1024
    assert large < 8 * 1024 * 1024
