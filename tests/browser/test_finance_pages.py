"""The finance pages in a real browser: Debian's Chromium, headless, driven by Playwright.

A partner's finance user logs in, opens a final statement, downloads its CSV, XLSX and PDF reports
and checks what they say; another partner's statement answers 404. Chromium is /usr/bin/chromium
(CI installs Debian's package); when it is missing and the tests run as root, they install it
with apt-get, and only when that fails too they are skipped, saying why.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from pypdf import PdfReader

from settlement.models import FinanceUser, Statement
from settlement.services.settlement_finalise import statement_finalise
from tests.settlement.test_settlement_support import make_sdr, run_period
from tests.support import onboard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "alpha-finance-password-1"


def _install_chromium() -> str | None:
    """Install Debian's chromium when running as root; why it could not be, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], env=env, capture_output=True, timeout=900, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"apt-get install -y chromium failed: {exc}"
    return None if Path(CHROMIUM).exists() else "apt-get ran but installed no /usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        why = _install_chromium()
        if why is not None:
            pytest.skip(f"Debian's Chromium ({CHROMIUM}) is missing and cannot be installed: {why}")
    return CHROMIUM


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    alpha = onboard(name="Alpha Charge", country="DE", party="ACH", roles=["CSO"]).partner
    beta = onboard(name="Beta Mobility", country="NL", party="BMO", roles=["CSP"]).partner
    make_sdr(alpha, beta, "10.0000", "11.9000", "20", sdr_id="SDR-A1")
    make_sdr(alpha, beta, "20.5000", "24.3950", "41.5", sdr_id="SDR-A2")
    assert run_period("2026-09").state == "DONE"
    # Finalising stores the reports once it commits (a task, run in this process here).
    statement_finalise(statement_id=Statement.objects.get(partner=alpha).pk)
    mine, theirs = Statement.objects.get(partner=alpha), Statement.objects.get(partner=beta)
    user = get_user_model().objects.create_user("alpha-finance", password=PASSWORD)
    FinanceUser.objects.create(user=user, partner=alpha)
    return mine, theirs


def test_a_partner_finance_user_reads_and_downloads_its_statement(chromium, live_server, world, monkeypatch):
    # Playwright's sync API runs an event loop in this thread: Django would call any ORM use async.
    # The database is read before the browser starts (inside, the ORM would open a connection of
    # its own that outlives the test).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    mine, theirs = world
    with mine.report_pdf.open("rb") as stored:
        stored_pdf = stored.read()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{live_server.url}/finance/")
            assert "/finance/login/" in page.url
            page.fill("#id_username", "alpha-finance")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{live_server.url}/finance/")
            assert "The statements of Alpha Charge" in page.content()
            assert page.locator("svg.chart").count() == 1

            page.click(f"text={mine.number}")
            page.wait_for_url(f"{live_server.url}/finance/statements/{mine.pk}/")
            # 11.90 + 24.395 = 36.295 → 36.30 receivable; no fee plan: no fees; the hub pays 36.30.
            assert page.inner_text("#net") == "36.30"
            assert "pays Alpha Charge 36.30 EUR" in page.inner_text("#payment-instruction")

            files = {}
            for fmt in ("csv", "xlsx", "pdf"):
                with page.expect_download() as download:
                    page.click(f"#download-{fmt}")
                assert download.value.suggested_filename == f"{mine.number}.{fmt}"
                files[fmt] = Path(download.value.path()).read_bytes()

            rows = list(csv.reader(io.StringIO(files["csv"].decode("utf-8"))))
            assert ["statement", "number", mine.number] == rows[0][:3]
            assert [r[1] for r in rows if r[0] == "sdr"] == ["SDR-A1", "SDR-A2"]
            assert next(r for r in rows if r[0] == "position" and r[1] == "net")[2] == "36.30"
            book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
            assert book.sheetnames == ["Summary", "SDRs", "Fees"]
            sdr_ids = [row[0] for row in book["SDRs"].iter_rows(values_only=True) if row and row[0]]
            assert "SDR-A1" in sdr_ids and "SDR-A2" in sdr_ids
            text = PdfReader(io.BytesIO(files["pdf"])).pages[0].extract_text()
            assert mine.number in text and "Alpha Charge" in text and "36.30" in text
            assert files["pdf"] == stored_pdf  # served as stored

            for path in (f"/finance/statements/{theirs.pk}/", f"/finance/statements/{theirs.pk}/report.pdf"):
                response = page.goto(f"{live_server.url}{path}")
                assert response is not None and response.status == 404, path
        finally:
            browser.close()
