"""Contract IDs as the erasure sees them: every spelling of one contract, and its keyed pseudonym.

Framework-free. A contract ID reaches the hub dashed or compact, with or without its check digit, in
any case (`NL-BMO-C12345678-9`, `nlbmoc12345678`); the erasure must find all of them. The pseudonym
that replaces them is a keyed hash of the canonical form: the same contract always gets the same
pseudonym (records stay countable and linkable for accounting), and without the key nobody can tell
which contract it was.
"""

from __future__ import annotations

import base64
import re

from clearinghouse.lib.crypto import keyed_hash
from clearinghouse.lib.identifiers import parse_contract_id

PSEUDONYM_PREFIX = "PSN-"
# The narrowest column that holds a contract ID is 18 characters (the canonical eMAID); a pseudonym
# fits wherever the contract ID was. 14 base32 characters carry 70 bits of the keyed hash.
PSEUDONYM_LENGTH = 18
_PSEUDONYM_RE = re.compile(r"PSN-[A-Z2-7]{14}")


def contract_spellings(contract_id: str) -> list[str]:
    """Every spelling of a contract ID, canonical first, in upper case: dashed, compact and the two
    half-dashed forms, each with and without the check digit. Raises IdentifierError."""
    parsed = parse_contract_id(contract_id)
    country, party, instance = parsed.country, parsed.party_id, parsed.instance
    digit = parsed.normalized()[-1]
    bases = [
        f"{country}-{party}-{instance}",
        f"{country}{party}{instance}",
        f"{country}-{party}{instance}",
        f"{country}{party}-{instance}",
    ]
    with_digit = [f"{bases[0]}-{digit}", f"{bases[1]}{digit}", f"{bases[2]}{digit}", f"{bases[3]}-{digit}"]
    with_digit += [f"{bases[0]}{digit}", f"{bases[1]}-{digit}", f"{bases[2]}-{digit}", f"{bases[3]}{digit}"]
    return list(dict.fromkeys([*with_digit, *bases]))


def search_terms(spellings: list[str]) -> list[str]:
    """The fewest substrings whose case-insensitive search finds every spelling: the forms without
    the check digit are prefixes of those with it."""
    upper = sorted({s.upper() for s in spellings}, key=lambda s: (len(s), s))
    terms: list[str] = []
    for spelling in upper:
        if not any(term in spelling for term in terms):
            terms.append(spelling)
    return terms


def pseudonym_for(key: str, contract_id: str) -> str:
    """The keyed pseudonym of a contract (any spelling): `PSN-` and 14 base32 characters."""
    canonical = parse_contract_id(contract_id).normalized()
    digest = bytes.fromhex(keyed_hash(key, f"contract-pseudonym:v1:{canonical}"))
    return PSEUDONYM_PREFIX + base64.b32encode(digest).decode()[: PSEUDONYM_LENGTH - len(PSEUDONYM_PREFIX)]


def is_pseudonym(value: str) -> bool:
    """True for a value the erasure or the retention wrote in place of a contract ID."""
    return bool(_PSEUDONYM_RE.fullmatch(value or ""))
