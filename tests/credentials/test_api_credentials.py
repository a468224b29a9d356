"""The credentials endpoints (CSP role): bulk upload delta and full, list, change; scope (another
partner's credential is not found) and bad input. Issuance: test_api_issuance.py."""

from __future__ import annotations

import pytest

from clearinghouse.models import AuditEntry
from credentials.models import Credential, DriverPersonalData
from tests.support import error_code, onboard

from .conftest import PASSWORD, PIN, UID, contract, make_credential

pytestmark = pytest.mark.django_db


def item(uid: str = UID, **extra):  # type: ignore[no-untyped-def]
    return {"type": "RFID", "value": uid, "contract_id": "NL-BMO-C12345678", "whitelist": "ALWAYS", **extra}


def upload(client, items, mode: str | None = None, **kw):  # type: ignore[no-untyped-def]
    path = "/credentials/" + (f"?mode={mode}" if mode else "")
    return client.post(path, items, **kw)


def results(response):  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- upload ----------------------------------------------------------------------------------------


def test_upload_delta_create_unchanged_update(csp) -> None:
    body = upload(csp.client, [item(), item("04000001", pin=None)]).json()
    assert body["mode"] == "delta" and body["counts"] == {"created": 2}
    first, second = body["results"]
    assert (first["index"], first["status"]) == (0, "created") and isinstance(first["id"], int)
    assert "error" not in first
    stored = Credential.objects.get(pk=first["id"])
    assert (stored.csp_id, stored.issuer, stored.contract_id) == (csp.partner.pk, "CSP", contract())
    assert UID not in (stored.lookup_hash, stored.value_hint) and stored.value_hint == "…E5F6"

    again = results(upload(csp.client, [item(), item("04000001")]))
    assert [r["status"] for r in again] == ["unchanged", "unchanged"]
    assert [r["id"] for r in again] == [first["id"], second["id"]]

    changed = results(upload(csp.client, [item(status="BLOCKED")], mode="delta"))
    assert changed == [{"index": 0, "status": "updated", "id": first["id"]}]
    assert Credential.objects.get(pk=first["id"]).status == "BLOCKED"
    assert Credential.objects.count() == 2


def test_upload_keeps_secrets_hashed(csp) -> None:
    got = results(
        upload(
            csp.client,
            [
                {"type": "QR_STATIC", "contract_id": "NL-BMO-C12345678", "pin": PIN},
                {
                    "type": "APP_USER",
                    "value": "Jane",
                    "contract_id": "NL-BMO-C12345678",
                    "password": PASSWORD,
                },
            ],
        )
    )
    qr = Credential.objects.get(pk=got[0]["id"])
    user = Credential.objects.get(pk=got[1]["id"])
    assert qr.pin_hash and PIN not in qr.pin_hash and qr.lookup_hash != contract()
    assert user.password_hash and PASSWORD not in user.password_hash
    # the same PIN again is unchanged (the hash is kept), a new one updates
    again = upload(csp.client, [{"type": "QR_STATIC", "contract_id": "NL-BMO-C12345678", "pin": PIN}])
    assert results(again)[0]["status"] == "unchanged"
    other = upload(csp.client, [{"type": "QR_STATIC", "contract_id": "NL-BMO-C12345678", "pin": "1111"}])
    assert results(other)[0]["status"] == "updated"


def test_one_bad_item_never_loses_the_others(csp) -> None:
    got = results(
        upload(
            csp.client,
            [
                item("04000001"),
                item("not-a-uid"),
                item("04000002", contract_id="NL-XYZ-C12345678"),
                item("04000003", status="LOST"),
                "junk",
                item("04000001"),
                item("04000004"),
            ],
        )
    )
    assert [r["status"] for r in got] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert [r.get("error", {}).get("code") for r in got] == [
        None, "invalid_rfid_uid", "contract_not_yours", "invalid_status", "invalid_body", "duplicate_item",
        None,
    ]  # fmt: skip
    assert all(set(r["error"]) == {"code", "message"} for r in got if r["status"] == "rejected")
    assert "not-a-uid" not in str(got)
    assert Credential.objects.count() == 2


def test_a_value_registered_by_another_csp_is_rejected(csp) -> None:
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    theirs = make_credential(other, contract_id=contract("BE-DEL"))
    got = results(upload(csp.client, [item()]))
    assert got[0]["status"] == "rejected" and got[0]["error"]["code"] == "credential_taken"
    theirs.refresh_from_db()
    assert theirs.csp_id == other.partner.pk and theirs.contract_id == contract("BE-DEL")


def test_full_mode_replaces_the_csps_uploads(csp) -> None:
    cid = contract()
    results(upload(csp.client, [item("04000001"), item("04000002"), item("04000003")]))
    hub_issued = make_credential(csp, type="REMOTE", contract_id=contract("DE-HUB"), issuer="HUB")
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    theirs = make_credential(other, value="04000009", contract_id=contract("BE-DEL"))
    kept = Credential.objects.get(contract_id=cid, value_hint="…0001")

    got = results(upload(csp.client, [item("04000001"), item("04000004")], mode="full"))
    assert [r["status"] for r in got[:2]] == ["unchanged", "created"]
    removed = [r for r in got if r["status"] == "removed"]
    assert len(removed) == 2 and all(r["index"] is None for r in removed)
    remaining = set(Credential.objects.values_list("pk", flat=True))
    assert kept.pk in remaining and hub_issued.pk in remaining and theirs.pk in remaining
    assert not remaining & {r["id"] for r in removed}
    assert Credential.objects.filter(csp=csp.partner, issuer="CSP").count() == 2


def test_full_mode_keeps_a_credential_whose_item_was_rejected(csp) -> None:
    results(upload(csp.client, [item("04000001"), item("04000002")]))
    got = results(
        upload(csp.client, [item("04000001"), item("04000002", whitelist="SOMETIMES")], mode="full")
    )
    assert [r["status"] for r in got] == ["unchanged", "rejected"]
    assert Credential.objects.filter(csp=csp.partner).count() == 2


def test_full_mode_with_an_empty_array_removes_all_uploads(csp) -> None:
    results(upload(csp.client, [item("04000001"), item("04000002")]))
    got = results(upload(csp.client, [], mode="full"))
    assert [r["status"] for r in got] == ["removed", "removed"]
    assert not Credential.objects.exists()


def test_driver_personal_data_lives_apart(csp) -> None:
    driver = {"name": "Jane Doe", "email": "jane@example.org", "phone": "+31 20 123 4567"}
    got = results(upload(csp.client, [item(driver=driver)]))
    data = DriverPersonalData.objects.get(contract_id=contract())
    assert (data.name, data.email, data.csp_id) == ("Jane Doe", "jane@example.org", csp.partner.pk)
    listing = csp.client.get("/credentials/").json()
    assert "Jane" not in str(listing) and "jane@" not in str(listing)
    # new personal data alone makes the item updated
    again = results(upload(csp.client, [item(driver={**driver, "phone": "+31 20 765 4321"})]))
    assert again[0]["status"] == "updated" and again[0]["id"] == got[0]["id"]
    # the last credential of the contract removed: its personal data goes too
    results(upload(csp.client, [], mode="full"))
    assert not DriverPersonalData.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [({"type": "RFID"}, "invalid_body"), ("[", "parse_error"), ([item()] * 1001, "too_many_items")],
)
def test_upload_bad_body_is_400_and_changes_nothing(csp, body, code) -> None:
    raw = body.encode() if isinstance(body, str) else None
    response = upload(csp.client, body, raw=raw) if raw else upload(csp.client, body)
    assert response.status_code == 400, response.content
    assert error_code(response) == code
    assert not Credential.objects.exists()


def test_upload_bad_mode_is_400(csp) -> None:
    response = upload(csp.client, [item()], mode="replace")
    assert response.status_code == 400 and error_code(response) == "invalid_mode"
    assert not Credential.objects.exists()


def test_upload_accepts_1000_items(csp, django_assert_max_num_queries) -> None:
    items = [item(f"04{n:06X}") for n in range(1000)]
    csp.client.login()
    with django_assert_max_num_queries(30):
        got = results(upload(csp.client, items))
    assert len(got) == 1000 and {r["status"] for r in got} == {"created"}


def test_upload_is_for_csps_only(cso) -> None:
    response = upload(cso.client, [item()])
    assert response.status_code == 403 and error_code(response) == "role_required"


def test_upload_with_idempotency_key_replays(csp) -> None:
    headers = {"Idempotency-Key": "upload-1"}
    first = upload(csp.client, [item()], headers=headers)
    second = upload(csp.client, [item()], headers=headers)
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"


def test_upload_is_audited_without_values(csp) -> None:
    upload(csp.client, [item(driver={"name": "Jane Doe"})])
    entries = AuditEntry.objects.filter(partner_id=csp.partner.pk, action__startswith="credentials.upload")
    assert entries.exists()
    assert UID not in str(list(entries.values())) and "Jane" not in str(list(entries.values()))


# --- list and change -------------------------------------------------------------------------------


def test_list_mine_only_with_filters(csp) -> None:
    mine = make_credential(csp, value="04000001")
    blocked = make_credential(csp, value="04000002", status="BLOCKED")
    qr = make_credential(csp, type="QR_STATIC", pin=PIN)
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    make_credential(other, value="04000009", contract_id=contract("BE-DEL"))
    body = csp.client.get("/credentials/").json()
    assert {c["id"] for c in body["results"]} == {mine.pk, blocked.pk, qr.pk}
    row = next(c for c in body["results"] if c["id"] == qr.pk)
    assert row["has_pin"] is True and row["has_password"] is False and row["issuer"] == "CSP"
    assert "lookup_hash" not in row and "pin_hash" not in row
    assert row["last_updated"].endswith("Z")
    only = csp.client.get("/credentials/?status=BLOCKED").json()["results"]
    assert [c["id"] for c in only] == [blocked.pk]
    only = csp.client.get("/credentials/?type=QR_STATIC").json()["results"]
    assert [c["id"] for c in only] == [qr.pk]
    since = mine.updated_at.isoformat().replace("+00:00", "Z")
    later = csp.client.get(f"/credentials/?since={since}").json()["results"]
    assert mine.pk not in {c["id"] for c in later} and blocked.pk in {c["id"] for c in later}


def test_list_pages(csp) -> None:
    for n in range(5):
        make_credential(csp, value=f"0400000{n}")
    first = csp.client.get("/credentials/?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    path = first["next"].split("/api/i3/v1", 1)[1]
    second = csp.client.get(path).json()
    assert len(second["results"]) == 2
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}


def test_list_pages_through_one_upload(csp) -> None:
    # One upload gives its credentials the same last-change time: pages must still not overlap.
    results(upload(csp.client, [item(f"0400000{n}") for n in range(5)]))
    seen: list[int] = []
    path = "/credentials/?limit=2"
    while path:
        body = csp.client.get(path).json()
        seen += [c["id"] for c in body["results"]]
        path = body["next"].split("/api/i3/v1", 1)[1] if body["next"] else None
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 5


def test_list_query_count(csp, django_assert_max_num_queries) -> None:
    for n in range(20):
        make_credential(csp, value=f"040000{n:02d}")
    csp.client.get("/credentials/")
    with django_assert_max_num_queries(1):
        assert len(csp.client.get("/credentials/").json()["results"]) == 20


@pytest.mark.parametrize(
    ("query", "code"),
    [("since=yesterday", "invalid_since"), ("status=LOST", "invalid_status"), ("type=CARD", "invalid_type"),
     ("limit=5000", "invalid_limit")],
)  # fmt: skip
def test_list_bad_filters(csp, query, code) -> None:
    response = csp.client.get(f"/credentials/?{query}")
    assert response.status_code == 400 and error_code(response) == code


def test_get_one_and_scope(csp) -> None:
    mine = make_credential(csp)
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    assert csp.client.get(f"/credentials/{mine.pk}").json()["id"] == mine.pk
    for path in (f"/credentials/{mine.pk}", "/credentials/999999", "/credentials/99999999999999999999999"):
        response = other.client.get(path)
        assert response.status_code == 404 and error_code(response) == "not_found"


def test_patch_block_unblock_and_validity(csp) -> None:
    credential = make_credential(csp)
    response = csp.client.patch(f"/credentials/{credential.pk}", {"status": "BLOCKED"})
    assert response.status_code == 200 and response.json()["status"] == "BLOCKED"
    response = csp.client.patch(
        f"/credentials/{credential.pk}",
        {"status": "VALID", "whitelist": "NEVER", "valid_until": "2030-01-01T00:00:00Z", "group_id": "fleet"},
    )
    body = response.json()
    assert (body["status"], body["whitelist"], body["group_id"]) == ("VALID", "NEVER", "fleet")
    assert body["valid_until"].startswith("2030-01-01T00:00:00")
    assert AuditEntry.objects.filter(action="credential.update", object_id=str(credential.pk)).exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "empty_change"), ({"status": "GONE"}, "invalid_status"),
     ({"contract_id": "NL-BMO-C00000000"}, "unknown_field"),
     ({"valid_from": "2031-01-01T00:00:00Z"}, "invalid_validity"), ([], "invalid_body")],
)  # fmt: skip
def test_patch_bad_input_changes_nothing(csp, body, code) -> None:
    from datetime import UTC, datetime

    credential = make_credential(csp, valid_until=datetime(2030, 1, 1, tzinfo=UTC))
    response = csp.client.patch(f"/credentials/{credential.pk}", body)
    assert response.status_code == 400 and error_code(response) == code
    before = credential.updated_at
    credential.refresh_from_db()
    assert credential.updated_at == before and credential.status == "VALID"


def test_patch_another_csps_credential_is_not_found(csp) -> None:
    other = onboard(name="Delta", country="BE", party="DEL", roles=["CSP"])
    theirs = make_credential(other, contract_id=contract("BE-DEL"))
    response = csp.client.patch(f"/credentials/{theirs.pk}", {"status": "BLOCKED"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "VALID"


def test_patch_is_for_csps_only(cso, csp) -> None:
    credential = make_credential(csp)
    response = cso.client.patch(f"/credentials/{credential.pk}", {"status": "BLOCKED"})
    assert response.status_code == 403
