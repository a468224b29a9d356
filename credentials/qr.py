"""Dynamic QR codes, without Django: signed by the hub, short-lived, naming one credential.

A code reads ``I3Q1.<credential id>.<expiry, Unix seconds>.<nonce>.<MAC>``: upper-case letters,
digits and dots only, so it fits a QR code's dense alphanumeric mode. The MAC is HMAC-SHA256 with the
hub's key over everything before it, cut to 128 bits (ample for a code that lives a minute). The
nonce makes every code distinct; that each is used once is the database's to enforce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "I3Q1"
_CODE_RE = re.compile(r"I3Q1\.([1-9][0-9]{0,18})\.([0-9]{1,12})\.([0-9A-F]{32})\.([0-9A-F]{32})")
MAX_LENGTH = 120


class QrCodeError(ValueError):
    """A code that cannot be honoured; `reason` is INVALID_CODE or CODE_EXPIRED."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class QrCode:
    credential_id: int
    expires_at: int
    nonce: str


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32].upper()


def qr_code_make(*, key: bytes, credential_id: int, expires_at: int, nonce: str | None = None) -> str:
    """A fresh code for a credential, valid until `expires_at` (Unix seconds)."""
    nonce = nonce or secrets.token_hex(16).upper()
    body = f"{PREFIX}.{credential_id}.{expires_at}.{nonce}"
    return f"{body}.{_mac(key, body)}"


def qr_code_read(*, key: bytes, code: str, now: float) -> QrCode:
    """The credential a code names, after checking its MAC and then its expiry."""
    text = code.strip().upper() if isinstance(code, str) and len(code) <= MAX_LENGTH else ""
    match = _CODE_RE.fullmatch(text)
    if match is None:
        raise QrCodeError("INVALID_CODE")
    credential_id, expires_at, nonce, mac = match.groups()
    body = text[: -len(mac) - 1]
    if not hmac.compare_digest(_mac(key, body), mac):
        raise QrCodeError("INVALID_CODE")
    if int(expires_at) <= now:
        raise QrCodeError("CODE_EXPIRED")
    return QrCode(credential_id=int(credential_id), expires_at=int(expires_at), nonce=nonce)
