"""A logging filter that keeps secrets out of every log line (installed on every handler by the
settings): PINs, passwords, tokens, HMAC secrets and signatures, and credential values written as
`"value"`/`"uid"` of a JSON object.

The code does not log those in the first place (tests/privacy/test_logs.py checks it); this filter
is the second line, for a library or a future log call that prints a request body or headers.
Framework-free: it is loaded while logging is configured, before the apps.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# key=value, key: value, "key": "value" for keys that name a secret.
_SECRET_KEYS = (
    r"password|passwd|pin|secret|hmac_secret|client_secret|token|access|refresh|access_token|"
    r"refresh_token|signature|x-i3-signature|api_key|pending_credential|authorization"
)
_KEY = rf"""["']?\b(?:{_SECRET_KEYS})\b["']?\s*[:=]\s*"""
_QUOTED = re.compile(rf"""(?P<key>{_KEY})(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.IGNORECASE)
_UNQUOTED = re.compile(rf"""(?P<key>{_KEY})(?!["'])(?:Bearer\s+)?[^"',\s}}\]]+""", re.IGNORECASE)
# A credential's value in a JSON-like text: "value": "04A1B2C3", 'uid': '…'.
_CREDENTIAL_VALUE = re.compile(
    r"""(?P<key>["'](?:value|uid)["']\s*:\s*)(?P<quote>["'])(?P<value>.*?)(?P=quote)"""
)
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# JSON Web Tokens wherever they appear.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """The text with every secret it shows replaced by "[redacted]"."""
    text = _QUOTED.sub(lambda m: f"{m['key']}{m['quote']}{REDACTED}{m['quote']}", text)
    text = _UNQUOTED.sub(lambda m: f"{m['key']}{REDACTED}", text)
    text = _CREDENTIAL_VALUE.sub(lambda m: f"{m['key']}{m['quote']}{REDACTED}{m['quote']}", text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    return _JWT.sub(REDACTED, text)


class SecretRedactionFilter(logging.Filter):
    """Rewrites a record whose message or traceback shows a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the formatter's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = redact(text)
            if cleaned != text:
                # Formatters print exc_text when there is no exc_info to format again.
                record.exc_text, record.exc_info = cleaned, None
        return True
