"""GET /statements/, /statements/{id} and the three report downloads: each partner sees its own
statements only; bad input answers 4xx in the one error format."""

from __future__ import annotations

import io

import openpyxl
import pytest
from pypdf import PdfReader

from settlement.models import Statement
from settlement.services.settlement_finalise import statement_finalise
from tests.settlement import test_settlement_support as support
from tests.settlement.test_settlement_support import run_period
from tests.support import error_code

pytestmark = pytest.mark.django_db

# The shared fixtures: temporary MEDIA_ROOT (autouse) and the September scenario.
_media = support._media
scenario = support.scenario


@pytest.fixture
def settled(scenario, django_capture_on_commit_callbacks):
    run_period("2026-09", "EUR")
    run_period("2026-09", "CHF")
    with django_capture_on_commit_callbacks(execute=True):
        statement_finalise(statement_id=Statement.objects.get(partner=scenario.a, currency="EUR").pk)
    return scenario


def test_a_partner_lists_its_own_statements(settled, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        r = settled.alpha.client.get("/statements/")
    assert r.status_code == 200, r.content
    body = r.json()
    assert {(s["currency"], s["state"]) for s in body["results"]} == {("EUR", "FINAL"), ("CHF", "DRAFT")}
    eur = next(s for s in body["results"] if s["currency"] == "EUR")
    assert eur["number"].startswith("CH-") and eur["partner"] == {
        "name": "Alpha Charge",
        "operator_id": "DE*ACH",
        "provider_id": None,
    }
    assert eur["period"] == {
        "key": "2026-09",
        "cadence": "MONTHLY",
        "start": "2026-09-01T00:00:00.000000Z",
        "end": "2026-10-01T00:00:00.000000Z",
    }
    assert (eur["receivable_as_cso"], eur["hub_fees"], eur["net"]) == ("84.29", "1.86", "82.43")
    assert eur["payment"] == {"payer": "HUB", "payee": "PARTNER", "amount": "82.43"}
    assert eur["reports"]["pdf"] == f"/api/i3/v1/statements/{eur['id']}/report.pdf"
    gamma = settled.gamma.client.get("/statements/").json()["results"]
    assert [(s["partner"]["provider_id"], s["net"]) for s in gamma] == [("FR-GRO", "-21.68")]


def test_filters_and_pages(settled):
    client = settled.beta.client
    assert [s["currency"] for s in client.get("/statements/?currency=CHF").json()["results"]] == ["CHF"]
    assert client.get("/statements/?state=FINAL").json()["results"] == []
    assert len(client.get("/statements/?period=2026-09").json()["results"]) == 2
    assert client.get("/statements/?period=2026-08").json()["results"] == []
    assert client.get("/statements/?since=2030-01-01T00:00:00Z").json()["results"] == []
    first = client.get("/statements/?limit=1").json()
    assert len(first["results"]) == 1 and first["next"]
    second = client.get(first["next"].split("/api/i3/v1")[1]).json()
    assert len(second["results"]) == 1 and second["results"][0]["id"] != first["results"][0]["id"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?colour=red", "invalid_parameter"),
        ("?state=SETTLED", "invalid_state"),
        ("?period=2026-13", "invalid_period"),
        ("?period=last-month", "invalid_period"),
        ("?currency=eur", "invalid_currency"),
        ("?since=yesterday", "invalid_since"),
        ("?limit=0", "invalid_limit"),
        ("?limit=1001", "invalid_limit"),
        ("?cursor=not-a-cursor", "invalid_cursor"),
    ],
)
def test_bad_list_input_is_a_400(settled, query, code):
    r = settled.alpha.client.get(f"/statements/{query}")
    assert r.status_code == 400 and error_code(r) == code


def test_the_detail_has_lines_and_fees(settled):
    statement = Statement.objects.get(partner=settled.g, currency="EUR")
    r = settled.gamma.client.get(f"/statements/{statement.pk}")
    assert r.status_code == 200
    body = r.json()
    assert [(line["role"], line["counterparty"], line["amount_incl_vat"]) for line in body["lines"]] == [
        ("CSO", {"name": "Beta Mobility", "id": "NL-BMO"}, "26.70"),
        ("CSP", {"name": "Alpha Charge", "id": "DE*ACH"}, "47.60"),
    ]
    assert body["lines"][0]["disputed_held_incl_vat"] == "10.80"
    assert [(f["role"], f["kind"], f["amount_incl_vat"]) for f in body["fees"]] == [
        ("CSO", "PERCENT", "0.54"),
        ("CSP", "PER_SDR", "0.24"),
    ]
    assert body["fees"][0]["vat_rate_percent"] == "20"


def test_another_partners_statement_answers_404(settled):
    alpha_eur = Statement.objects.get(partner=settled.a, currency="EUR")
    for path in (
        f"/statements/{alpha_eur.pk}",
        f"/statements/{alpha_eur.pk}/report.csv",
        f"/statements/{alpha_eur.pk}/report.xlsx",
        f"/statements/{alpha_eur.pk}/report.pdf",
        "/statements/999999",
        "/statements/999999/report.pdf",
    ):
        # A report URL answers its error in JSON even to a client that asks for a file.
        accept = {"Accept": "text/csv"} if "report" in path else {}
        r = settled.beta.client.get(path, headers=accept)
        assert r.status_code == 404, path
        assert error_code(r) == "statement_not_found"
    r = settled.alpha.client.get(f"/statements/{alpha_eur.pk}/report.docx")
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_the_three_reports_download(settled):
    statement = Statement.objects.get(partner=settled.a, currency="EUR")
    client = settled.alpha.client
    csv_r = client.get(f"/statements/{statement.pk}/report.csv")
    assert csv_r.status_code == 200 and csv_r["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_r["Content-Disposition"] == f'attachment; filename="{statement.number}.csv"'
    body = b"".join(csv_r.streaming_content)
    with statement.report_csv.open("rb") as f:
        assert body == f.read()  # served as stored
    xlsx = b"".join(client.get(f"/statements/{statement.pk}/report.xlsx").streaming_content)
    assert openpyxl.load_workbook(io.BytesIO(xlsx)).sheetnames == ["Summary", "SDRs", "Fees"]
    pdf_r = client.get(f"/statements/{statement.pk}/report.pdf")
    assert pdf_r["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(b"".join(pdf_r.streaming_content))).pages[0].extract_text()
    assert statement.number in text and "82.43" in text


def test_a_draft_report_is_rendered_on_request(settled):
    draft = Statement.objects.get(partner=settled.b, currency="CHF")
    r = settled.beta.client.get(f"/statements/{draft.pk}/report.csv")
    assert r.status_code == 200
    assert r["Content-Disposition"] == 'attachment; filename="statement-2026-09-CHF-NLBMO-draft.csv"'
    assert b"statement,state,DRAFT" in b"".join(r.streaming_content)


def test_statements_need_a_signed_login(settled):
    r = settled.alpha.client.get("/statements/", auth=False)
    assert r.status_code == 401 and error_code(r)
