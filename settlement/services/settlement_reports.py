"""A statement's reports: rendered from its document and SDR rows, stored once it is final, served.

A final statement's CSV, XLSX and PDF are rendered from its snapshot once (after the commit that
finalised it) and stored under MEDIA_ROOT; they are served as stored. Rendering is deterministic,
so a re-rendering gives the same bytes; the one reason to replace stored reports is privacy:
statement_reports_redact() renders them again with erased contract IDs replaced by pseudonyms.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id

from ..models import Sdr, Statement, StatementState
from ..reports import iter_csv, write_pdf, write_xlsx
from ..selectors.statements import statement_document, statement_sdr_rows

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
FORMATS = tuple(CONTENT_TYPES)
SPOOL_BYTES = 8 * 1024 * 1024  # a rendered report stays in memory up to this size, then spills to disk


@dataclass
class ReportFile:
    """A report to send: streamed chunks (a live CSV) or a file positioned at its start."""

    filename: str
    content_type: str
    chunks: Iterator[bytes] | None = None
    file: IO[bytes] | None = None


def report_filename(statement: Statement, fmt: str) -> str:
    if statement.number:
        return f"{statement.number}.{fmt}"
    party = f"{statement.partner.country_code}{statement.partner.party_id}"
    return f"statement-{statement.period_key}-{statement.currency}-{party}-draft.{fmt}"


def _render_to(
    statement: Statement, fmt: str, out: IO[bytes], rename: Mapping[str, str] | None = None
) -> None:
    doc = statement_document(statement)
    if fmt == "csv":
        for chunk in iter_csv(doc, statement_sdr_rows(statement, rename=rename)):
            out.write(chunk)
    elif fmt == "xlsx":
        write_xlsx(doc, statement_sdr_rows(statement, rename=rename), out)  # type: ignore[arg-type]
    else:
        write_pdf(doc, out)  # type: ignore[arg-type]
    out.seek(0)


def statement_report_render(statement: Statement, fmt: str) -> bytes:
    """The report rendered now, as bytes (tests compare it with the stored file)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        _render_to(statement, fmt, out)  # type: ignore[arg-type]
        return out.read()


def statement_report_file(statement: Statement, fmt: str) -> ReportFile:
    """The report to download: the stored file of a final statement, else rendered now (a CSV is
    streamed as it renders; XLSX and PDF are rendered to a spooled temporary file first)."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown report format {fmt!r}")
    name, content_type = report_filename(statement, fmt), CONTENT_TYPES[fmt]
    stored = getattr(statement, f"report_{fmt}")
    if statement.is_final and stored:
        return ReportFile(name, content_type, file=stored.open("rb"))
    if fmt == "csv":
        return ReportFile(
            name, content_type, chunks=iter_csv(statement_document(statement), statement_sdr_rows(statement))
        )
    # Handed to the response, which closes it once sent.
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    _render_to(statement, fmt, out)  # type: ignore[arg-type]
    return ReportFile(name, content_type, file=out)  # type: ignore[arg-type]


def _store_files(statement: Statement, rename: Mapping[str, str] | None = None) -> dict[str, str]:
    """Render the three reports and save them under MEDIA_ROOT; their storage names."""
    names: dict[str, str] = {}
    for fmt in FORMATS:
        with tempfile.TemporaryFile() as out:
            _render_to(statement, fmt, out, rename)  # type: ignore[arg-type]
            field = getattr(statement, f"report_{fmt}").field
            target = field.generate_filename(statement, f"{statement.number}.{fmt}")
            names[fmt] = default_storage.save(target, File(out))
    return names


def _discard(names: Mapping[str, str]) -> None:
    for name in names.values():
        if name:
            default_storage.delete(name)


def statement_reports_store(*, statement_id: int) -> bool:
    """Store the reports of a final statement that has none yet; True when this call stored them.
    Safe to run twice at once: the second writer's files are discarded."""
    statement = Statement.objects.select_related("partner").filter(pk=statement_id).first()
    if statement is None or statement.state == StatementState.DRAFT or statement.report_pdf:
        return False
    names = _store_files(statement)
    stored = (
        Statement.objects.filter(pk=statement.pk, report_pdf="")
        .exclude(state=StatementState.DRAFT)
        .update(**{f"report_{fmt}": name for fmt, name in names.items()})
    )
    if not stored:
        _discard(names)
        return False
    return True


def statements_reports_missing() -> int:
    """Store the reports of every final statement that still lacks them (a worker died after the
    finalising commit, or the broker was down); how many were stored."""
    pending = (
        Statement.objects.exclude(state=StatementState.DRAFT)
        .filter(report_pdf="")
        .values_list("pk", flat=True)
    )
    return sum(statement_reports_store(statement_id=pk) for pk in list(pending))


def _normalised(contract_id: str) -> str:
    try:
        return parse_contract_id(contract_id).normalized()
    except IdentifierError:
        return contract_id


def statement_reports_redact(*, contract_ids: list[str], pseudonym_of: Callable[[str], str]) -> int:
    """Render again, and replace, the stored reports of final statements that list SDRs of these
    contracts, with each contract ID replaced by `pseudonym_of(contract_id)`; how many statements.

    For the erasure of a driver's data: call it before or after the SDRs' contract IDs are
    pseudonymised (SDRs carrying either the contract ID or its pseudonym are found). Amounts and
    everything else stay as they were; each replacement is audited.
    """
    renames: dict[str, str] = {}
    for contract_id in contract_ids:
        pseudonym = pseudonym_of(contract_id)
        for spelling in {contract_id, _normalised(contract_id)}:
            renames[spelling] = pseudonym
    if not renames:
        return 0
    mentions = (
        Sdr.objects.filter(contract_id__in=set(renames) | set(renames.values()), bucket__line__isnull=False)
        .values_list("bucket__line__run_id", "cso_id", "csp_id")
        .distinct()
    )
    keys = {(run_id, partner_id) for run_id, cso_id, csp_id in mentions for partner_id in (cso_id, csp_id)}
    redacted = 0
    for run_id, partner_id in sorted(keys):
        statement = (
            Statement.objects.select_related("partner")
            .exclude(state=StatementState.DRAFT)
            .filter(run_id=run_id, partner_id=partner_id)
            .first()
        )
        if statement is None:
            continue  # a draft is rendered when asked for, from the SDRs as they are then
        names = _store_files(statement, rename=renames)
        old = {fmt: getattr(statement, f"report_{fmt}").name for fmt in FORMATS}
        with transaction.atomic():
            Statement.objects.filter(pk=statement.pk).update(
                updated_at=timezone.now(), **{f"report_{fmt}": name for fmt, name in names.items()}
            )
            audit_record(
                action="statement.reports_redacted",
                obj=statement,
                partner_id=statement.partner_id,
                details={"contracts": len(contract_ids)},
            )
        transaction.on_commit(lambda old=old: _discard(old))
        redacted += 1
    return redacted
