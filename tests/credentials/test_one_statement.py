"""The one-statement authorization (PostgreSQL) answers exactly as the decision table does.

credentials/services/authorization.py accepts at once, inside the statement that reads the facts,
the credentials that decide_known() accepts by the hub without a secret to check; every other row
is decided in Python. For every combination of the facts the table reads, the recorded decision
must be decide_known()'s.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from clearinghouse.lib.identifiers import mask
from credentials.decision import KnownCredential, Reason, decide_known
from credentials.inputs import AuthorizationRequest, Presented
from credentials.keys import lookup_hash
from credentials.models import AuthorizationRecord, Credential
from credentials.services import authorization

from .conftest import FINGERPRINT, agree, contract, set_endpoint

DAY = timedelta(days=1)
WINDOWS = [(None, None), (-DAY, None), (DAY, None), (None, -DAY), (None, DAY), (-DAY, DAY)]
SECRETS = ["none", "right", "wrong"]  # certificate fingerprint: none stored, presented right or wrong


@pytest.mark.django_db
@pytest.mark.parametrize("realtime", [True, False], ids=["realtime", "no-endpoint"])
@pytest.mark.parametrize("agreement", [True, False], ids=["agreement", "no-agreement"])
def test_every_combination_of_facts_is_decided_as_the_table_says(cso, csp, monkeypatch, realtime, agreement):
    monkeypatch.setattr(authorization, "_ask_after_commit", lambda record_id: None)
    if agreement:
        agree(cso, csp)
    if realtime:
        set_endpoint(csp.partner, "http://127.0.0.1:9/i3", roles=("CSP",))
    now = timezone.now()
    combos = list(
        itertools.product(["VALID", "BLOCKED", "EXPIRED"], WINDOWS, ["HUB", "CSP"],
                          ["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"], SECRETS)
    )  # fmt: skip
    credentials = []
    for index, (status, (starts, ends), issuer, whitelist, secret) in enumerate(combos):
        uid = f"04{index:012X}"
        credentials.append(
            Credential(
                csp=csp.partner, issuer=issuer, type="RFID", lookup_hash=lookup_hash("RFID", uid),
                value_hint=mask(uid), contract_id=contract(csp.partner.provider_id, f"C{index:08d}"),
                status=status, whitelist=whitelist,
                certificate_fingerprint="" if secret == "none" else FINGERPRINT,
                valid_from=now + starts if starts else None, valid_until=now + ends if ends else None,
            )
        )  # fmt: skip
    Credential.objects.bulk_create(credentials)
    accepted_at_once = 0
    for index, (credential, combo) in enumerate(zip(credentials, combos, strict=True)):
        secret = combo[-1]
        presented = Presented(
            type="RFID",
            lookup_value=f"04{index:012X}",
            hint="",
            certificate_fingerprint={"none": None, "right": FINGERPRINT, "wrong": "cd" * 32}[secret],
        )
        outcome = authorization.authorization_request(
            cso_id=cso.partner.pk,
            cso_operator_id=cso.partner.operator_id,
            request=AuthorizationRequest(
                evse_id=f"{cso.partner.operator_id}*E1*1", credential=presented, cso_session_id=""
            ),
        )
        expected = decide_known(
            KnownCredential(
                state=credential.status, valid_from=credential.valid_from, valid_until=credential.valid_until,
                hub_issued=credential.issuer == "HUB", whitelist=credential.whitelist,
                agreement_active=agreement, csp_realtime=realtime,
            ),
            now=timezone.now(),
            secret_failure=lambda secret=secret: Reason.INVALID_CERTIFICATE if secret == "wrong" else None,
        )  # fmt: skip
        record = AuthorizationRecord.objects.get(pk=outcome.authorization_id)
        got = (record.status, record.reason, record.decided_by)
        assert got == (expected.status, expected.reason, expected.decided_by or ""), combo
        assert (outcome.status, outcome.reason, outcome.authorization_reference) == (
            record.status, record.reason, record.authorization_reference,
        ), combo  # fmt: skip
        assert (record.credential_id, record.csp_id, record.contract_id, record.routed_to) == (
            credential.pk, csp.partner.pk, credential.contract_id, [csp.partner.pk],
        ), combo  # fmt: skip
        if record.status == "ACCEPTED":
            cap = now + timedelta(minutes=15, seconds=30)
            assert record.valid_until is not None and record.valid_until <= cap
            if credential.valid_until is not None:
                assert record.valid_until <= credential.valid_until
            assert outcome.valid_until == record.valid_until
            accepted_at_once += record.reason in (Reason.HUB_ISSUED, Reason.WHITELIST_ALWAYS)
    # The table accepts at once only with an agreement in force.
    assert (accepted_at_once > 0) is agreement
