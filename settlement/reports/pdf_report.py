"""The PDF statement: the document a partner's finance team files and pays from.

Hub and partner legal data, statement number and state, period and currency, the statement lines
per counterparty and role, the hub fees with their VAT, the net position and the payment
instruction. A DRAFT carries a watermark on every page and a banner under the header. Reproducible
byte for byte (see pdf_page).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any, BinaryIO

from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, KeepTogether, PageTemplate, Spacer, Table

from .document import LINE_MONEY, LineRole, Party, StatementDocument
from .formatting import energy_text, iso_utc, money_text, period_days
from .pdf_page import (
    DRAFT_FILL,
    DRAFT_INK,
    DRAFT_INK_HEX,
    FONT,
    FONT_BOLD,
    INK,
    INK_HEX,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MUTED_HEX,
    PAGE_SIZE,
    RULE,
    TOTAL_FILL,
    StatementCanvas,
    decorate_page,
    register_fonts,
)
from .pdf_parts import (
    CELL_PADDING,
    CONTENT_WIDTH,
    esc,
    grid,
    markup,
    number_size,
    para,
    table_style,
    two_lines,
)

DRAFT_NOTICE = "DRAFT — this statement is not final. Amounts may still change; do not pay from a draft."


def _party_block(label: str, party: Party) -> list[Flowable]:
    lines = [f'<font color="{MUTED_HEX}" size="7">{esc(label.upper())}</font>']
    lines.append(f'<font name="{FONT_BOLD}" size="11">{esc(party.legal_name)}</font>')
    if party.name and party.name != party.legal_name:
        lines.append(esc(party.name))
    lines += [esc(line) for line in party.address_lines]
    lines.append(f"VAT ID: {esc(party.vat_id)}")
    if party.identifiers:
        lines.append(f'<font color="{MUTED_HEX}">{esc(party.identifiers)}</font>')
    return [markup("<br/>".join(lines), "party")]


def _header(doc: StatementDocument) -> list[Flowable]:
    state_colour = DRAFT_INK_HEX if not doc.is_final else INK_HEX
    title = [
        markup("Settlement statement", "title"),
        markup(f"No. {esc(doc.number)}", "title_sub"),
        Spacer(1, 2 * mm),
        markup(
            f'<font color="{state_colour}"><b>{esc(doc.state.value.replace("_", " "))}</b></font>',
            "title_sub",
        ),
    ]
    top = Table(
        [[_party_block("Issued by", doc.hub), title]], colWidths=[CONTENT_WIDTH * 0.55, CONTENT_WIDTH * 0.45]
    )
    top.setStyle(table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))

    details = [
        ("Statement number", doc.number),
        ("Issue date", iso_utc(doc.issued_at)[:10]),
        ("Period", doc.period_key),
        ("Period dates (UTC)", period_days(doc.period_start, doc.period_end)),
        ("Currency", f"{doc.currency} (all amounts)"),
        ("Status", doc.state.value.replace("_", " ")),
    ]
    facts = Table(
        [[para(label, "label"), para(value, "body")] for label, value in details],
        colWidths=[28 * mm, CONTENT_WIDTH * 0.45 - 28 * mm],
    )
    facts.setStyle(
        table_style(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    second = Table(
        [[_party_block("Statement for", doc.partner), facts]],
        colWidths=[CONTENT_WIDTH * 0.55, CONTENT_WIDTH * 0.45],
    )
    second.setStyle(table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [top, Spacer(1, 7 * mm), second, Spacer(1, 4 * mm)]


def _draft_banner() -> Flowable:
    banner = Table([[para(DRAFT_NOTICE, "banner")]], colWidths=[CONTENT_WIDTH])
    banner.setStyle(
        table_style(
            [
                ("BOX", (0, 0), (-1, -1), 1, DRAFT_INK),
                ("BACKGROUND", (0, 0), (-1, -1), DRAFT_FILL),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return banner


def _lines_table(doc: StatementDocument) -> list[Flowable]:
    cur = doc.currency
    widths = [w * mm for w in (36, 17, 13, 20, 19, 17, 19, 19, 20)]
    head = [
        "Counterparty",
        "Role",
        "SDRs",
        "Energy kWh",
        "Net",
        "VAT",
        "Gross",
        "Credits",
        "Held back (disputed)",
    ]
    rows: list[list[Any]] = [
        [para(title, "cell_head" if index < 2 else "cell_head_right") for index, title in enumerate(head)]
    ]
    for line in doc.lines:
        role = "receivable" if line.role is LineRole.CSO else "payable"
        rows.append(
            [
                two_lines(line.counterparty_name, line.counterparty_id),
                two_lines(line.role.value, role),
                f"{line.sdr_count:,}",
                energy_text(line.energy_kwh, grouping=True),
                *(money_text(getattr(line, key), cur, grouping=True) for key in LINE_MONEY),
            ]
        )
    totals = doc.line_totals()
    rows.append(
        [
            "Total",
            "",
            f"{sum(line.sdr_count for line in doc.lines):,}",
            energy_text(totals["energy_kwh"], grouping=True),
            *(money_text(totals[key], cur, grouping=True) for key in LINE_MONEY),
        ]
    )
    size = number_size(rows[1:], widths, 2)
    flowables: list[Flowable] = [
        para(f"Statement lines ({cur})", "h2"),
        para(
            f"Per counterparty and role, amounts in {cur}. As CSO the partner receives from the "
            "counterparty CSP; as CSP it pays the counterparty CSO. Credits are included in the amounts; "
            "disputed SDRs are held back and settle once resolved.",
            "small",
        ),
        Spacer(1, 2 * mm),
    ]
    if not doc.lines:
        flowables.append(para("No charging sessions were settled for this partner in this period."))
        return flowables
    flowables.append(grid(rows, widths, numeric_from=2, total_row=True, size=size))
    return flowables


def _fees_table(doc: StatementDocument) -> list[Flowable]:
    cur = doc.currency
    widths = [w * mm for w in (52, 44, 20, 16, 20, 28)]
    head = ["Fee", "Basis", "Net", "VAT rate", "VAT", "Gross"]
    rows: list[list[Any]] = [
        [para(title, "cell_head" if index < 2 else "cell_head_right") for index, title in enumerate(head)]
    ]
    for fee in doc.fees:
        rows.append(
            [
                para(fee.description, "cell"),
                para(fee.basis, "cell"),
                money_text(fee.amount_excl_vat, cur, grouping=True),
                f"{format(fee.vat_rate_percent, 'f')} %",
                money_text(fee.vat_amount, cur, grouping=True),
                money_text(fee.amount_incl_vat, cur, grouping=True),
            ]
        )
    totals = doc.fee_totals()
    rows.append(
        [
            "Total hub fees",
            "",
            money_text(totals["amount_excl_vat"], cur, grouping=True),
            "",
            money_text(totals["vat_amount"], cur, grouping=True),
            money_text(totals["amount_incl_vat"], cur, grouping=True),
        ]
    )
    flowables: list[Flowable] = [para(f"Hub fees ({cur})", "h2")]
    if not doc.fees:
        flowables.append(para("No hub fees are charged for this period."))
        return flowables
    size = number_size(rows[1:], widths, 2)
    flowables.append(grid(rows, widths, numeric_from=2, total_row=True, size=size))
    return flowables


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {money_text(amount, currency, grouping=True)}"


def _position(doc: StatementDocument) -> list[Flowable]:
    cur = doc.currency
    position = doc.position
    net_meaning = (
        "the hub pays the partner"
        if position.net > 0
        else "the partner pays the hub"
        if position.net < 0
        else "nothing is due"
    )
    rows = [
        ["Receivable as CSO", _money(position.receivable_as_cso, cur)],
        ["Payable as CSP", "− " + _money(position.payable_as_csp, cur)],
        ["Hub fees (VAT included)", "− " + _money(position.hub_fees, cur)],
        [f"Net position ({net_meaning})", _money(position.net, cur)],
    ]
    table = Table(rows, colWidths=[CONTENT_WIDTH - 45 * mm, 45 * mm], hAlign="LEFT")
    table.setStyle(
        table_style(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, INK),
                ("BACKGROUND", (0, -1), (-1, -1), TOTAL_FILL),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [para(f"Net position ({cur})", "h2"), table]


def _payment(doc: StatementDocument) -> list[Flowable]:
    flowables: list[Flowable] = [para("Payment instruction", "h2")]
    payment = doc.payment
    if payment is None:
        flowables.append(para("No payment is due: the net position for this period is zero."))
        return flowables
    amount = _money(payment.amount, doc.currency)
    facts = [
        ("Payer", payment.payer),
        ("Payee", payment.payee),
        ("Amount", amount),
        ("Reference", doc.number),
    ]
    inner_width = CONTENT_WIDTH - 12
    fields = Table(
        [
            [para(label, "label") for label, _ in facts],
            [markup(f"<b>{esc(value)}</b>") for _, value in facts],
        ],
        colWidths=[inner_width * share for share in (0.34, 0.30, 0.18, 0.18)],
    )
    fields.setStyle(
        table_style(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    box = Table([[para(payment.text, "payment")], [fields]], colWidths=[CONTENT_WIDTH])
    box.setStyle(
        table_style(
            [
                ("BOX", (0, 0), (-1, -1), 1, INK),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    if not doc.is_final:
        flowables.append(para("Shown for review only: a draft is not a payment request.", "small"))
    flowables.append(box)
    return flowables


def _notes(doc: StatementDocument) -> list[Flowable]:
    if not doc.notes:
        return []
    return [para("Notes", "h2"), *(para(f"• {note}", "small") for note in doc.notes)]


def story(doc: StatementDocument) -> list[Flowable]:
    """The flowables of the statement, top to bottom."""
    flowables = _header(doc)
    if not doc.is_final:
        flowables += [_draft_banner(), Spacer(1, 2 * mm)]
    flowables += _lines_table(doc)
    flowables += _fees_table(doc)
    flowables.append(KeepTogether([*_position(doc), *_payment(doc)]))
    flowables += _notes(doc)
    return flowables


def write_pdf(doc: StatementDocument, out: BinaryIO) -> None:
    """Render the statement `doc` as a PDF into `out`; the same document gives the same bytes."""
    register_fonts()
    template = BaseDocTemplate(
        out,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"Settlement statement {doc.number}",
        author=doc.hub.legal_name,
        subject=f"{doc.partner.legal_name}, {doc.period_key}, {doc.currency}, {doc.state.value}",
        creator=doc.hub.legal_name,
        invariant=1,
        lang="en",
        initialFontName=FONT,  # else every page names Helvetica, a font the file does not embed
        initialFontSize=8.5,
    )
    frame = Frame(
        MARGIN_X,
        MARGIN_BOTTOM,
        CONTENT_WIDTH,
        PAGE_SIZE[1] - MARGIN_TOP - MARGIN_BOTTOM,
        id="body",
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    page = PageTemplate(
        id="statement", frames=[frame], onPage=lambda canvas, tpl: decorate_page(canvas, doc, tpl.page)
    )
    template.addPageTemplates([page])
    template.build(story(doc), canvasmaker=partial(StatementCanvas, statement=doc))
