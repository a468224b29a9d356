"""The worked examples in docs/partner-endpoints.md are what the hub computes."""

from __future__ import annotations

import json
from pathlib import Path

from clearinghouse.lib import signing
from clearinghouse.routing.client import encode

DOC = (Path(__file__).resolve().parents[2] / "docs" / "partner-endpoints.md").read_text()


def test_signing_example() -> None:
    body = {
        "authorization_id": 1842,
        "cso": {"operator_id": "DE*ACH", "name": "Alpha Charge"},
        "evse_id": "DE*ACH*E1234*1",
        "credential": {"type": "RFID", "value": "04A1B2C3D4E5F6", "contract_id": "NL-BMO-C12345678-5"},
        "requested_at": "2026-03-01T12:00:00.000000Z",
        "answer_before": "2026-03-01T12:00:05.000000Z",
    }
    raw = encode(body)  # the bytes the hub's client sends
    ts, nonce, secret = "1772366400", "9f1c2b7a4e6d8c0f1a2b3c4d5e6f7a8b", "cspsecret-0123456789abcdef"
    assert f"body              = {raw.decode()}" in DOC
    assert signing.body_digest(raw) in DOC
    assert json.dumps(signing.string_to_sign("POST", "/i3/authorizations", ts, nonce, raw)) in DOC
    assert f"X-I3-Signature    = {signing.sign(secret, 'POST', '/i3/authorizations', ts, nonce, raw)}" in DOC
