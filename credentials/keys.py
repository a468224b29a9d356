"""The hub's keys for credentials, derived from settings: the lookup hash, the dynamic QR key, and
the encryption of a presented credential while a CSP is being asked about it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.conf import settings

from clearinghouse.api.secrets import field_fernet
from clearinghouse.lib.crypto import decrypt, encrypt, keyed_hash


def lookup_hash(kind: str, value: str) -> str:
    """The keyed hash under which a credential of `kind` with normalised `value` is found."""
    return keyed_hash(settings.CREDENTIAL_PEPPER, f"{kind}:{value}")


@cache
def _qr_key(pepper: str) -> bytes:
    # A key of its own, so a dynamic QR MAC can never be confused with a lookup hash.
    return bytes.fromhex(keyed_hash(pepper, "dynamic-qr-signing-key:v1"))


def qr_key() -> bytes:
    return _qr_key(settings.CREDENTIAL_PEPPER)


def seal(data: dict[str, Any]) -> str:
    """Encrypt what a routed question must carry to the CSP (the presented value, a PIN)."""
    return encrypt(field_fernet(), json.dumps(data, separators=(",", ":")))


def unseal(token: str) -> dict[str, Any]:
    return json.loads(decrypt(field_fernet(), token)) if token else {}
