"""Replacing a contract's identifiers in stored text and JSON documents, without Django.

A stored document (an SDR as received, an outbox payload, an audit entry) may name the contract in
any spelling and may carry a credential value: a CDR's `cdr_token.uid` is the RFID card's UID. The
scrubber replaces every spelling of the contract ID with the pseudonym, and replaces a string
that is a credential value of the contract (recognised by the caller's test, the keyed lookup hash)
or the `uid`/`value` beside a matching `contract_id` (a token object) with the pseudonym too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# Keys of an object that name a token's value when a matching contract ID sits beside them.
TOKEN_VALUE_KEYS = ("uid", "value")
CONTRACT_KEYS = ("contract_id",)


def _never(_value: str) -> bool:
    return False


class Scrubber:
    """Replaces a contract's identifiers in strings and JSON values; `changed` counts replacements."""

    def __init__(
        self,
        *,
        spellings: Iterable[str],
        pseudonym: str,
        is_credential_value: Callable[[str], bool] = _never,
    ) -> None:
        forms = sorted({s.upper() for s in spellings if s}, key=len, reverse=True)
        if not forms:
            raise ValueError("a scrubber needs at least one spelling")
        # Longest first, so a spelling with its check digit is replaced whole, not its prefix.
        self._pattern = re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)
        self.pseudonym = pseudonym
        self._is_credential_value = is_credential_value
        self.changed = 0

    def names_contract(self, value: str) -> bool:
        return bool(self._pattern.search(value))

    def text(self, value: str) -> str:
        """The text with every spelling of the contract ID replaced; a credential value of the
        contract (the whole string) becomes the pseudonym."""
        if not value:
            return value
        replaced, count = self._pattern.subn(self.pseudonym, value)
        if count:
            self.changed += count
            return replaced
        if len(value) <= 256 and self._is_credential_value(value):
            self.changed += 1
            return self.pseudonym
        return value

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with the contract's identifiers replaced (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            token_of_contract = any(
                isinstance(value.get(key), str) and self.names_contract(value[key]) for key in CONTRACT_KEYS
            )
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.text(key) if isinstance(key, str) else key
                if token_of_contract and key in TOKEN_VALUE_KEYS and isinstance(item, str) and item:
                    self.changed += 1
                    out[new_key] = self.pseudonym
                else:
                    out[new_key] = self.json(item)
            return out
        return value
