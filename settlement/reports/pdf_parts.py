"""Building blocks of the PDF statement: escaped paragraphs, statement tables, numbers that fit.

Partner-supplied text (names, addresses, fee descriptions) always goes through `para` or `esc`:
reportlab reads paragraph text as markup, and a company called "A <b>&</b> B" must print as such.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table, TableStyle

from .formatting import printable
from .pdf_page import (
    FONT,
    FONT_BOLD,
    HEADER_FILL,
    INK,
    MARGIN_X,
    MUTED_HEX,
    PAGE_SIZE,
    RULE,
    STYLES,
    TOTAL_FILL,
)

CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN_X
CELL_PADDING = 3
NUMBER_SIZE = 7.5
NUMBER_SIZE_MIN = 5.5


def para(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: partner-supplied text is escaped, never read as markup."""
    return Paragraph(escape(printable(text)), STYLES[style])


def markup(text: str, style: str = "body") -> Paragraph:
    """A paragraph of reportlab markup built here, with any partner text inside passed through esc."""
    return Paragraph(text, STYLES[style])


def esc(text: str) -> str:
    return escape(printable(text))


def two_lines(main: str, detail: str) -> Paragraph:
    """A table cell: the main text, and a muted detail line under it."""
    return markup(f'{esc(main)}<br/><font color="{MUTED_HEX}">{esc(detail)}</font>', "cell")


def number_size(rows: list[list[Any]], widths: list[float], first: int) -> float:
    """The largest font size up to NUMBER_SIZE at which every number fits its column."""
    size = NUMBER_SIZE
    for column in range(first, len(widths)):
        values = [row[column] for row in rows if isinstance(row[column], str)]
        widest = max((stringWidth(value, FONT_BOLD, NUMBER_SIZE) for value in values), default=0.0)
        room = widths[column] - 2 * CELL_PADDING
        if widest > room:
            size = min(size, NUMBER_SIZE * room / widest)
    return max(NUMBER_SIZE_MIN, size)


def table_style(commands: list[tuple[Any, ...]]) -> TableStyle:
    """Table commands over a default of the embedded font: reportlab's default is Helvetica."""
    return TableStyle([("FONT", (0, 0), (-1, -1), FONT, 8.5), *commands])


def grid(
    rows: list[list[Any]], widths: list[float], *, numeric_from: int, total_row: bool, size: float
) -> Table:
    """A statement table: shaded header, right-aligned numbers, hairlines, optional bold totals."""
    table = Table(rows, colWidths=widths, repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 1), (-1, -1), FONT, size),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if total_row:
        commands += [
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, size),
            ("BACKGROUND", (0, -1), (-1, -1), TOTAL_FILL),
            ("LINEABOVE", (0, -1), (-1, -1), 0.75, INK),
        ]
    table.setStyle(table_style(commands))
    return table
