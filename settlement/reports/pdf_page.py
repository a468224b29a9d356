"""Page furniture of the PDF statement: fonts, styles, the DRAFT watermark and "page X of Y".

Reproducible bytes. reportlab's invariant mode fixes the document ID and every internal timestamp;
the creation and modification dates are then replaced by doc.issued_at through the canvas's date
formatter. The font is Bitstream Vera, shipped inside the pinned reportlab package and embedded as
a subset, so the file does not depend on the fonts of the machine that renders it (the hub's
container image has none) and reads the same in every viewer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from .document import StatementDocument
from .formatting import utc

FONT = "StatementVera"
FONT_BOLD = "StatementVera-Bold"
PAGE_SIZE = A4
MARGIN_X = 15 * mm
MARGIN_TOP = 16 * mm
MARGIN_BOTTOM = 20 * mm

INK_HEX = "#1F2933"
INK = colors.HexColor(INK_HEX)
MUTED_HEX = "#5F6B7A"  # for paragraph markup, which takes colours as text
MUTED = colors.HexColor(MUTED_HEX)
RULE = colors.HexColor("#B8C2CC")
HEADER_FILL = colors.HexColor("#E8EDF2")
TOTAL_FILL = colors.HexColor("#F4F6F8")
DRAFT_INK_HEX = "#B42318"
DRAFT_INK = colors.HexColor(DRAFT_INK_HEX)
DRAFT_FILL = colors.HexColor("#FEF3F2")
WATERMARK = colors.HexColor("#F6D2CE")


def register_fonts() -> None:
    """Register the embedded font family once per process (reportlab's registry is global)."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fonts / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def _style(name: str, size: float, **kwargs: Any) -> ParagraphStyle:
    defaults: dict[str, Any] = {"fontName": FONT, "fontSize": size, "leading": size * 1.3, "textColor": INK}
    return ParagraphStyle(name, **(defaults | kwargs))


STYLES = {
    "body": _style("body", 8.5),
    "small": _style("small", 7.5, textColor=MUTED),
    "party": _style("party", 8.5, leading=11.5),
    "party_name": _style("party_name", 11, fontName=FONT_BOLD, leading=14),
    "label": _style("label", 7, textColor=MUTED, leading=9),
    "title": _style("title", 16, fontName=FONT_BOLD, alignment=TA_RIGHT, leading=20),
    "title_sub": _style("title_sub", 9, alignment=TA_RIGHT, textColor=MUTED),
    "h2": _style("h2", 10.5, fontName=FONT_BOLD, spaceBefore=10, spaceAfter=4, leading=13),
    "cell": _style("cell", 7.5, leading=9.2),
    "cell_head": _style("cell_head", 7, fontName=FONT_BOLD, leading=8.6),
    "cell_head_right": _style("cell_head_right", 7, fontName=FONT_BOLD, leading=8.6, alignment=TA_RIGHT),
    "banner": _style("banner", 9, fontName=FONT_BOLD, textColor=DRAFT_INK, leading=12),
    "payment": _style("payment", 10, fontName=FONT_BOLD, leading=13.5),
}


def pdf_date(doc: StatementDocument) -> str:
    """doc.issued_at as a PDF date string (ISO 32000-1, 7.9.4), in UTC."""
    return utc(doc.issued_at).strftime("D:%Y%m%d%H%M%S+00'00'")


class StatementCanvas(Canvas):
    """A canvas that keeps its pages until the end, to print "page X of Y" on each.

    Platypus only knows the page count after the last page; the pages are kept as canvas states
    (a statement runs to a few pages) and finished in save().
    """

    def __init__(self, *args: Any, statement: StatementDocument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._statement = statement
        self._pages: list[dict[str, Any]] = []
        stamp = pdf_date(statement)
        self.setDateFormatter(lambda *_: stamp)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self._footer(number, total)
            super().showPage()
        super().save()

    def _footer(self, number: int, total: int) -> None:
        doc = self._statement
        width, _ = PAGE_SIZE
        y = MARGIN_BOTTOM - 9 * mm
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN_X, y + 4 * mm, width - MARGIN_X, y + 4 * mm)
        self.setFont(FONT, 7)
        self.setFillColor(MUTED)
        self.drawString(
            MARGIN_X, y, f"{doc.hub.legal_name} · VAT ID {doc.hub.vat_id} · Statement {doc.number}"
        )
        self.drawRightString(width - MARGIN_X, y, f"Page {number} of {total}")
        self.restoreState()


def decorate_page(canvas: Canvas, doc: StatementDocument, page: int) -> None:
    """Drawn before a page's content: the DRAFT watermark, and a running head after page 1."""
    width, height = PAGE_SIZE
    canvas.saveState()
    if not doc.is_final:
        canvas.setFillColor(WATERMARK)
        canvas.setFont(FONT_BOLD, 110)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, -35, "DRAFT")
        canvas.rotate(-45)
        canvas.translate(-width / 2, -height / 2)
    if page > 1:
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(
            MARGIN_X,
            height - MARGIN_TOP + 5 * mm,
            " · ".join(
                (f"Settlement statement {doc.number}", doc.partner.legal_name, doc.period_key, doc.currency)
            ),
        )
        if not doc.is_final:
            canvas.setFillColor(DRAFT_INK)
            canvas.drawRightString(width - MARGIN_X, height - MARGIN_TOP + 5 * mm, "DRAFT — not final")
    canvas.restoreState()
