"""Statement reports built from the database: CSV, XLSX and PDF; stored when final and identical to a
re-rendering byte for byte; contract IDs masked; redaction for erasure requests."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from clearinghouse.models import AuditEntry
from settlement.models import Sdr, Statement
from settlement.selectors.statements import document_from_json, document_to_json, statement_document
from settlement.services.settlement_finalise import statement_finalise
from settlement.services.settlement_reports import (
    FORMATS,
    statement_report_file,
    statement_report_render,
    statement_reports_redact,
    statements_reports_missing,
)
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import contract, run_period

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario
D = Decimal


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def stored(statement: Statement, fmt: str) -> bytes:
    with getattr(statement, f"report_{fmt}").open("rb") as f:
        return f.read()


@pytest.fixture
def final(scenario, django_capture_on_commit_callbacks):
    """September settled in both currencies; the EUR statements final, their reports stored."""
    run_period("2026-09", "EUR")
    run_period("2026-09", "CHF")
    with django_capture_on_commit_callbacks(execute=True):
        for statement in Statement.objects.filter(currency="EUR").order_by("partner__name"):
            statement_finalise(statement_id=statement.pk)
    return scenario


def test_final_reports_are_stored_and_rerender_to_the_same_bytes(final):
    alpha = Statement.objects.get(partner=final.a, currency="EUR")
    assert alpha.report_csv.name == f"statements/2026/{alpha.number}.csv"
    for fmt in FORMATS:
        assert stored(alpha, fmt) == statement_report_render(alpha, fmt), fmt
    # The partner renames itself: the final statement's document is its snapshot, unchanged.
    final.a.name, final.a.legal_name = "Alpha Renamed", "Alpha Renamed AG"
    final.a.save()
    alpha.refresh_from_db()
    for fmt in FORMATS:
        assert stored(alpha, fmt) == statement_report_render(alpha, fmt), fmt


def test_the_snapshot_gives_back_the_document(final):
    alpha = Statement.objects.get(partner=final.a, currency="EUR")
    doc = statement_document(alpha)
    assert document_from_json(document_to_json(doc), state="FINAL") == doc
    assert doc.number == alpha.number and doc.position.net == D("82.43")
    assert doc.payment.payer == "Open Roaming Clearing House GmbH" and doc.payment.payee == "Alpha Charge"
    assert alpha.number in doc.payment.text


def test_the_csv_lists_summary_lines_fees_and_every_sdr_with_masked_contracts(final):
    alpha = Statement.objects.get(partner=final.a, currency="EUR")
    rows = rows_of(stored(alpha, "csv"))
    records = {}
    for row in rows:
        records.setdefault(row[0], []).append(row)
    assert ["statement", "number", alpha.number] == records["statement"][0][:3]
    assert [(r[1], r[2], r[3], r[8]) for r in records["line"]] == [
        ("Beta Mobility", "NL-BMO", "CSO", "36.69"),
        ("Gamma Roaming", "FR-GRO", "CSO", "47.60"),
    ]
    assert [r[6] for r in records["fee"]] == ["0.60", "1.26"]
    assert records["position"][3][:3] == ["position", "net", "82.43"]
    assert records["payment"][3][:3] == ["payment", "amount", "82.43"]
    sdrs = records["sdr"]
    assert len(sdrs) == 6 and records["sdr_total"][0][1] == "6"
    beta_contract = contract(final.b)
    assert {r[5] for r in sdrs} == {"…" + beta_contract[-4:], "…" + contract(final.g)[-4:]}
    assert beta_contract.encode() not in stored(alpha, "csv")
    credit = next(r for r in sdrs if r[11] == "true")
    assert (credit[9], credit[10], credit[8]) == ("-5.0000", "-5.9500", "-10.000")
    # The SDR rows add up to the lines: 36.6916 + 47.60 = 84.2916 at SDR precision.
    assert records["sdr_total"][0][10] == "84.2916"


def test_contract_ids_shown_in_full_when_masking_is_off(final, settings):
    settings.SETTLEMENT_REPORTS_MASK_CONTRACT_IDS = False
    draft = Statement.objects.get(partner=final.a, currency="CHF")
    data = statement_report_render(draft, "csv")
    assert contract(final.b).encode() in data
    assert b"DRAFT" in data


def test_the_xlsx_has_summary_sdr_and_fee_sheets(final):
    beta = Statement.objects.get(partner=final.b, currency="EUR")
    book = openpyxl.load_workbook(io.BytesIO(stored(beta, "xlsx")), read_only=True)
    assert book.sheetnames == ["Summary", "SDRs", "Fees"]
    summary = [
        cell for row in book["Summary"].iter_rows(values_only=True) for cell in row if cell is not None
    ]
    assert beta.number in summary and "Beta Mobility" in summary
    sdr_rows = [
        row
        for row in book["SDRs"].iter_rows(values_only=True)
        if row and row[0] and str(row[0]).startswith("SDR-")
    ]
    assert len(sdr_rows) == 7  # 5 with Alpha, 2 with Gamma
    fees = [
        row for row in book["Fees"].iter_rows(values_only=True) if row and row[0] == "Transaction fee as CSP"
    ]
    assert len(fees) == 1


def test_the_pdf_is_a_statement_document(final):
    gamma = Statement.objects.get(partner=final.g, currency="EUR")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(stored(gamma, "pdf"))).pages)
    for needle in (
        gamma.number,
        "Gamma Roaming",
        "Open Roaming Clearing House GmbH",
        "21.68",
        "10.80",
        "2026-09",
    ):
        assert needle in text, needle


def test_a_draft_is_rendered_on_request_and_streamed_as_csv(final):
    draft = Statement.objects.get(partner=final.a, currency="CHF")
    report = statement_report_file(draft, "csv")
    assert report.file is None and report.filename == "statement-2026-09-CHF-DEACH-draft.csv"
    data = b"".join(report.chunks)
    assert data == statement_report_render(draft, "csv")
    pdf = statement_report_file(draft, "pdf")
    assert pdf.file.read().startswith(b"%PDF")


def test_reports_missing_after_a_lost_task_are_stored_by_the_sweep(scenario):
    run_period("2026-09")
    statement = Statement.objects.get(partner=scenario.a, currency="EUR")
    statement = statement_finalise(statement_id=statement.pk)  # its on-commit task never ran
    assert not statement.report_pdf
    assert statements_reports_missing() == 1
    statement.refresh_from_db()
    assert stored(statement, "pdf") == statement_report_render(statement, "pdf")
    assert statements_reports_missing() == 0


@pytest.mark.parametrize("sdrs_pseudonymised_first", [False, True])
def test_redaction_replaces_the_contract_in_stored_reports(final, settings, sdrs_pseudonymised_first):
    settings.SETTLEMENT_REPORTS_MASK_CONTRACT_IDS = False
    erased = contract(final.b)
    pseudonym = "ERASED-0001"
    before = {s.pk: stored(s, "csv") for s in Statement.objects.filter(currency="EUR")}
    assert all(erased.encode() not in data for data in before.values())  # masked when stored
    if sdrs_pseudonymised_first:
        Sdr.objects.filter(contract_id=erased).update(contract_id=pseudonym)
    # Alpha, Beta and Gamma (Gamma ← Beta) list SDRs of the contract; the CHF drafts are not stored.
    assert statement_reports_redact(contract_ids=[erased], pseudonym_of=lambda c: pseudonym) == 3
    for statement in Statement.objects.filter(currency="EUR"):
        data = stored(statement, "csv")
        assert pseudonym.encode() in data and erased.encode() not in data
        assert stored(statement, "pdf").startswith(b"%PDF")
    assert AuditEntry.objects.filter(action="statement.reports_redacted").count() == 3
    assert statement_reports_redact(contract_ids=["DE-ZZZ-C99999999-9"], pseudonym_of=str) == 0
