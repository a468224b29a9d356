"""Parsing, validation and normalisation of e-mobility identifiers.

Roaming partners send the same identifier in several spellings (``DE*ABC*E1``, ``deabce1``,
``DE-ABC-C12345678-9``, ``DEABCC12345678``), and a clearing house that compares them as raw
strings double-counts sessions and mismatches CDRs to contracts. Every identifier that crosses
the hub's boundary is therefore reduced to one canonical form here, with no framework code, so
the same rules apply in API serializers, importers, Celery tasks and tests.

Grammars follow ISO 15118-2 Annex H / eMI3 (OICP's EvseID and EvcoID regexes say the same, a
little more loosely):

* EVSE ID: ``<country 2 ALPHA> [*] <operator 3 ALNUM> [*] E <1..30 of ALNUM or '*', the first
  ALNUM>``; canonical ``DE*ABC*E123456*1``. The old DIN SPEC 91286 form (``+49*810*000*438``)
  is rejected with a dedicated message rather than guessed at.
* eMAID / contract ID: ``<country 2 ALPHA> [-] <provider 3 ALNUM> [-] <instance 9 ALNUM>
  [[-] <check digit ALNUM>]``; canonical ``DE-ABC-C12345678-X``. The eMI3 "C" prefix is just
  the first of the nine instance characters.

Error messages never echo the rejected value: they end up in logs and API responses, and
contract IDs and RFID UIDs are authorisation credentials / personal data. Callers that need the
value for debugging have it already (and can use :func:`mask`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from .codes import COUNTRY_ALPHA2

__all__ = [
    "ContractId", "EvseId", "IdentifierError", "contract_check_digit", "make_contract_id", "mask",
    "normalize_country_code", "normalize_party_id", "normalize_rfid_uid", "operator_id",
    "parse_contract_id", "parse_evse_id", "parse_operator_id", "parse_provider_id", "provider_id",
]  # fmt: skip


class IdentifierError(ValueError):
    """An identifier failed validation.

    ``code`` is a short stable machine string (``"invalid_evse_id"``, ``"invalid_check_digit"``,
    ...) for API error payloads and tests; ``message`` is for humans and may be reworded.
    Subclassing ValueError keeps generic ``except ValueError`` handlers (and DRF/Django field
    validation that converts ValueError) working.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str]]:
        # Exceptions are pickled by re-calling the class with self.args; ours has two
        # arguments, so spell them out (Celery result backends pickle task exceptions).
        return (type(self), (self.code, self.message))


# --- shared helpers -----------------------------------------------------------------------------

_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")
_PARTY_RE: Final = re.compile(r"[A-Z0-9]{3}")
_OPERATOR_RE: Final = re.compile(r"([A-Z]{2})\*?([A-Z0-9]{3})")
_PROVIDER_RE: Final = re.compile(r"([A-Z]{2})-?([A-Z0-9]{3})")
_EVSE_RE: Final = re.compile(r"([A-Z]{2})\*?([A-Z0-9]{3})\*?(E[A-Z0-9][A-Z0-9*]{0,29})")
_EVSE_SUFFIX_RE: Final = re.compile(r"E[A-Z0-9][A-Z0-9*]{0,29}")
_EVSE_LOOSE_RE: Final = re.compile(r"[A-Z]{2}\*?[A-Z0-9]{3}\*?(.*)")
_DIN_EVSE_RE: Final = re.compile(r"\+?[0-9]{1,3}\*[0-9]{3,6}\*[0-9*]{1,32}")
_CONTRACT_RE: Final = re.compile(r"([A-Z]{2})-?([A-Z0-9]{3})-?([A-Z0-9]{9})(?:-?([A-Z0-9]))?")
_DIN_CONTRACT_RE: Final = re.compile(r"[A-Z]{2}([-*]?)[A-Z0-9]{3}\1[A-Z0-9]{6}\1[A-Z0-9]")
_INSTANCE_RE: Final = re.compile(r"[A-Z0-9]{9}")
_CHECK_DIGIT_RE: Final = re.compile(r"[A-Z0-9]")
_HEX_RE: Final = re.compile(r"[0-9A-F]+")
_RFID_SEPARATORS_RE: Final = re.compile(r"[:\- ]")
_RFID_HEX_LENGTHS: Final = (8, 14, 20)  # 4, 7 and 10 byte UIDs (ISO/IEC 14443-3 single/double/triple)


def _prepare(value: object, code: str, what: str) -> str:
    """Type-check, strip surrounding whitespace, require ASCII, upper-case.

    ASCII is checked *before* upper-casing because ``str.upper`` is not length- or
    script-preserving: ``"ß".upper() == "SS"`` and ``"ı".upper() == "I"`` would otherwise let
    non-ASCII input turn into a valid-looking identifier.
    """
    if not isinstance(value, str):
        raise IdentifierError(code, f"{what} must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text.isascii():
        raise IdentifierError(code, f"{what} may only contain ASCII letters, digits and separators")
    return text.upper()


def _country(value: object, code: str, what: str = "country code") -> str:
    text = _prepare(value, code, what)
    if not _COUNTRY_RE.fullmatch(text):
        raise IdentifierError(code, f"{what} must be two letters (ISO 3166-1 alpha-2)")
    if text not in COUNTRY_ALPHA2:
        raise IdentifierError(code, f"{what} is not an officially assigned ISO 3166-1 alpha-2 code")
    return text


def _party(value: object, code: str, what: str = "party ID") -> str:
    text = _prepare(value, code, what)
    if not _PARTY_RE.fullmatch(text):
        raise IdentifierError(code, f"{what} must be exactly 3 letters or digits")
    return text


def _instance(value: object, code: str) -> str:
    text = _prepare(value, code, "eMA instance")
    if not _INSTANCE_RE.fullmatch(text):
        raise IdentifierError(code, "eMA instance must be exactly 9 letters or digits")
    return text


# --- countries, parties, operator and provider IDs ----------------------------------------------


def normalize_country_code(value: str) -> str:
    """Return the upper-case ISO 3166-1 alpha-2 code; it must be officially assigned."""
    return _country(value, "invalid_country_code")


def normalize_party_id(value: str) -> str:
    """Return the upper-case 3-character party ID (OCPI party_id, ISO 15118 operator/provider)."""
    return _party(value, "invalid_party_id")


def operator_id(country: str, party_id: str) -> str:
    """Canonical EVSE operator ID, ``"DE*ABC"`` (eMI3 writes the operator with ``*``)."""
    return f"{normalize_country_code(country)}*{normalize_party_id(party_id)}"


def provider_id(country: str, party_id: str) -> str:
    """Canonical e-mobility provider ID, ``"DE-ABC"`` (eMI3 writes the provider with ``-``)."""
    return f"{normalize_country_code(country)}-{normalize_party_id(party_id)}"


def parse_operator_id(value: str) -> tuple[str, str]:
    """Split ``"DE*ABC"`` or ``"DEABC"`` (any case) into ``("DE", "ABC")``."""
    code = "invalid_operator_id"
    text = _prepare(value, code, "operator ID")
    match = _OPERATOR_RE.fullmatch(text)
    if match is None:
        hint = " (a '-' separator is the provider ID form)" if "-" in text else ""
        raise IdentifierError(code, f"operator ID must look like DE*ABC or DEABC{hint}")
    return _country(match[1], code, "operator ID country code"), match[2]


def parse_provider_id(value: str) -> tuple[str, str]:
    """Split ``"DE-ABC"`` or ``"DEABC"`` (any case) into ``("DE", "ABC")``."""
    code = "invalid_provider_id"
    text = _prepare(value, code, "provider ID")
    match = _PROVIDER_RE.fullmatch(text)
    if match is None:
        hint = " (a '*' separator is the operator ID form)" if "*" in text else ""
        raise IdentifierError(code, f"provider ID must look like DE-ABC or DEABC{hint}")
    return _country(match[1], code, "provider ID country code"), match[2]


# --- EVSE IDs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvseId:
    """An ISO 15118 / eMI3 EVSE ID, always held in canonical (upper-case) form.

    ``suffix`` is everything after the operator *including* the ID type letter, e.g.
    ``"E123456*1"``, so that ``str()`` is simply the three parts joined by ``*``. Construction
    validates and upper-cases, so an ``EvseId`` instance is valid by existence; equal IDs in
    different spellings compare equal once parsed.
    """

    country: str
    party_id: str
    suffix: str

    def __post_init__(self) -> None:
        code = "invalid_evse_id"
        country = _country(self.country, code, "EVSE ID country code")
        party = _party(self.party_id, code, "EVSE ID operator party ID")
        suffix = _prepare(self.suffix, code, "EVSE ID suffix")
        if not _EVSE_SUFFIX_RE.fullmatch(suffix):
            raise IdentifierError(
                code,
                "EVSE ID suffix must be 'E' followed by 1 to 30 letters, digits or '*', "
                "the first being a letter or digit",
            )
        object.__setattr__(self, "country", country)
        object.__setattr__(self, "party_id", party)
        object.__setattr__(self, "suffix", suffix)

    @property
    def operator_id(self) -> str:
        """The operator part in canonical form, ``"DE*ABC"``."""
        return f"{self.country}*{self.party_id}"

    def __str__(self) -> str:
        return f"{self.country}*{self.party_id}*{self.suffix}"


def parse_evse_id(value: str) -> EvseId:
    """Parse an EVSE ID with or without the two optional ``*`` separators, in any case."""
    code = "invalid_evse_id"
    text = _prepare(value, code, "EVSE ID")
    match = _EVSE_RE.fullmatch(text)
    if match is None:
        if _DIN_EVSE_RE.fullmatch(text):
            raise IdentifierError(
                code,
                "this is an old DIN SPEC 91286 EVSE ID (phone country code and numeric operator, "
                "like +49*810*000*438); only the ISO 15118 / eMI3 form like DE*ABC*E123456*1 "
                "is accepted",
            )
        loose = _EVSE_LOOSE_RE.fullmatch(text)
        if loose is not None and not loose[1].startswith("E"):
            detail = "the part after the operator must start with the ID type 'E'"
        elif loose is not None and len(loose[1]) > 31:
            detail = "the part after 'E' is longer than 30 characters"
        else:
            detail = "it must look like DE*ABC*E123456*1 (the first two '*' are optional)"
        raise IdentifierError(code, f"invalid EVSE ID: {detail}")
    country = _country(match[1], code, "EVSE ID country code")
    return EvseId(country, match[2], match[3])


# --- eMAID check digit --------------------------------------------------------------------------
#
# The check digit of ISO 15118-1/-2 Annex H and eMI3 contract IDs, as specified in the
# "Check Digit Calculation for Contract-IDs" explanation published with the OCHP ID validator
# (E-Mobility-IDs_EVCOID_Check-Digit-Calculation_Explanation.pdf) and implemented identically by
# the widely used mobilityid libraries (ShellRechargeSolutionsEU/mobilityid and its ports).
#
# Each of the 36 characters c (value v = index in 0-9A-Z) is split into q = v // 9 and
# r = v % 9, written as 2-vectors q = (q1, q2) over Z/2 and r = (r1, r2) over Z/3. Position
# i = 1..15 weighs them with the matrix powers P1^i (over Z/2) and P2^i (over Z/3):
#     P1 = [[0, 1], [1, 1]]      P2 = [[0, 1], [1, 2]]
# The check character (position 15) is the unique c that makes both sums
#     sum_i q_i . P1^i = 0 (mod 2)   and   sum_i r_i . P2^i = 0 (mod 3)
# vanish. Every P^i is invertible, so any single-character error changes a sum; I - P is
# invertible too, so any adjacent transposition does as well (both properties are tested).

_Vec = tuple[int, int]
_Mat = tuple[_Vec, _Vec]

_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE: Final = {char: index for index, char in enumerate(_ALPHABET)}
_P1: Final[_Mat] = ((0, 1), (1, 1))
_P2: Final[_Mat] = ((0, 1), (1, 2))


def _vec_mat(v: _Vec, m: _Mat, mod: int) -> _Vec:
    """Row vector times matrix, reduced mod ``mod``."""
    return ((v[0] * m[0][0] + v[1] * m[1][0]) % mod, (v[0] * m[0][1] + v[1] * m[1][1]) % mod)


def _powers(m: _Mat, count: int, mod: int) -> tuple[_Mat, ...]:
    """``(m^1, m^2, ..., m^count)`` mod ``mod``."""
    result = [m]
    while len(result) < count:
        prev = result[-1]
        result.append((_vec_mat(prev[0], m, mod), _vec_mat(prev[1], m, mod)))
    return tuple(result)


_P1_POWERS: Final = _powers(_P1, 15, 2)  # _P1_POWERS[k] is P1^(k+1)
_P2_POWERS: Final = _powers(_P2, 15, 3)


def _contribution(char: str, index: int) -> tuple[_Vec, _Vec]:
    """The (Z/2, Z/3) terms that ``char`` adds to the check sums at 0-based ``index``."""
    q, r = divmod(_VALUE[char], 9)
    return _vec_mat(divmod(q, 2), _P1_POWERS[index], 2), _vec_mat(divmod(r, 3), _P2_POWERS[index], 3)


# Which character at position 15 contributes a given pair of terms. A bijection, because P1^15
# and P2^15 are invertible: 4 values of q times 9 values of r, 36 characters.
_CHECK_CHAR_BY_CONTRIBUTION: Final = {_contribution(char, 14): char for char in _ALPHABET}


# Every character's terms at every position, looked up rather than multiplied out per call.
_TERMS: Final = tuple(
    {char: (q[0], q[1], r[0], r[1]) for char in _ALPHABET for q, r in [_contribution(char, index)]}
    for index in range(15)
)


@lru_cache(maxsize=65_536)
def _check_char(body: str) -> str:
    """Check character for the 14 upper-case characters country + provider + instance."""
    q0 = q1 = r0 = r1 = 0
    for index, char in enumerate(body):
        a, b, c, d = _TERMS[index][char]
        q0 += a
        q1 += b
        r0 += c
        r1 += d
    needed = ((-q0 % 2, -q1 % 2), (-r0 % 3, -r1 % 3))
    return _CHECK_CHAR_BY_CONTRIBUTION[needed]


def contract_check_digit(country: str, party_id: str, instance: str) -> str:
    """The eMAID check character (``0-9`` or ``A-Z``) for the given parts, any case."""
    body = normalize_country_code(country) + normalize_party_id(party_id)
    return _check_char(body + _instance(instance, "invalid_contract_id"))


# --- contract IDs (eMAID / EVCO ID) -------------------------------------------------------------


@dataclass(frozen=True)
class ContractId:
    """An ISO 15118 / eMI3 contract ID (eMAID), held in upper case.

    ``check_digit`` records whether the source carried one (``None`` if not); when present it
    has been verified. The canonical forms always carry the check digit, computed if needed.
    Dataclass equality compares the fields, so ``DEABCC12345678`` and ``DE-ABC-C12345678-X``
    are different objects: compare ``normalized()`` to ask "same contract?".
    """

    country: str
    party_id: str
    instance: str
    check_digit: str | None = None

    def __post_init__(self) -> None:
        code = "invalid_contract_id"
        country = _country(self.country, code, "contract ID country code")
        party = _party(self.party_id, code, "contract ID provider party ID")
        instance = _instance(self.instance, code)
        object.__setattr__(self, "country", country)
        object.__setattr__(self, "party_id", party)
        object.__setattr__(self, "instance", instance)
        if self.check_digit is None:
            return
        digit = _prepare(self.check_digit, code, "check digit")
        if not _CHECK_DIGIT_RE.fullmatch(digit):
            raise IdentifierError(code, "check digit must be a single letter or digit")
        # The expected digit is deliberately not in the message: "fixing" the check digit to
        # make an ID pass would hide the typo elsewhere in the ID that it just detected.
        if digit != _check_char(country + party + instance):
            raise IdentifierError(
                "invalid_check_digit",
                "contract ID check digit does not match the rest of the ID (likely a typo)",
            )
        object.__setattr__(self, "check_digit", digit)

    @property
    def provider_id(self) -> str:
        """The provider part in canonical form, ``"DE-ABC"``."""
        return f"{self.country}-{self.party_id}"

    def _digit(self) -> str:
        return self.check_digit or _check_char(self.country + self.party_id + self.instance)

    def normalized(self) -> str:
        """Canonical dashed form with check digit: ``"DE-ABC-C12345678-X"``."""
        return f"{self.country}-{self.party_id}-{self.instance}-{self._digit()}"

    def compact(self) -> str:
        """Compact form with check digit and no separators: ``"DEABCC12345678X"``."""
        return f"{self.country}{self.party_id}{self.instance}{self._digit()}"

    def __str__(self) -> str:
        return self.normalized()


def parse_contract_id(value: str) -> ContractId:
    """Parse an eMAID with or without dashes and check digit, in any case.

    A check digit that is present is always verified (``IdentifierError`` with code
    ``"invalid_check_digit"`` when wrong); an absent one is computed by the canonical forms.
    """
    code = "invalid_contract_id"
    text = _prepare(value, code, "contract ID")
    match = _CONTRACT_RE.fullmatch(text)
    if match is None:
        if _DIN_CONTRACT_RE.fullmatch(text):
            detail = "the DIN SPEC 91286 form (6-character instance) is not supported"
        else:
            detail = "it must look like DE-ABC-C12345678-X or DEABCC12345678X (dashes, check digit optional)"
        raise IdentifierError(code, f"invalid contract ID: {detail}")
    return ContractId(match[1], match[2], match[3], match[4])


def make_contract_id(country: str, party_id: str, instance: str) -> str:
    """Build the canonical ``"DE-ABC-C12345678-X"`` form, computing the check digit."""
    country = normalize_country_code(country)
    party_id = normalize_party_id(party_id)
    instance = _instance(instance, "invalid_contract_id")
    return f"{country}-{party_id}-{instance}-{_check_char(country + party_id + instance)}"


# --- RFID UIDs and masking ----------------------------------------------------------------------


def normalize_rfid_uid(value: str) -> str:
    """Return an RFID card UID as upper-case hex without separators.

    Only 4, 7 or 10 byte UIDs (8, 14 or 20 hex digits) exist in ISO/IEC 14443; anything else is
    a typo or a different kind of token, and must not silently become a different whitelist
    key. ``:``, ``-`` and space may separate groups of whole bytes (``04:A2:...``, ``04A2 3B1C``).
    """
    code = "invalid_rfid_uid"
    text = _prepare(value, code, "RFID UID")
    groups = _RFID_SEPARATORS_RE.split(text)
    for group in groups:
        if not group or len(group) % 2 or not _HEX_RE.fullmatch(group):
            raise IdentifierError(
                code, "RFID UID must be hex digits, optionally separated by ':', '-' or ' ' between bytes"
            )
    uid = "".join(groups)
    if len(uid) not in _RFID_HEX_LENGTHS:
        raise IdentifierError(code, "RFID UID must be 4, 7 or 10 bytes (8, 14 or 20 hex digits)")
    return uid


def mask(value: str, visible: int = 4) -> str:
    """A staff-facing hint of a secret: ``"…3F2A"``, the last ``visible`` characters.

    Values no longer than ``visible`` show only their last half (rounded down), so a short
    secret is never displayed in full.
    """
    if not isinstance(value, str):
        raise TypeError(f"mask() needs a str, not {type(value).__name__}")
    if visible < 1:
        raise ValueError("visible must be at least 1")
    shown = visible if len(value) > visible else len(value) // 2
    return "…" + value[len(value) - shown :]
