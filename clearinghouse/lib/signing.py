"""I3 message source authentication: the HMAC-SHA256 request signature.

Standard library only, so partners can copy this file as it is to sign their requests to the hub
and to verify the hub's deliveries to them. The recipe (docs/api.md has a worked example):

    string_to_sign = METHOD + "\\n" + TARGET + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA256(body))
    X-I3-Signature = hex(HMAC-SHA256(secret, string_to_sign))

METHOD is upper case; TARGET is the path with its query string exactly as sent (no "?" when there is
no query); the body hash of a request without a body is that of the empty string.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

HEADER_TIMESTAMP = "X-I3-Timestamp"
HEADER_NONCE = "X-I3-Nonce"
HEADER_SIGNATURE = "X-I3-Signature"


class SignatureError(ValueError):
    """A signature, timestamp or nonce header that cannot be accepted."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of the raw body bytes (of b"" when there is no body)."""
    return hashlib.sha256(body or b"").hexdigest()


def string_to_sign(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), target, timestamp, nonce, body_digest(body)])


def sign(secret: str | bytes, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 signature of one request."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = string_to_sign(method, target, timestamp, nonce, body).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes, method: str, target: str, timestamp: str, nonce: str, body: bytes, signature: str
) -> bool:
    """Constant-time comparison of a received signature with the expected one."""
    expected = sign(secret, method, target, timestamp, nonce, body)
    return hmac.compare_digest(expected, (signature or "").strip().lower())


def target_of(url: str) -> str:
    """The TARGET of a full URL: path plus query string exactly as it will be sent."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def signed_headers(
    secret: str | bytes, method: str, url_or_target: str, body: bytes = b"", *, now: float | None = None
) -> dict[str, str]:
    """Headers to add to a request: timestamp (Unix seconds), a fresh nonce and the signature."""
    target = target_of(url_or_target) if "://" in url_or_target else url_or_target
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    return {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret, method, target, timestamp, nonce, body),
    }


def parse_timestamp(value: str) -> float:
    """Unix seconds from a header that holds either Unix seconds or an RFC 3339 date-time."""
    value = (value or "").strip()
    if not value:
        raise SignatureError("missing_timestamp", f"{HEADER_TIMESTAMP} header is required")
    if value.isdigit():
        return float(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SignatureError(
            "invalid_timestamp", f"{HEADER_TIMESTAMP} must be Unix seconds or RFC 3339"
        ) from None
    if parsed.tzinfo is None:
        raise SignatureError("invalid_timestamp", f"{HEADER_TIMESTAMP} must carry a UTC offset")
    return parsed.astimezone(UTC).timestamp()


def check_freshness(timestamp: str, *, max_skew: float, now: float | None = None) -> None:
    """Refuse a timestamp further than max_skew seconds from now, in either direction."""
    current = now if now is not None else time.time()
    if abs(current - parse_timestamp(timestamp)) > max_skew:
        raise SignatureError("stale_timestamp", f"{HEADER_TIMESTAMP} is more than {int(max_skew)} s off")


def check_nonce_format(nonce: str) -> None:
    if not nonce or not (8 <= len(nonce) <= 128) or not nonce.isascii() or not nonce.isprintable():
        raise SignatureError("invalid_nonce", f"{HEADER_NONCE} must be 8 to 128 printable ASCII characters")
