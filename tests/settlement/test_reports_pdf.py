"""The PDF statement, read back as text: parties, figures, fees, position, payment, page numbers."""

from __future__ import annotations

import dataclasses
import io
import re
from decimal import Decimal

from pypdf import PdfReader

from settlement.reports import write_pdf
from tests.settlement.test_reports_support import LINES, PAYMENT, POSITION, statement

D = Decimal


def render(doc=None) -> bytes:
    out = io.BytesIO()
    write_pdf(doc or statement(), out)
    return out.getvalue()


def pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_parties_and_statement_facts():
    text = flat(pages(render())[0])
    for expected in (
        "Open Roaming Clearing House GmbH",
        "Musterstrasse 1",
        "10115 Berlin",
        "VAT ID: DE123456789",
        "Gamma Roaming SAS",
        "12 rue de l'Énergie",
        "75011 Paris",
        "VAT ID: FR12345678901",
        "FR*GRO (CSO) · FR-GRO (CSP)",
        "Settlement statement",
        "No. CH-2026-000123",
        "Issue date 2026-12-03",
        "Period 2026-11",
        "2026-11-01 – 2026-11-30",
        "EUR (all amounts)",
        "Status FINAL",
    ):
        assert expected in text, expected


def test_lines_fees_position_and_payment():
    text = flat(pages(render())[0])
    # Statement lines: counterparty, its ID, role, SDRs, energy, net, VAT, gross, credits, held back.
    assert (
        'Beta "Mobility", B.V. <NL> NL-BMO CSO receivable 120 2,456.789 1,030.00 206.00 1,236.00 12.40 35.70'
        in text
    )
    assert "Alpha Charge GmbH DE*ACH CSP payable 45 812.500 350.00 70.00 420.00 0.00 0.00" in text
    assert "Total 165 3,269.289 1,380.00 276.00 1,656.00 12.40 35.70" in text
    assert "Transaction fee 165 SDRs × 0.10 16.50 20 % 3.30 19.80" in text
    assert "Clearing fee 1.5 % of 1,236.00 18.54 20 % 3.71 22.25" in text
    assert "Total hub fees 35.04 7.01 42.05" in text
    assert "Receivable as CSO EUR 1,236.00" in text
    assert "Payable as CSP − EUR 420.00" in text
    assert "Hub fees (VAT included) − EUR 42.05" in text
    assert "Net position (the hub pays the partner) EUR 773.95" in text
    assert "Open Roaming Clearing House GmbH pays Gamma Roaming SAS EUR 773.95 by 17 December 2026." in text
    assert "EUR 773.95 CH-2026-000123" in text  # amount and payment reference
    assert "Disputed SDRs settle in the period in which the dispute is resolved." in text
    assert "Page 1 of 1" in text


def test_partner_pays_the_hub():
    position = dataclasses.replace(POSITION, receivable_as_cso=D("0.00"), net=D("-462.05"))
    payment = dataclasses.replace(
        PAYMENT,
        text="Gamma Roaming SAS pays Open Roaming Clearing House GmbH EUR 462.05 by 17 December 2026.",
        payer="Gamma Roaming SAS",
        payee="Open Roaming Clearing House GmbH",
        amount=D("462.05"),
    )
    text = flat(pages(render(statement(position=position, payment=payment)))[0])
    assert "Net position (the partner pays the hub) EUR -462.05" in text
    assert payment.text in text


def test_no_payment_due():
    position = dataclasses.replace(POSITION, receivable_as_cso=D("462.05"), net=D("0.00"))
    text = flat(pages(render(statement(position=position, payment=None)))[0])
    assert "Net position (nothing is due) EUR 0.00" in text
    assert "No payment is due" in text


def test_draft_is_marked_and_final_is_not():
    draft = pages(render(statement(state="DRAFT")))[0]
    assert "DRAFT — this statement is not final" in flat(draft)
    assert "Shown for review only: a draft is not a payment request." in flat(draft)
    assert "DRAFT" in flat(draft).replace("DRAFT — this statement", "")  # the watermark besides the banner
    final = pages(render())[0]
    assert "DRAFT" not in final


def test_paid_states_are_shown_without_a_draft_mark():
    text = flat(pages(render(statement(state="PARTIALLY_PAID")))[0])
    assert "Status PARTIALLY PAID" in text and "DRAFT" not in text


def test_long_statement_numbers_every_page_and_repeats_headers():
    lines = (LINES[0], *([LINES[1]] * 70))
    payable = LINES[1].amount_incl_vat * 70
    net = POSITION.receivable_as_cso - payable - POSITION.hub_fees
    position = dataclasses.replace(POSITION, payable_as_csp=payable, net=net)
    payment = dataclasses.replace(PAYMENT, amount=-net)
    texts = pages(render(statement(lines=lines, position=position, payment=payment, state="DRAFT")))
    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
    later = flat(texts[1])
    assert "Settlement statement CH-2026-000123 · Gamma Roaming SAS · 2026-11 · EUR" in later
    assert "DRAFT — not final" in later
    assert "Counterparty Role SDRs Energy kWh Net VAT Gross Credits" in later  # header row repeated
    assert "Total 3,270 " in flat(" ".join(texts))  # 120 + 70 × 45 SDRs


def test_large_amounts_still_fit():
    big = dataclasses.replace(
        LINES[0],
        amount_excl_vat=D("12345678.90"),
        vat_amount=D("2469135.78"),
        amount_incl_vat=D("14814814.68"),
    )
    net = big.amount_incl_vat - POSITION.payable_as_csp - POSITION.hub_fees
    position = dataclasses.replace(POSITION, receivable_as_cso=big.amount_incl_vat, net=net)
    payment = dataclasses.replace(PAYMENT, amount=net)
    text = flat(pages(render(statement(lines=(big, LINES[1]), position=position, payment=payment)))[0])
    assert "12,345,678.90 2,469,135.78 14,814,814.68" in text
    assert "EUR 14,814,352.63" in text


def test_metadata():
    reader = PdfReader(io.BytesIO(render()))
    meta = reader.metadata
    assert meta.title == "Settlement statement CH-2026-000123"
    assert meta.author == "Open Roaming Clearing House GmbH"
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20261203093015+00'00'"
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    # Every text is set in the Vera subset embedded in the file, none in a viewer's substitute.
    assert fonts and all("Vera" in str(font["/BaseFont"]) for font in fonts)
