"""The framework-free parts (spellings, pseudonyms, the scrubber), the batching, the registry as the
apps fill it, and the API schema."""

from __future__ import annotations

from itertools import chain

import pytest
from django.apps import apps
from django.test import Client

from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id
from clearinghouse.models import AuditEntry
from credentials.privacy import registry
from credentials.privacy.batches import in_batches
from credentials.privacy.identity import (
    PSEUDONYM_LENGTH,
    contract_spellings,
    is_pseudonym,
    pseudonym_for,
    search_terms,
)
from credentials.privacy.scrub import Scrubber

CONTRACT = "NL-BMO-C12345678-5"


def test_every_spelling_of_a_contract() -> None:
    forms = contract_spellings("nlbmoc12345678")
    assert forms[0] == CONTRACT and "NLBMOC123456785" in forms and "NL-BMO-C12345678" in forms
    assert len(forms) == len(set(forms)) == 12
    assert {parse_contract_id(f).normalized() for f in forms} == {CONTRACT}
    assert search_terms(forms) == ["NLBMOC12345678", "NL-BMOC12345678", "NLBMO-C12345678", "NL-BMO-C12345678"]
    with pytest.raises(IdentifierError):
        contract_spellings("NL-BMO-C12345678-0")  # a wrong check digit is another typo, not a spelling


def test_pseudonyms_are_keyed_stable_and_fit_every_contract_column() -> None:
    first = pseudonym_for("key-1", CONTRACT)
    assert first == pseudonym_for("key-1", "nlbmoc12345678") == pseudonym_for("key-1", "NLBMO-C12345678-5")
    assert first != pseudonym_for("key-2", CONTRACT) != pseudonym_for("key-1", "NL-BMO-C12345679")
    assert len(first) == PSEUDONYM_LENGTH and first.startswith("PSN-") and is_pseudonym(first)
    assert not is_pseudonym(CONTRACT) and not is_pseudonym("")
    with pytest.raises(IdentifierError):
        parse_contract_id(first)  # a pseudonym is never taken for a contract
    columns = [
        (model._meta.label, field.name, field.max_length)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.name in ("contract_id", "pseudonym")
    ]
    assert len(columns) >= 8
    assert all(length >= PSEUDONYM_LENGTH for _, _, length in columns), columns


def test_the_scrubber_replaces_every_spelling_keys_and_token_values() -> None:
    scrubber = Scrubber(
        spellings=contract_spellings(CONTRACT),
        pseudonym="PSN-AAAAAAAAAAAAAA",
        is_credential_value=lambda value: value == "jane",
    )
    assert scrubber.text(f"see {CONTRACT}, nlbmoc123456785 and NL-BMO-C12345678!") == (
        "see PSN-AAAAAAAAAAAAAA, PSN-AAAAAAAAAAAAAA and PSN-AAAAAAAAAAAAAA!"
    )
    document = {
        "cdr_token": {"uid": "04A1B2C3", "type": "RFID", "contract_id": "nlbmoc12345678"},
        "other": {"uid": "04FFFFFF", "contract_id": "NL-BMO-C87654321"},
        "by_contract": {CONTRACT: 1},
        "user": "jane",
        "amounts": [1, 2.5, None, True],
    }
    scrubbed = scrubber.json(document)
    assert scrubbed == {
        "cdr_token": {"uid": "PSN-AAAAAAAAAAAAAA", "type": "RFID", "contract_id": "PSN-AAAAAAAAAAAAAA"},
        "other": {"uid": "04FFFFFF", "contract_id": "NL-BMO-C87654321"},
        "by_contract": {"PSN-AAAAAAAAAAAAAA": 1},
        "user": "PSN-AAAAAAAAAAAAAA",
        "amounts": [1, 2.5, None, True],
    }
    assert document["cdr_token"]["uid"] == "04A1B2C3"  # a copy: the original is not changed
    changed = scrubber.changed
    assert scrubber.json(scrubbed) == scrubbed and scrubber.changed == changed  # idempotent
    with pytest.raises(ValueError):
        Scrubber(spellings=[], pseudonym="x")


@pytest.mark.django_db
def test_batches_are_small_ordered_and_see_the_condition_again() -> None:
    for n in range(5):
        AuditEntry.objects.create(channel="SYSTEM", action=f"a{n}")
    seen: list[list[int]] = []

    def apply(ids: list[int]) -> int:
        seen.append(ids)
        return len(ids)

    assert in_batches(AuditEntry.objects.all(), apply, batch_size=2) == 5
    assert [len(batch) for batch in seen] == [2, 2, 1]
    assert list(chain.from_iterable(seen)) == sorted(AuditEntry.objects.values_list("pk", flat=True))


def test_every_app_registers_its_steps() -> None:
    assert {r.name for r in registry.erasure_steps()} >= {
        "credentials.authorizations", "credentials.personal_data", "credentials.credentials",
        "credentials.issued_contracts", "clearinghouse.audit_entries", "clearinghouse.idempotency_answers",
        "admin.log_entries", "routing.outbox_messages", "charging_sessions.sessions",
        "charging_sessions.commands", "charging_sessions.reservations", "settlement.sdrs",
    }  # fmt: skip
    # The credentials app's own steps, which delete the credentials, run last.
    assert [r.name for r in registry.erasure_steps()][-4:] == [
        "credentials.authorizations", "credentials.personal_data", "credentials.credentials",
        "credentials.issued_contracts",
    ]  # fmt: skip
    assert {r.name for r in registry.erasure_blockers()} >= {
        "charging_sessions.open_sessions", "charging_sessions.open_commands",
        "charging_sessions.open_reservations",
    }  # fmt: skip
    assert [r.name for r in registry.export_providers()] == [
        "personal_data", "credentials", "issued_contracts", "authorizations", "sessions", "commands",
        "reservations", "sdrs", "erasures", "exports",
    ]  # fmt: skip
    assert {r.name for r in registry.retention_steps()} >= {
        "credentials.authorizations", "routing.delivery_payloads", "clearinghouse.idempotency_answers",
        "clearinghouse.audit_log", "charging_sessions.sessions", "settlement.sdr_personal_references",
        "settlement.sdrs_past_accounting",
    }  # fmt: skip
    assert registry.retention_steps()[-1].name == "clearinghouse.audit_log"
    with pytest.raises(ValueError):
        registry.erasure_step_register("bad name!", lambda ids, p: 0)


@pytest.mark.django_db
def test_the_schema_describes_the_privacy_endpoints() -> None:
    response = Client().get("/api/i3/v1/schema/", HTTP_ACCEPT="application/json")
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/i3/v1/privacy/erasures"])
    assert "get" in paths["/api/i3/v1/privacy/erasures/{id}"]
    assert "get" in paths["/api/i3/v1/privacy/export"]
