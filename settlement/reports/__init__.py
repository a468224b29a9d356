"""Statement reports: CSV, XLSX and PDF renderings of one settlement statement.

Framework-free: the settlement service fills a StatementDocument (and streams SdrRow items) from the
database; these renderers turn them into files. Everything a file contains, its timestamps included,
comes from the document, so a FINAL statement's reports can be stored and re-rendered byte for byte.
"""

from __future__ import annotations

from .csv_report import iter_csv
from .document import (
    FeeLine,
    LineRole,
    Party,
    PaymentInstructionDoc,
    PositionSummary,
    SdrRow,
    StatementDocument,
    StatementLine,
    StatementState,
)
from .pdf_report import write_pdf
from .xlsx_report import write_xlsx

__all__ = [
    "FeeLine",
    "LineRole",
    "Party",
    "PaymentInstructionDoc",
    "PositionSummary",
    "SdrRow",
    "StatementDocument",
    "StatementLine",
    "StatementState",
    "iter_csv",
    "write_pdf",
    "write_xlsx",
]
