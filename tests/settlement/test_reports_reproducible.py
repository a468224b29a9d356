"""Every report format renders to the same bytes from the same document: again, later, elsewhere.

FINAL statements' reports are stored; re-rendering one must give back the stored file exactly.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from settlement.reports import iter_csv, write_pdf, write_xlsx
from tests.settlement.test_reports_support import sdr_rows, statement

REPO = Path(__file__).resolve().parents[2]
ROWS = 500


def render_all(state: str = "FINAL") -> dict[str, bytes]:
    doc = statement(state=state)
    xlsx, pdf = io.BytesIO(), io.BytesIO()
    write_xlsx(doc, sdr_rows(ROWS), xlsx)
    write_pdf(doc, pdf)
    return {"csv": b"".join(iter_csv(doc, sdr_rows(ROWS))), "xlsx": xlsx.getvalue(), "pdf": pdf.getvalue()}


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


@pytest.mark.parametrize("state", ["FINAL", "DRAFT"])
def test_same_bytes_twice(state):
    assert render_all(state) == render_all(state)


def test_same_bytes_under_another_clock(monkeypatch):
    first = render_all()
    # zipfile stamps entries and reportlab stamps documents from time.time(); a year later:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 365 * 86400)
    assert render_all() == first


def test_same_bytes_in_a_fresh_interpreter():
    script = (
        "import json\n"
        "from tests.settlement.test_reports_reproducible import digests, render_all\n"
        "print(json.dumps(digests(render_all())))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Pacific/Auckland", "DJANGO_ENV": "test"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout) == digests(render_all())


def test_xlsx_entries_carry_the_issue_time_only():
    data = render_all()["xlsx"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        core = archive.read("docProps/core.xml").decode()
    # DOS timestamps have two-second resolution: 09:30:15 is stored as 09:30:14.
    assert {info.date_time for info in infos} == {(2026, 12, 3, 9, 30, 14)}
    assert {info.external_attr for info in infos} == {0o644 << 16}
    assert infos[0].filename == "docProps/app.xml" and infos[-1].filename == "[Content_Types].xml"
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">2026-12-03T09:30:15Z</dcterms:created>' in core
    assert '<dcterms:modified xsi:type="dcterms:W3CDTF">2026-12-03T09:30:15Z</dcterms:modified>' in core


def test_pdf_dates_come_from_the_document():
    pdf = render_all()["pdf"]
    assert pdf.count(b"D:20261203093015+00'00'") == 2  # CreationDate and ModDate
    other = io.BytesIO()
    write_pdf(statement(issued_at=statement().issued_at.replace(day=4)), other)
    assert b"D:20261204093015+00'00'" in other.getvalue() and other.getvalue() != pdf


def test_reports_differ_when_the_document_does():
    final, draft = render_all("FINAL"), render_all("DRAFT")
    assert all(final[name] != draft[name] for name in final)
