"""The shape of an OCPI 2.2.1 CDR: required fields, types, lengths, enumerations, identifiers.

`parse_sdr` turns one JSON object into a `ParsedSdr` (or findings saying why it cannot), without
looking at anything but the object itself. Lenient where OCPI's own example needs it (numbers may
also arrive as decimal strings; a time without offset is UTC), strict where money or routing
depends on it (the contract ID must be an eMAID, the EVSE ID an ISO 15118 EVSE ID).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from clearinghouse.lib.codes import is_country_alpha2, is_country_alpha3, is_currency
from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id, parse_evse_id
from settlement.rating.values import fast_init

from . import findings as F
from .findings import Finding
from .reader import Money, Reader

AUTH_METHODS = frozenset({"AUTH_REQUEST", "COMMAND", "WHITELIST"})
TOKEN_TYPES = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
CONNECTOR_FORMATS = frozenset({"SOCKET", "CABLE"})
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
CONNECTOR_STANDARDS = frozenset(
    {
        "CHADEMO", "CHAOJI", "GBT_AC", "GBT_DC",
        *(f"DOMESTIC_{letter}" for letter in "ABCDEFGHIJKLMNO"),
        "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32", "IEC_60309_2_three_64",
        "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
        "IEC_62196_T3A", "IEC_62196_T3C",
        "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30", "NEMA_14_50",
        "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S",
    }
)  # fmt: skip
DIMENSION_TYPES = frozenset(
    {
        "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT",
        "MAX_POWER", "MIN_POWER", "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
    }
)  # fmt: skip
# Consumed quantities: a negative volume of these is never a measurement.
CONSUMED_DIMENSIONS = frozenset({"ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME"})
COST_FIELDS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
# Excluded from the content comparison: a CDR cannot be updated, so a resend stamped later is the
# same record, not a different one.
VOLATILE_FIELDS = frozenset({"last_updated"})

_LATITUDE = re.compile(r"-?[0-9]{1,2}\.[0-9]{5,7}")
_LONGITUDE = re.compile(r"-?[0-9]{1,3}\.[0-9]{5,7}")
NON_CREDIT_ID_MAX = 36
ID_MAX = 39


@fast_init
@dataclass(frozen=True)
class Period:
    """One charging period (an IEC 63119 charging transaction): it ends where the next one starts."""

    index: int
    start: datetime
    tariff_id: str
    dimensions: tuple[tuple[str, Decimal], ...]

    def volume(self, dimension: str) -> Decimal | None:
        for kind, volume in self.dimensions:
            if kind == dimension:
                return volume
        return None


@fast_init
@dataclass(frozen=True)
class ParsedSdr:
    """The fields of a CDR the hub checks, stores in columns and rates; `raw` is the CDR as sent."""

    raw: Mapping[str, Any]
    sdr_id: str
    country_code: str
    party_id: str
    start: datetime
    end: datetime
    session_id: str
    contract_id: str  # normalised eMAID, DE-ABC-C12345678-X
    auth_method: str
    authorization_reference: str
    evse_id: str  # canonical, DE*ABC*E123*1
    connector_id: str
    currency: str
    periods: tuple[Period, ...]
    tariffs: tuple[Mapping[str, Any], ...]
    total_cost: Money
    costs: Mapping[str, Money]
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal | None
    credit: bool
    credit_reference_id: str


@fast_init
@dataclass(frozen=True)
class ParseResult:
    """What the shape check made of one item: the SDR id when one could be read, the parsed record
    when the shape is right, the findings otherwise, and the content hash for de-duplication."""

    sdr_id: str | None
    sdr: ParsedSdr | None
    findings: tuple[Finding, ...]
    content_hash: str
    document: str | None = None  # the item's JSON text for storing (see hash_and_document)


def content_hash(item: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a CDR (sorted keys, no whitespace, volatile fields left out)."""
    return hash_and_document(item)[0]


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON type")


# The canonical encoding: sorted keys, no whitespace, text as it is. Built once (json.dumps with
# options builds an encoder per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_not_json)
_CANONICAL_ANY = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def hash_and_document(item: Mapping[str, Any]) -> tuple[str, str | None]:
    """The content hash of a CDR and, from the same encoding, its JSON text for storing.

    The stored text is the canonical JSON with the volatile fields put back: the same document, and
    the same value in a jsonb column (which keeps no key order). None when the item holds a value
    that is not a JSON type (only documents the hub builds could); the hash then encodes it as
    text, as it always has, and the document is encoded by its field instead.
    """
    body = dict(item)  # a copy in C, then the volatile fields out: the same dict as a comprehension
    for key in _VOLATILE_ORDER:
        body.pop(key, None)
    fast = _orjson_canonical(body)
    if fast is not None:
        tail = []
        for key in _VOLATILE_ORDER:
            if key in item:
                value = _orjson_canonical(item[key])
                if value is None or _VOLATILE_KEY_TEXT[key] is None:
                    break
                tail.append(_VOLATILE_KEY_TEXT[key] + b":" + value)  # type: ignore[operator]
        else:
            digest = hashlib.sha256(fast).hexdigest()
            if not tail:
                return digest, fast.decode()
            return digest, (fast[:-1] + (b"," if body else b"") + b",".join(tail) + b"}").decode()
    try:
        text = _CANONICAL.encode(body)
        volatile = [
            f"{_CANONICAL.encode(key)}:{_CANONICAL.encode(item[key])}"
            for key in sorted(VOLATILE_FIELDS)
            if key in item
        ]
    except TypeError:
        return hashlib.sha256(_CANONICAL_ANY.encode(body).encode()).hexdigest(), None
    digest = hashlib.sha256(text.encode()).hexdigest()
    if not volatile:
        return digest, text
    return digest, text[:-1] + ("," if body else "") + ",".join(volatile) + "}"


# orjson writes the canonical encoding's text (sorted keys, no whitespace, text unescaped but for
# quotes, backslashes and control characters, escaped as the json module does) at a fraction of
# its cost, except for floats below 1e-4 (0.00001 or 1.5e-7 where the json module writes 1e-05 and
# 1.5e-07) and NaN or infinity (null). A text holding "0.0000", "e-" or "null" anywhere is encoded
# by the json module instead: three substring searches, where a regular expression finding only
# the number tokens costs as much as the json module's encoding (most hits are harmless look-alikes
# inside strings: encoded the slow way, never wrongly). Types the json module would not write
# raise TypeError in orjson too: dates and dataclasses are passed through to `default`, which
# there is none of.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson_canonical(value: Any) -> bytes | None:
    """The canonical encoding of `value` by orjson when it is certainly the json module's text."""
    if not isinstance(value, (dict, list, str)):
        return None  # a top-level scalar: the json module's text is the reference
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return None
    return None if b"0.0000" in out or b"e-" in out or b"null" in out else out


# The volatile fields in the order the canonical text appends them, each key's encoding made once.
_VOLATILE_ORDER = tuple(sorted(VOLATILE_FIELDS))
_VOLATILE_KEY_TEXT = {key: _orjson_canonical(key) for key in _VOLATILE_ORDER}


# A CSO's batch names its EVSEs and its drivers' contracts again and again: each spelling is parsed
# once per process (an IdentifierError is raised again each time: lru_cache keeps only results).
@lru_cache(maxsize=16384)
def _normalized_contract_id(raw: str) -> str:
    parsed = parse_contract_id(raw)
    normalized = parsed.normalized()
    if len(_PROVIDERS) >= _PROVIDERS_MAX:
        _PROVIDERS.clear()
    _PROVIDERS[normalized] = (parsed.country, parsed.party_id)
    return normalized


# The provider part (country, party) of the contract IDs normalised last: intake looks up the CSP
# of each contract of a batch by it, right after reading the batch. Emptied when full.
_PROVIDERS: dict[str, tuple[str, str]] = {}
_PROVIDERS_MAX = 65536


def contract_provider(contract_id: str) -> tuple[str, str] | None:
    """The (country, party ID) of a contract ID, as parse_contract_id reads them; None when it is
    not a contract ID. A normalised ID this module produced is answered from memory: parsing it
    again gives the parts it was made of."""
    known = _PROVIDERS.get(contract_id)
    if known is not None:
        return known
    try:
        parsed = parse_contract_id(contract_id)
    except IdentifierError:
        return None
    return parsed.country, parsed.party_id


@lru_cache(maxsize=16384)
def _canonical_evse_id(raw: str) -> str:
    return str(parse_evse_id(raw))


def _read_token(r: Reader, cdr: Mapping[str, Any]) -> str | None:
    token = r.object(cdr, "cdr_token", "cdr_token")
    if token is None:
        return None
    for key, size in (("country_code", 2), ("party_id", 3)):
        r.cistring(token, key, f"cdr_token.{key}", max_len=size)
    r.cistring(token, "uid", "cdr_token.uid", max_len=36)
    r.enum(token, "type", "cdr_token.type", TOKEN_TYPES)
    raw = r.cistring(token, "contract_id", "cdr_token.contract_id", max_len=36)
    if raw is None:
        return None
    try:
        return _normalized_contract_id(raw)
    except IdentifierError as exc:
        r.fail(F.INVALID_CONTRACT_ID, "cdr_token.contract_id", exc.message)
        return None


def _read_location(r: Reader, cdr: Mapping[str, Any]) -> tuple[str | None, str | None]:
    location = r.object(cdr, "cdr_location", "cdr_location")
    if location is None:
        return None, None
    p = "cdr_location."
    r.cistring(location, "id", p + "id", max_len=36)
    r.string(location, "name", p + "name", max_len=255, required=False)
    r.string(location, "address", p + "address", max_len=45)
    r.string(location, "city", p + "city", max_len=45)
    r.string(location, "postal_code", p + "postal_code", max_len=10, required=False)
    r.string(location, "state", p + "state", max_len=20, required=False)
    country = r.string(location, "country", p + "country", max_len=3)
    if country is not None and not is_country_alpha3(country):
        r.fail(F.INVALID_VALUE, p + "country", "cdr_location.country must be an ISO 3166-1 alpha-3 code")
    coordinates = r.object(location, "coordinates", p + "coordinates")
    if coordinates is not None:
        for key, pattern, limit in (("latitude", _LATITUDE, 90), ("longitude", _LONGITUDE, 180)):
            value = r.string(coordinates, key, f"{p}coordinates.{key}", max_len=12)
            if value is not None and (not pattern.fullmatch(value) or abs(Decimal(value)) > limit):
                r.fail(
                    F.INVALID_VALUE, f"{p}coordinates.{key}", f"{key} must be decimal degrees within ±{limit}"
                )
    r.cistring(location, "evse_uid", p + "evse_uid", max_len=36)
    evse_id = None
    raw_evse = r.cistring(location, "evse_id", p + "evse_id", max_len=48)
    if raw_evse is not None:
        try:
            evse_id = _canonical_evse_id(raw_evse)
        except IdentifierError as exc:
            r.fail(F.INVALID_EVSE_ID, p + "evse_id", exc.message)
    connector_id = r.cistring(location, "connector_id", p + "connector_id", max_len=36)
    r.enum(location, "connector_standard", p + "connector_standard", CONNECTOR_STANDARDS)
    r.enum(location, "connector_format", p + "connector_format", CONNECTOR_FORMATS)
    r.enum(location, "connector_power_type", p + "connector_power_type", POWER_TYPES)
    return evse_id, connector_id


def _read_periods(r: Reader, cdr: Mapping[str, Any]) -> tuple[Period, ...] | None:
    items = r.array(cdr, "charging_periods", "charging_periods", min_items=1)
    if items is None:
        return None
    periods: list[Period] = []
    ok = True
    for index, item in enumerate(items):
        path = f"charging_periods[{index}]"
        if not isinstance(item, Mapping):
            r.fail(F.INVALID_TYPE, path, f"{path} must be an object")
            ok = False
            continue
        start = r.moment(item, "start_date_time", f"{path}.start_date_time")
        tariff_id = r.cistring(item, "tariff_id", f"{path}.tariff_id", max_len=36, required=False)
        dims = r.array(item, "dimensions", f"{path}.dimensions", min_items=1)
        dimensions: list[tuple[str, Decimal]] = []
        for d_index, dim in enumerate(dims or ()):
            d_path = f"{path}.dimensions[{d_index}]"
            if not isinstance(dim, Mapping):
                r.fail(F.INVALID_TYPE, d_path, f"{d_path} must be an object")
                ok = False
                continue
            kind = r.enum(dim, "type", f"{d_path}.type", DIMENSION_TYPES)
            volume = r.number(dim, "volume", f"{d_path}.volume")
            if kind is None or volume is None:
                ok = False
                continue
            dimensions.append((kind, volume))
        if start is None or dims is None:
            ok = False
            continue
        periods.append(Period(index, start, tariff_id or "", tuple(dimensions)))
    return tuple(periods) if ok else None


def _read_signed_data(r: Reader, cdr: Mapping[str, Any]) -> None:
    signed = r.object(cdr, "signed_data", "signed_data", required=False)
    if signed is None:
        return
    p = "signed_data."
    r.cistring(signed, "encoding_method", p + "encoding_method", max_len=36)
    version = signed.get("encoding_method_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        r.fail(F.INVALID_TYPE, p + "encoding_method_version", "encoding_method_version must be an integer")
    r.string(signed, "public_key", p + "public_key", max_len=512, required=False)
    r.string(signed, "url", p + "url", max_len=512, required=False)
    values = r.array(signed, "signed_values", p + "signed_values", min_items=1)
    for index, value in enumerate(values or ()):
        v_path = f"{p}signed_values[{index}]"
        if not isinstance(value, Mapping):
            r.fail(F.INVALID_TYPE, v_path, f"{v_path} must be an object")
            continue
        r.cistring(value, "nature", v_path + ".nature", max_len=32)
        r.string(value, "plain_data", v_path + ".plain_data", max_len=512)
        r.string(value, "signed_data", v_path + ".signed_data", max_len=5000)


def _read_tariffs(r: Reader, cdr: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The tariffs the CSO says applied: only their outline is checked here; the rating engine reads
    the rest if the hub ever rates with them."""
    items = r.array(cdr, "tariffs", "tariffs", required=False)
    tariffs: list[Mapping[str, Any]] = []
    for index, tariff in enumerate(items or ()):
        path = f"tariffs[{index}]"
        if not isinstance(tariff, Mapping):
            r.fail(F.INVALID_TYPE, path, f"{path} must be an object")
            continue
        r.cistring(tariff, "id", f"{path}.id", max_len=36)
        r.string(tariff, "currency", f"{path}.currency", max_len=3)
        r.array(tariff, "elements", f"{path}.elements", min_items=1)
        tariffs.append(tariff)
    return tuple(tariffs)


def read_sdr_id(item: Any) -> str | None:
    """The CDR's id when it is usable as a key (a non-empty printable ASCII string of at most 39)."""
    if not isinstance(item, Mapping):
        return None
    value = item.get("id")
    if (
        isinstance(value, str)
        and value.strip()
        and len(value) <= ID_MAX
        and value.isascii()
        and value.isprintable()
    ):
        return value
    return None


def parse_sdr(item: Any) -> ParseResult:
    """Check the shape of one CDR; a ParseResult with `sdr` set when nothing is wrong with it."""
    if not isinstance(item, Mapping):
        return ParseResult(None, None, (Finding(F.INVALID_TYPE, "an SDR must be a JSON object"),), "")
    r = Reader()
    digest, document = hash_and_document(item)
    credit = r.boolean(item, "credit", "credit") or False
    sdr_id = r.cistring(item, "id", "id", max_len=ID_MAX)
    if sdr_id is not None and not credit and len(sdr_id) > NON_CREDIT_ID_MAX:
        r.fail(
            F.INVALID_VALUE,
            "id",
            f"the id of an SDR that is not a credit is at most {NON_CREDIT_ID_MAX} long",
        )
    country_code = r.cistring(item, "country_code", "country_code", max_len=2)
    if country_code is not None and not is_country_alpha2(country_code.upper()):
        r.fail(F.INVALID_VALUE, "country_code", "country_code must be an ISO 3166-1 alpha-2 code")
    party_id = r.cistring(item, "party_id", "party_id", max_len=3)
    start = r.moment(item, "start_date_time", "start_date_time")
    end = r.moment(item, "end_date_time", "end_date_time")
    session_id = r.cistring(item, "session_id", "session_id", max_len=36, required=False)
    contract_id = _read_token(r, item)
    auth_method = r.enum(item, "auth_method", "auth_method", AUTH_METHODS)
    reference = r.cistring(
        item, "authorization_reference", "authorization_reference", max_len=36, required=False
    )
    evse_id, connector_id = _read_location(r, item)
    r.string(item, "meter_id", "meter_id", max_len=255, required=False)
    currency = r.string(item, "currency", "currency", max_len=3)
    if currency is not None and not is_currency(currency):
        r.fail(F.INVALID_CURRENCY, "currency", "currency must be an active ISO 4217 code (upper case)")
        currency = None
    tariffs = _read_tariffs(r, item)
    periods = _read_periods(r, item)
    _read_signed_data(r, item)
    total_cost = r.price(item, "total_cost")
    costs = {key: price for key in COST_FIELDS if (price := r.price(item, key, required=False)) is not None}
    total_energy = r.number(item, "total_energy", "total_energy")
    total_time = r.number(item, "total_time", "total_time")
    total_parking_time = r.number(item, "total_parking_time", "total_parking_time", required=False)
    r.string(item, "remark", "remark", max_len=255, required=False)
    r.cistring(item, "invoice_reference_id", "invoice_reference_id", max_len=39, required=False)
    reference_id = r.cistring(item, "credit_reference_id", "credit_reference_id", max_len=39, required=False)
    r.boolean(item, "home_charging_compensation", "home_charging_compensation")
    r.moment(item, "last_updated", "last_updated")
    usable_id = read_sdr_id(item)
    if r.findings:
        return ParseResult(usable_id, None, tuple(r.findings), digest, document)
    assert sdr_id is not None and start is not None and end is not None and periods is not None
    assert total_cost is not None and total_energy is not None and total_time is not None
    parsed = ParsedSdr(
        raw=item,
        sdr_id=sdr_id,
        country_code=(country_code or "").upper(),
        party_id=(party_id or "").upper(),
        start=start,
        end=end,
        session_id=session_id or "",
        contract_id=contract_id or "",
        auth_method=auth_method or "",
        authorization_reference=reference or "",
        evse_id=evse_id or "",
        connector_id=connector_id or "",
        currency=currency or "",
        periods=periods,
        tariffs=tariffs,
        total_cost=total_cost,
        costs=costs,
        total_energy=total_energy,
        total_time=total_time,
        total_parking_time=total_parking_time,
        credit=credit,
        credit_reference_id=reference_id or "",
    )
    return ParseResult(sdr_id, parsed, (), digest, document)
