"""The right to be forgotten: POST /privacy/erasures removes the contract's personal data and
credentials and leaves its contract ID nowhere in the database, while every amount, quantity and
time that settlement needs stays."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from pypdf import PdfReader

from clearinghouse.audit import audit_record
from clearinghouse.models import AuditEntry, IdempotencyRecord
from clearinghouse.routing.models import OutboxMessage
from credentials.models import AuthorizationRecord, Credential, DriverPersonalData, Erasure
from credentials.privacy.contracts import pseudonym_of
from sessions.models import ChargingSession, RemoteCommand, Reservation
from settlement.models import FeePlan, Sdr, SdrChargingPeriod, Statement
from settlement.periods import period_containing
from settlement.services.settlement_finalise import statement_finalise
from settlement.services.settlement_run import settlement_run_execute, settlement_run_request
from tests.support import error_code

from .conftest import UID_OTHER, World, cdr_doc, populate
from .support import occurrences

pytestmark = pytest.mark.django_db


def money_and_energy() -> dict[str, Any]:
    """What settlement and accounting read: per monthly period and currency, the SDRs' count and
    sums; every session's energy, cost and times; every charging period's volumes."""
    per_period: dict[tuple[str, str], list[Any]] = defaultdict(
        lambda: [0, Decimal(0), Decimal(0), Decimal(0)]
    )
    for s in Sdr.objects.exclude(state="REJECTED"):
        key = (period_containing(s.end_date_time, "MONTHLY").key, s.currency)
        row = per_period[key]
        row[0] += 1
        row[1] += s.total_cost_excl_vat
        row[2] += s.total_cost_incl_vat or 0
        row[3] += s.total_energy
    return {
        "sdr_periods": dict(per_period),
        "sdr_states": sorted(Sdr.objects.values_list("sdr_id", "state", "hub_cost_excl_vat")),
        "sessions": sorted(
            ChargingSession.objects.values_list(
                "session_id", "kwh", "total_cost_excl_vat", "start_date_time", "end_date_time", "status"
            )
        ),
        "charging_periods": sorted(SdrChargingPeriod.objects.values_list("sdr__sdr_id", "index", "energy")),
        "authorizations": sorted(
            AuthorizationRecord.objects.values_list("pk", "status", "evse_id", "created_at")
        ),
    }


def staff_notes(world: World) -> None:
    """What staff and the plumbing wrote about the contract: an audit entry (lower-case compact
    spelling) and an admin change log line naming a credential."""
    audit_record(
        action="support.note",
        details={"note": f"driver called about {world.contract.replace('-', '').lower()}"},
    )
    staff = get_user_model().objects.create_superuser(
        "privacy-staff", "s@example.invalid", "a-long-password-1"
    )
    credential = Credential.objects.filter(contract_id=world.contract).first()
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[credential], action_flag=CHANGE, change_message="blocked on request"
    )
    assert ContentType.objects.get_for_model(Credential)


def stored_reports(root: Path) -> dict[str, str]:
    """The text of every stored report file under MEDIA_ROOT (CSV as is, XLSX cells, PDF text)."""
    texts = {}
    for path in root.rglob("*"):
        if path.suffix == ".csv":
            texts[path.name] = path.read_text("utf-8")
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            texts[path.name] = " ".join(
                str(cell)
                for sheet in book.worksheets
                for row in sheet.iter_rows(values_only=True)
                for cell in row
            )
        elif path.suffix == ".pdf":
            texts[path.name] = " ".join(page.extract_text() for page in PdfReader(str(path)).pages)
    return texts


def settle(world: World, capture: Any) -> list[Statement]:
    """The day of the accepted SDR settled; its statements (CSO's and CSP's) final, reports stored."""
    day = Sdr.objects.get(sdr_id="SDR-1").end_date_time.date().isoformat()
    FeePlan.objects.create(partner=world.csp.partner, cadence="DAILY", csp_fee_per_sdr=Decimal("0.05"))
    run = settlement_run_request(period_key=day, currency="EUR")
    assert settlement_run_execute(run_id=run.pk).state == "DONE"
    with capture(execute=True):
        for statement in Statement.objects.filter(run=run):
            statement_finalise(statement_id=statement.pk)
    statements = list(Statement.objects.filter(run=run).order_by("pk"))
    assert len(statements) == 2 and all(s.report_csv for s in statements)
    return statements


STATEMENT_FIGURES = (
    "state", "number", "sdr_count", "energy_kwh", "receivable_as_cso", "payable_as_csp", "hub_fees", "net",
    "payment_amount", "snapshot",
)  # fmt: skip


def test_erasure_leaves_the_contract_nowhere_and_keeps_the_figures(
    world: World, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SETTLEMENT_REPORTS_MASK_CONTRACT_IDS = False  # reports show contract IDs in full
    populate(world)
    staff_notes(world)
    statements = settle(world, django_capture_on_commit_callbacks)
    figures = list(Statement.objects.order_by("pk").values_list(*STATEMENT_FIGURES))
    reports = stored_reports(tmp_path / "media")
    assert len(reports) == 6 and any(world.contract in text for text in reports.values())
    before = money_and_energy()
    # The contract is everywhere before: the search does find what it looks for.
    assert occurrences([world.contract]) and occurrences(world.secrets[:1])
    assert IdempotencyRecord.objects.exists() and OutboxMessage.objects.exists()

    # Asked in another spelling: compact, lower case, without the check digit.
    with django_capture_on_commit_callbacks(execute=True):
        r = world.csp.client.post(
            "/privacy/erasures", {"contract_id": world.contract.replace("-", "").lower()[:-1]}
        )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["state"] == "COMPLETED"
    assert body["pseudonym"] == pseudonym_of(world.contract)
    assert body["counts"]["credentials.credentials"] == 4
    assert body["counts"]["credentials.personal_data"] == 1
    assert body["counts"]["charging_sessions.sessions"] == 1
    assert body["counts"]["charging_sessions.commands"] == 2
    assert body["counts"]["charging_sessions.reservations"] == 1
    assert body["counts"]["settlement.sdrs"] == 2
    assert body["counts"]["routing.outbox_messages"] >= 1
    assert body["counts"]["clearinghouse.idempotency_answers"] == 1
    assert body["counts"]["settlement.statement_reports"] == 2
    assert body["counts"]["clearinghouse.audit_entries"] == 1
    assert body["counts"]["admin.log_entries"] == 1

    leftovers = occurrences(world.spellings + world.secrets)
    assert leftovers == [], leftovers
    assert money_and_energy() == before
    # The statements still add up to the same figures; their stored reports (the replaced files
    # are gone) name the pseudonym instead of the contract.
    assert list(Statement.objects.order_by("pk").values_list(*STATEMENT_FIGURES)) == figures
    after = stored_reports(tmp_path / "media")
    assert len(after) == 6
    for name, text in after.items():
        for spelling in world.spellings:
            assert spelling not in text, (name, spelling)
    assert all(body["pseudonym"] in text for name, text in after.items() if not name.endswith(".pdf"))
    for statement in statements:
        # Each statement's net is still its receivable less its payable and fees.
        statement.refresh_from_db()
        assert statement.net == statement.receivable_as_cso - statement.payable_as_csp - statement.hub_fees
        assert statement.sdr_count == 1 and statement.energy_kwh == 20

    # The other contract of the same CSP is untouched.
    assert Credential.objects.filter(contract_id=world.other_contract).count() == 1
    assert DriverPersonalData.objects.filter(contract_id=world.other_contract).exists()
    assert ChargingSession.objects.filter(contract_id=world.other_contract).count() == 1
    assert Sdr.objects.get(sdr_id="SDR-3").cdr["cdr_token"]["uid"] == UID_OTHER
    assert occurrences([world.other_contract])

    # The erased records carry the pseudonym.
    pseudonym = body["pseudonym"]
    assert ChargingSession.objects.get(session_id="S-1").contract_id == pseudonym
    assert set(Sdr.objects.filter(sdr_id__in=["SDR-1", "SDR-2"]).values_list("contract_id", flat=True)) == {
        pseudonym
    }
    assert RemoteCommand.objects.filter(contract_id=pseudonym).count() == 2
    assert Reservation.objects.get().contract_id == pseudonym
    erasure = Erasure.objects.get()
    assert erasure.pending_contract == "" and erasure.csp_id == world.csp.partner.pk
    assert AuditEntry.objects.filter(action="privacy.erasure.complete", object_id=str(erasure.pk)).exists()


def test_a_second_request_answers_the_same_erasure(world: World) -> None:
    populate(world)
    first = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    again = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract.replace("-", "")})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Erasure.objects.count() == 1
    detail = world.csp.client.get(f"/privacy/erasures/{first.json()['id']}")
    assert detail.status_code == 200 and detail.json() == first.json()


def _active_session(world: World) -> str:
    upload = world.csp.client.post(
        "/credentials/",
        [{"type": "RFID", "value": "04A1B2C3D4E5F6", "contract_id": world.contract, "whitelist": "ALWAYS"}],
    )
    assert upload.status_code == 200, upload.content
    from .conftest import authorize, session_start

    started = authorize(world, {"type": "RFID", "value": "04A1B2C3D4E5F6"})
    session_start(world, "S-LIVE", world.contract, started["authorization_reference"])
    return "S-LIVE"


def test_an_erasure_waits_for_the_session_to_end_then_runs(world: World) -> None:
    from credentials.privacy.services import erasures_run_scheduled

    from .conftest import session_end

    session_id = _active_session(world)
    r = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["state"] == "SCHEDULED"
    assert body["waiting_for"] == {"charging_sessions.open_sessions": 1}
    assert body["completed_at"] is None and body["counts"] == {}
    # Nothing is erased while the session goes on: the CSO still reports it under the contract.
    assert ChargingSession.objects.get(session_id=session_id).contract_id == world.contract
    assert Credential.objects.filter(contract_id=world.contract).exists()
    erasure = Erasure.objects.get()
    assert erasure.pending_contract and world.contract not in erasure.pending_contract  # encrypted
    assert erasures_run_scheduled() == 0

    session_end(world, session_id)
    assert erasures_run_scheduled() == 1
    done = world.csp.client.get(f"/privacy/erasures/{body['id']}").json()
    assert done["state"] == "COMPLETED" and done["counts"]["charging_sessions.sessions"] == 1
    assert ChargingSession.objects.get(session_id=session_id).contract_id == body["pseudonym"]
    assert not Credential.objects.filter(contract_id=world.contract).exists()
    assert occurrences(world.spellings + world.secrets) == []
    assert erasures_run_scheduled() == 0  # completed once, never again


def test_a_session_that_never_ends_does_not_keep_the_data_forever(world: World, settings: Any) -> None:
    from django.utils import timezone

    from credentials.privacy.services import erasures_run_scheduled

    settings.PRIVACY_ERASURE_MAX_WAIT_HOURS = 48
    session_id = _active_session(world)
    r = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert r.json()["state"] == "SCHEDULED"
    assert erasures_run_scheduled(now=timezone.now() + timedelta(hours=47)) == 0
    assert erasures_run_scheduled(now=timezone.now() + timedelta(hours=49)) == 1
    erasure = Erasure.objects.get()
    assert erasure.state == "COMPLETED"
    assert erasure.waiting_for == {"charging_sessions.open_sessions": 1}  # it ran with the session open
    assert ChargingSession.objects.get(session_id=session_id).contract_id == erasure.pseudonym


def test_concurrent_runners_complete_an_erasure_once(world: World) -> None:
    from credentials.privacy.services import erasure_run

    _active_session(world)
    erasure_id = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}).json()["id"]
    assert erasure_run(erasure_id=erasure_id, force=True) is True
    assert erasure_run(erasure_id=erasure_id, force=True) is False
    entries = AuditEntry.objects.filter(action="privacy.erasure.complete", object_id=str(erasure_id))
    assert entries.count() == 1


def test_a_hub_issued_contract_is_erased_and_stays_reserved(world: World) -> None:
    from credentials.inputs import parse_issue_request
    from credentials.models import IssuedContract
    from credentials.services import credential_issue

    issued = credential_issue(
        csp_id=world.csp.partner.pk,
        request=parse_issue_request({"type": "RFID", "value": "04C0FFEE", "driver": {"name": "Hub Driver"}}),
        by_staff=True,
    )
    contract = issued.credential.contract_id
    assert AuditEntry.objects.filter(action="credential.issue", details__contract_id=contract).exists()
    r = world.csp.client.post("/privacy/erasures", {"contract_id": contract})
    assert r.status_code == 201, r.content
    pseudonym = r.json()["pseudonym"]
    assert IssuedContract.objects.get().contract_id == pseudonym
    assert occurrences([contract, contract.replace("-", ""), "04C0FFEE", "Hub Driver"]) == []
    # The CSP can still see its erasure of that contract (found by the pseudonym).
    again = world.csp.client.post("/privacy/erasures", {"contract_id": contract})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]


def test_another_csp_gets_404_and_a_cso_403(world: World) -> None:
    upload_done = world.csp.client.post(
        "/credentials/", [{"type": "RFID", "value": "04A1B2C3D4E5F6", "contract_id": world.contract}]
    )
    assert upload_done.status_code == 200
    r = world.other_csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert Erasure.objects.count() == 0 and Credential.objects.filter(contract_id=world.contract).exists()
    # A contract of nobody known: 404 as well, nothing recorded.
    r = world.other_csp.client.post("/privacy/erasures", {"contract_id": "FR-XYZ-C00000001"})
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = world.cso.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert r.status_code == 403 and error_code(r) == "role_required"
    mine = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}).json()
    r = world.other_csp.client.get(f"/privacy/erasures/{mine['id']}")
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert world.other_csp.client.get("/privacy/erasures").json()["results"] == []
    assert [e["id"] for e in world.csp.client.get("/privacy/erasures").json()["results"]] == [mine["id"]]
    r = world.other_csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert r.status_code == 404  # an erased contract of another CSP stays unknown to it


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, "missing_contract_id"),
        ({"contract_id": ""}, "missing_contract_id"),
        ({"contract_id": 12}, "missing_contract_id"),
        ({"contract_id": "not a contract"}, "invalid_contract_id"),
        ({"contract_id": "NL-BMO-C12345678-0"}, "invalid_check_digit"),
        ({"contract_id": "NL-BMO-C12345678", "why": "x"}, "unknown_field"),
        ([{"contract_id": "NL-BMO-C12345678"}], "invalid_body"),
    ],
)
def test_bad_requests_answer_400_in_the_error_format(world: World, body: Any, code: str) -> None:
    r = world.csp.client.post("/privacy/erasures", body)
    assert r.status_code == 400, r.content
    assert error_code(r) == code
    assert Erasure.objects.count() == 0


def test_malformed_json_and_ids(world: World) -> None:
    r = world.csp.client.post("/privacy/erasures", raw=b"{not json")
    assert r.status_code == 400 and error_code(r)
    r = world.csp.client.get("/privacy/erasures/99999999999999999999")
    assert r.status_code == 404 and error_code(r)
    r = world.csp.client.get("/privacy/erasures/123")
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_an_idempotency_key_replays_the_first_answer(world: World) -> None:
    world.csp.client.post(
        "/credentials/", [{"type": "RFID", "value": "04A1B2C3D4E5F6", "contract_id": world.contract}]
    )
    headers = {"Idempotency-Key": "erase-1"}
    first = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}, headers=headers)
    again = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    # The stored answer names the pseudonym only.
    assert occurrences(world.spellings) == []


def test_a_repeated_request_erases_what_arrived_since(world: World) -> None:
    from .conftest import upload_credentials

    upload_credentials(world)
    first = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract}).json()
    # A CSO sends an SDR of the erased contract late: the contract carries the CSP's provider ID, so
    # the hub takes it and routes it to the CSP, under the contract ID the CSO wrote.
    late = cdr_doc(world.cso.partner.operator_id, world.contract, sdr_id="SDR-LATE")
    assert world.cso.client.post("/sdrs/", late).status_code == 201
    assert occurrences([world.contract])
    again = world.csp.client.post("/privacy/erasures", {"contract_id": world.contract})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["counts"]["settlement.sdrs"] == first["counts"]["settlement.sdrs"] + 1
    assert occurrences(world.spellings + world.secrets) == []
    assert AuditEntry.objects.filter(action="privacy.erasure.sweep").count() == 1
