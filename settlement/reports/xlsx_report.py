"""The XLSX statement report: sheets "Summary", "SDRs" and "Fees", written in constant memory.

openpyxl's write-only mode streams each sheet's rows to a temporary file, so the SDR sheet can hold a
million rows without holding them in memory.

Exact decimals. An XLSX number cell is the text of a decimal number (`<v>93.26</v>`) that Excel reads
into a binary double. openpyxl accepts Decimal values but prints them through float with
``"%.16g"``, which turns 93.26 into ``93.26000000000001`` in the file. So number cells here are
written with the Decimal's own exact text and the numeric cell type: the file says 93.26, Excel
shows 93.26 and sums it as a number, and any reader parsing the text gets the exact Decimal back.
Every decimal of up to 15 significant digits survives the trip through a double (the nearest
double converts back to it); a value with more (beyond any statement: a trillion euros in cents
has 15) is written as text rather than silently rounded by the spreadsheet.

Reproducible bytes. openpyxl stamps the workbook with the current time and zipfile stamps each entry
with the clock or a temporary file's mtime. The workbook's creator and created/modified times are
set from the document, and the archive is a ZipFile whose entries all carry doc.issued_at, a fixed
mode and zlib's default compression level, in the order openpyxl writes them.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TYPE_NUMERIC, TYPE_STRING, Cell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from ..money import minor_unit
from .document import LINE_MONEY, LineRole, Party, SdrRow, StatementDocument
from .formatting import naive_utc, period_days, printable

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

EXCEL_DIGITS = 15  # significant digits a double gives back exactly
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
ENERGY_FORMAT = "#,##0.000"
SDR_FORMAT = "#,##0.0000"  # SDR amounts and energy keep the four decimals of OCPI
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00"

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")


def money_format(currency: str) -> str:
    places = minor_unit(currency)
    return "#,##0." + "0" * places if places else "#,##0"


class _Sheet:
    """A write-only worksheet with typed cell builders that never let openpyxl guess a type."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws

    def text(self, value: str, *, font: Font | None = None, fill: PatternFill | None = None) -> Cell | str:
        value = printable(value)
        if font is None and fill is None and not value.startswith("="):
            return value  # a plain string cell, the cheapest thing openpyxl writes
        cell = WriteOnlyCell(self.ws, value=value)
        # openpyxl would store "=..." as a formula: partner text must stay text.
        cell.data_type = TYPE_STRING
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        return cell

    def styled(self, number_format: str, *, font: Font | None = None) -> Cell:
        """An empty cell with a number format, to fill with put_number or put_moment."""
        cell = WriteOnlyCell(self.ws)
        cell.number_format = number_format
        if font is not None:
            cell.font = font
        return cell

    def put_number(self, cell: Cell, value: Decimal | int) -> Cell:
        if isinstance(value, Decimal):
            text = format(value.copy_abs() if value.is_zero() else value, "f")
            exact = len(value.normalize().as_tuple().digits) <= EXCEL_DIGITS
        else:
            text, exact = str(value), True
        cell.value = text
        # Numeric type with the Decimal's own text: the file holds <v>93.26</v>, exactly.
        cell.data_type = TYPE_NUMERIC if exact else TYPE_STRING
        return cell

    def put_moment(self, cell: Cell, value: datetime) -> Cell:
        cell.value = naive_utc(value)
        return cell

    def number(self, value: Decimal | int, number_format: str, *, font: Font | None = None) -> Cell:
        return self.put_number(self.styled(number_format, font=font), value)

    def moment(self, value: datetime) -> Cell:
        return self.put_moment(self.styled(DATETIME_FORMAT), value)

    def header(self, *titles: str) -> None:
        self.ws.append([self.text(title, font=_BOLD, fill=_HEADER_FILL) for title in titles])

    def append(self, *cells: Cell | str | None) -> None:
        self.ws.append(list(cells))

    def blank(self) -> None:
        self.ws.append([])

    def widths(self, *widths: float) -> None:
        for index, width in enumerate(widths):
            self.ws.column_dimensions[get_column_letter(index + 1)].width = width


def _party_rows(sheet: _Sheet, hub: Party, partner: Party) -> None:
    sheet.header("", "Clearing house", "Partner")
    for label, attr in (("Name", "name"), ("Legal name", "legal_name"), ("VAT ID", "vat_id")):
        sheet.append(
            sheet.text(label, font=_BOLD), sheet.text(getattr(hub, attr)), sheet.text(getattr(partner, attr))
        )
    sheet.append(
        sheet.text("Identifiers", font=_BOLD), sheet.text(hub.identifiers), sheet.text(partner.identifiers)
    )
    for index in range(max(len(hub.address_lines), len(partner.address_lines))):
        sheet.append(
            sheet.text("Address" if index == 0 else "", font=_BOLD),
            sheet.text(hub.address_lines[index] if index < len(hub.address_lines) else ""),
            sheet.text(partner.address_lines[index] if index < len(partner.address_lines) else ""),
        )


def _summary(sheet: _Sheet, doc: StatementDocument) -> None:
    cur = doc.currency
    money = money_format(cur)
    sheet.widths(30, 34, 34, 10, 14, 14, 14, 14, 14, 14)
    title = f"Settlement statement {doc.number}"
    if not doc.is_final:
        title += " — DRAFT, not final"
    sheet.append(sheet.text(title, font=_TITLE))
    sheet.blank()

    def label(text: str) -> Cell | str:
        return sheet.text(text, font=_BOLD)

    sheet.append(label("Statement number"), sheet.text(doc.number))
    sheet.append(label("State"), sheet.text(doc.state.value))
    sheet.append(
        label("Period"), sheet.text(f"{doc.period_key} ({period_days(doc.period_start, doc.period_end)})")
    )
    sheet.append(label("Period start (UTC)"), sheet.moment(doc.period_start))
    sheet.append(label("Period end (UTC, exclusive)"), sheet.moment(doc.period_end))
    sheet.append(label("Currency"), sheet.text(cur))
    sheet.append(label("Issued at (UTC)"), sheet.moment(doc.issued_at))
    sheet.blank()
    _party_rows(sheet, doc.hub, doc.partner)
    sheet.blank()

    sheet.append(sheet.text("Statement lines", font=_BOLD))
    sheet.header(
        "Counterparty",
        "Counterparty ID",
        "Role",
        "SDRs",
        "Energy (kWh)",
        f"Net ({cur})",
        f"VAT ({cur})",
        f"Gross ({cur})",
        f"Credits ({cur})",
        f"Held back, disputed ({cur})",
    )
    for line in doc.lines:
        sheet.append(
            sheet.text(line.counterparty_name),
            sheet.text(line.counterparty_id),
            sheet.text(f"{line.role.value} ({'receivable' if line.role is LineRole.CSO else 'payable'})"),
            sheet.number(line.sdr_count, COUNT_FORMAT),
            sheet.number(line.energy_kwh, ENERGY_FORMAT),
            *(sheet.number(getattr(line, key), money) for key in LINE_MONEY),
        )
    totals = doc.line_totals()
    sheet.append(
        label("Total"),
        None,
        None,
        sheet.number(sum(line.sdr_count for line in doc.lines), COUNT_FORMAT, font=_BOLD),
        sheet.number(totals["energy_kwh"], ENERGY_FORMAT, font=_BOLD),
        *(sheet.number(totals[key], money, font=_BOLD) for key in LINE_MONEY),
    )
    sheet.blank()

    sheet.append(sheet.text(f"Position ({cur})", font=_BOLD))
    position = doc.position
    sheet.append(label("Receivable as CSO"), sheet.number(position.receivable_as_cso, money))
    sheet.append(label("Payable as CSP"), sheet.number(position.payable_as_csp, money))
    sheet.append(label("Hub fees"), sheet.number(position.hub_fees, money))
    sheet.append(label("Net position"), sheet.number(position.net, money, font=_BOLD))
    sheet.blank()

    sheet.append(sheet.text("Payment instruction", font=_BOLD))
    if doc.payment is None:
        sheet.append(sheet.text("No payment is due: the net position is zero."))
    else:
        sheet.append(label("Instruction"), sheet.text(doc.payment.text))
        sheet.append(label("Payer"), sheet.text(doc.payment.payer))
        sheet.append(label("Payee"), sheet.text(doc.payment.payee))
        sheet.append(label(f"Amount ({cur})"), sheet.number(doc.payment.amount, money, font=_BOLD))
    if doc.notes:
        sheet.blank()
        sheet.append(sheet.text("Notes", font=_BOLD))
        for note in doc.notes:
            sheet.append(sheet.text(note))


def _sdrs(sheet: _Sheet, doc: StatementDocument, sdr_rows: Iterable[SdrRow]) -> None:
    cur = doc.currency
    sheet.widths(24, 24, 12, 12, 22, 20, 20, 14, 16, 16, 8, 12)
    sheet.ws.freeze_panes = "A2"
    sheet.header(
        "SDR ID",
        "Session ID",
        "CSO",
        "CSP",
        "Contract (masked)",
        "Start (UTC)",
        "End (UTC)",
        "Energy (kWh)",
        f"Net ({cur})",
        f"Gross ({cur})",
        "Credit",
        "State",
    )
    # Styled cells are made once and refilled for every row: a write-only sheet writes a row out
    # when it is appended, and building and styling twelve cells a row would dominate the time.
    start, end = sheet.styled(DATETIME_FORMAT), sheet.styled(DATETIME_FORMAT)
    energy, excl, incl = sheet.styled(SDR_FORMAT), sheet.styled(SDR_FORMAT), sheet.styled(SDR_FORMAT)
    for sdr in sdr_rows:
        sheet.append(
            sheet.text(sdr.sdr_id),
            sheet.text(sdr.session_id),
            sheet.text(sdr.cso_id_str),
            sheet.text(sdr.csp_id_str),
            sheet.text(sdr.contract_ref),
            sheet.put_moment(start, sdr.start),
            sheet.put_moment(end, sdr.end),
            sheet.put_number(energy, sdr.energy_kwh),
            sheet.put_number(excl, sdr.amount_excl_vat),
            sheet.put_number(incl, sdr.amount_incl_vat),
            "yes" if sdr.is_credit else "no",
            sheet.text(sdr.state),
        )


def _fees(sheet: _Sheet, doc: StatementDocument) -> None:
    cur = doc.currency
    money = money_format(cur)
    sheet.widths(40, 36, 14, 12, 14, 14)
    sheet.ws.freeze_panes = "A2"
    sheet.header("Description", "Basis", f"Net ({cur})", "VAT rate (%)", f"VAT ({cur})", f"Gross ({cur})")
    for fee in doc.fees:
        sheet.append(
            sheet.text(fee.description),
            sheet.text(fee.basis),
            sheet.number(fee.amount_excl_vat, money),
            sheet.number(fee.vat_rate_percent, PERCENT_FORMAT),
            sheet.number(fee.vat_amount, money),
            sheet.number(fee.amount_incl_vat, money),
        )
    totals = doc.fee_totals()
    sheet.append(
        sheet.text("Total", font=_BOLD),
        None,
        sheet.number(totals["amount_excl_vat"], money, font=_BOLD),
        None,
        sheet.number(totals["vat_amount"], money, font=_BOLD),
        sheet.number(totals["amount_incl_vat"], money, font=_BOLD),
    )


class _FixedZipFile(zipfile.ZipFile):
    """A ZipFile whose entries all carry one timestamp and mode, whatever writes them.

    openpyxl's ExcelWriter adds entries with writestr (stamped with the clock) and write (stamped
    with a temporary file's mtime); both are pinned here, and write streams the file in chunks.
    """

    def __init__(self, file: IO[bytes], moment: datetime) -> None:
        super().__init__(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        stamp = naive_utc(moment)
        self._stamp = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    def _info(self, name: str, size: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # Unix, on every platform
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def writestr(
        self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None
    ) -> None:
        name = (
            zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        )
        payload = data.encode("utf-8") if isinstance(data, str) else data
        with self.open(self._info(name, len(payload)), "w") as entry:
            entry.write(payload)

    def write(
        self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None
    ) -> None:
        with open(filename, "rb") as source:
            size = source.seek(0, 2)
            source.seek(0)
            with self.open(self._info(arcname or filename, size), "w") as entry:
                shutil.copyfileobj(source, entry, 1024 * 1024)


def write_xlsx(doc: StatementDocument, sdr_rows: Iterable[SdrRow], out: BinaryIO) -> None:
    """Write the XLSX report of `doc` with one SDR sheet row per item of `sdr_rows` to `out`."""
    wb = Workbook(write_only=True)
    issued = naive_utc(doc.issued_at)
    props = wb.properties
    props.creator = doc.hub.legal_name
    props.lastModifiedBy = doc.hub.legal_name
    props.created = issued
    props.modified = issued
    props.title = f"Settlement statement {doc.number}"
    props.subject = f"{doc.partner.legal_name}, {doc.period_key}, {doc.currency}"
    _summary(_Sheet(wb.create_sheet("Summary")), doc)
    _sdrs(_Sheet(wb.create_sheet("SDRs")), doc, sdr_rows)
    _fees(_Sheet(wb.create_sheet("Fees")), doc)
    # ExcelWriter rather than Workbook.save: save() would overwrite `modified` with the clock.
    ExcelWriter(wb, _FixedZipFile(out, doc.issued_at)).save()
