"""Credential values, PINs and passwords never reach the logs, whatever the path."""

from __future__ import annotations

import logging

import pytest

from .conftest import PASSWORD, PIN, UID, accept, contract, make_credential, set_endpoint

SECRETS = (UID, PIN, PASSWORD, "jane.secret", "Jane Doe", "04C0FFEE")


def _logged(caplog) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.mark.django_db(transaction=True)
def test_upload_and_authorization_log_no_secrets(cso, csp, agreed, partner_server, caplog) -> None:
    server = partner_server()
    server.secret = csp.secret
    server.respond = accept()
    set_endpoint(csp.partner, server.url)
    caplog.set_level(logging.DEBUG)
    items = [
        {"type": "RFID", "value": UID, "contract_id": "NL-BMO-C12345678", "whitelist": "ALWAYS",
         "driver": {"name": "Jane Doe"}},
        {"type": "QR_STATIC", "contract_id": "NL-BMO-C12345678", "pin": PIN},
        {"type": "APP_USER", "value": "jane.secret", "contract_id": "NL-BMO-C12345678", "password": PASSWORD},
        {"type": "RFID", "value": "04C0FFEE", "contract_id": "NL-XYZ-C12345678"},  # rejected
        {"type": "RFID", "value": "not-hex", "contract_id": "NL-BMO-C12345678", "pin": PIN},  # rejected
    ]  # fmt: skip
    assert csp.client.post("/credentials/", items).status_code == 200
    evse = "DE*ACH*E1*1"
    for credential in (
        {"type": "RFID", "value": UID},
        {"type": "QR_STATIC", "value": contract(), "pin": "000000"},
        {"type": "QR_STATIC", "value": contract(), "pin": PIN},
        {"type": "APP_USER", "value": "jane.secret", "password": PASSWORD},
        {"type": "APP_USER", "value": "jane.secret", "password": "wrong " + PASSWORD},
        {"type": "RFID", "value": "04C0FFEE"},  # unknown: broadcast to the live CSP
        {"type": "RFID", "value": "zz" + UID},  # malformed
    ):
        cso.client.post(
            "/authorizations/", {"evse_id": evse, "credential": credential}, headers={"Prefer": "wait=5"}
        )
    cso.client.post("/authorizations/", {"evse_id": "XX", "credential": {"type": "RFID", "value": UID}})
    make_credential(csp, value="04AAAAAA", whitelist="ALLOWED")
    assert caplog.records, "the test must see the logs it checks"
    logged = _logged(caplog)
    for secret in SECRETS:
        assert secret not in logged, secret
    assert server.received  # the routed question did happen (and its value travelled signed only)
