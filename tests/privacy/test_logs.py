"""Logs never carry a credential value, a PIN, a password, a token or an HMAC secret: the flows of
login, credential upload and issuance, authorization with every credential type and a routed
authorization, captured at DEBUG in the records (caplog) and in what the configured handlers of
the root logger write."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _pytest.logging import LogCaptureHandler

from credentials.inputs import parse_issue_request
from credentials.privacy.logfilter import SecretRedactionFilter, redact
from credentials.services import credential_issue

from .conftest import FINGERPRINT, PASSWORD, PIN, UID, USERNAME, World, authorize, upload_credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def handler_output() -> Iterator[io.StringIO]:
    """What the root logger's configured handlers write (their formatters and filters applied)."""
    stream = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, LogCaptureHandler):
            swapped.append((handler, handler.setStream(stream)))
    assert swapped, "the settings configure a console handler on the root logger"
    yield stream
    for handler, previous in swapped:
        handler.setStream(previous)


def test_no_secret_reaches_the_logs(
    world: World, caplog: pytest.LogCaptureFixture, handler_output: io.StringIO
) -> None:
    caplog.set_level(logging.DEBUG)
    # Login (and a failed one), then a refresh: passwords and tokens.
    for client in (world.cso.client, world.csp.client):
        client.login()
    wrong = {"username": world.cso.username, "password": "wrong-" + PIN}
    bad = world.cso.client.request("POST", "/auth/token", wrong, auth=False)
    assert bad.status_code == 401
    refreshed = world.csp.client.request(
        "POST", "/auth/token/refresh", {"refresh": world.csp.client.refresh}, auth=False
    )
    assert refreshed.status_code == 200, refreshed.content
    # Upload with PINs, passwords and personal data; a rejected item that carries a PIN.
    upload_credentials(world)
    rejected = world.csp.client.post(
        "/credentials/", [{"type": "RFID", "value": "zz" + UID, "contract_id": world.contract, "pin": PIN}]
    )
    assert rejected.json()["results"][0]["status"] == "rejected"
    # A dynamic QR credential the hub issued, and a code of it.
    issued = credential_issue(
        csp_id=world.csp.partner.pk, request=parse_issue_request({"type": "QR_DYNAMIC"}), by_staff=True
    )
    code = world.csp.client.get(f"/credentials/{issued.credential.pk}/dynamic-qr").json()["code"]
    # Authorization with every credential type, right and wrong secrets, and a routed question.
    for credential in (
        {"type": "RFID", "value": UID},
        {"type": "QR_STATIC", "value": world.contract, "pin": PIN},
        {"type": "QR_STATIC", "value": world.contract, "pin": "000000"},
        {"type": "APP_USER", "value": USERNAME, "password": PASSWORD},
        {"type": "APP_USER", "value": USERNAME, "password": "wrong " + PASSWORD},
        {"type": "PNC", "value": world.contract, "certificate_fingerprint": FINGERPRINT},
        {"type": "QR_DYNAMIC", "value": code},
        {"type": "QR_DYNAMIC", "value": code},  # used twice
        {"type": "REMOTE", "value": world.contract},
        {"type": "RFID", "value": "04DEADBEEF0001"},  # unknown: asked of the live CSP
    ):
        authorize(world, credential)
    assert world.server.received, "a question was routed to the CSP's endpoint"
    malformed = world.cso.client.post(
        "/authorizations/", {"evse_id": "DE*ACH*E100*1", "credential": {"type": "RFID", "value": "zz" + UID}}
    )
    assert malformed.status_code == 400

    secrets = [
        UID, PIN, PASSWORD, USERNAME, code, world.contract, "04DEADBEEF0001",
        world.cso.password, world.csp.password, world.cso.secret, world.csp.secret, world.other_csp.secret,
        world.cso.client.access, world.csp.client.access, world.csp.client.refresh,
        refreshed.json()["access"],
    ]  # fmt: skip
    records = []
    for record in caplog.records:
        records.append(record.getMessage())
        records.append(repr(record.args))
        if record.exc_info:
            records.append(logging.Formatter().formatException(record.exc_info))
    logged = "\n".join(records)
    written = handler_output.getvalue()
    assert caplog.records and written, "the test must see the logs it checks"
    for secret in secrets:
        assert secret and secret not in logged, secret
        assert secret not in written, secret


def test_the_filter_redacts_what_a_careless_log_line_would_show(handler_output: io.StringIO) -> None:
    logger = logging.getLogger("tests.privacy.careless")
    logger.setLevel(logging.DEBUG)
    logger.warning("login body %s", {"username": "u", "password": PASSWORD, "pin": PIN})
    logger.warning("headers Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
    logger.warning("credential {'type': 'RFID', 'value': '%s'} and secret=%s", UID, "s3cr3t-hmac-key")
    try:
        raise ValueError(f"token={PIN}")
    except ValueError:
        logger.exception("failed")
    written = handler_output.getvalue()
    for secret in (PASSWORD, PIN, UID, "s3cr3t-hmac-key", "eyJzdWIiOiIxIn0"):
        assert secret not in written, secret
    assert written.count("[redacted]") >= 5
    assert "ValueError" in written  # the traceback is still there, without the secret


def test_redact_leaves_ordinary_lines_alone() -> None:
    for line in (
        "authorization 5: CSP 3 did not answer (CSP_TIMEOUT)",
        'HTTP Request: POST http://127.0.0.1:8000/i3/authorizations "HTTP/1.0 200 OK"',
        "token expired",
        "erasure 4 failed; it stays scheduled",
    ):
        assert redact(line) == line
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pin=%s", ("1234",), None)
    assert SecretRedactionFilter().filter(record) is True
    assert record.getMessage() == "pin=[redacted]"
