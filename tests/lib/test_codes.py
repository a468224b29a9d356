"""Tests for clearinghouse.lib.codes: the ISO 3166-1 / ISO 4217 tables and predicates.

Framework-free: runs with ``pytest -p no:django``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clearinghouse.lib.codes import (
    ALPHA3_TO_ALPHA2,
    COUNTRY_ALPHA2,
    COUNTRY_ALPHA3,
    CURRENCIES,
    CURRENCY_MINOR_UNITS,
    is_country_alpha2,
    is_country_alpha3,
    is_currency,
)

# Debian's iso-codes package mirrors the ISO 3166 Maintenance Agency list. When it is installed
# the country table is cross-checked against it; the currency table is not, because the Debian
# snapshot predates ISO 4217 amendments 176-180 (XCG, ZWG, XAD; HRK, ANG, BGN, ... withdrawn).
_ISO_3166_JSON = Path("/usr/share/iso-codes/json/iso_3166-1.json")


# --- countries ----------------------------------------------------------------------------------


def test_country_table_sizes() -> None:
    # 249 officially assigned ISO 3166-1 codes (unchanged since South Sudan, SS/SSD, in 2011).
    assert len(ALPHA3_TO_ALPHA2) == 249
    assert len(COUNTRY_ALPHA3) == 249
    assert len(COUNTRY_ALPHA2) == 249


def test_country_table_shapes() -> None:
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in COUNTRY_ALPHA3)
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in COUNTRY_ALPHA2)
    assert set(ALPHA3_TO_ALPHA2.values()) == COUNTRY_ALPHA2
    assert isinstance(COUNTRY_ALPHA2, frozenset)
    assert isinstance(COUNTRY_ALPHA3, frozenset)


@pytest.mark.parametrize(
    ("alpha3", "alpha2"),
    [
        ("DEU", "DE"),
        ("NLD", "NL"),
        ("GBR", "GB"),
        ("FRA", "FR"),
        ("CHE", "CH"),
        ("USA", "US"),
        ("JPN", "JP"),
        ("SSD", "SS"),
        ("CUW", "CW"),
        ("BES", "BQ"),
        ("SXM", "SX"),
        ("ALA", "AX"),
        ("COM", "KM"),
        ("CYM", "KY"),
    ],
)
def test_alpha3_to_alpha2_examples(alpha3: str, alpha2: str) -> None:
    assert ALPHA3_TO_ALPHA2[alpha3] == alpha2


@pytest.mark.parametrize(
    "code",
    [
        "XK",  # Kosovo: user-assigned, not officially assigned
        "EU",  # exceptionally reserved
        "UK",  # exceptionally reserved (GB is the assigned code)
        "AN",  # Netherlands Antilles: withdrawn 2010
        "YU",  # Yugoslavia: withdrawn
        "CS",  # Serbia and Montenegro: withdrawn
        "ZZ",  # user-assigned
        "AA",  # user-assigned
    ],
)
def test_unassigned_alpha2_codes_are_absent(code: str) -> None:
    assert code not in COUNTRY_ALPHA2
    assert not is_country_alpha2(code)


@pytest.mark.parametrize("code", ["XKX", "ANT", "YUG", "SCG", "ZZZ", "EUR"])
def test_unassigned_alpha3_codes_are_absent(code: str) -> None:
    assert not is_country_alpha3(code)


@pytest.mark.skipif(not _ISO_3166_JSON.exists(), reason="Debian iso-codes not installed")
def test_country_table_matches_debian_iso_codes() -> None:
    entries = json.loads(_ISO_3166_JSON.read_text(encoding="utf-8"))["3166-1"]
    assert {e["alpha_3"]: e["alpha_2"] for e in entries} == ALPHA3_TO_ALPHA2


def test_country_predicates() -> None:
    assert is_country_alpha2("DE")
    assert is_country_alpha3("DEU")
    # Case-sensitive by design: only canonical values pass.
    assert not is_country_alpha2("de")
    assert not is_country_alpha2("De")
    assert not is_country_alpha3("deu")
    assert not is_country_alpha2("DEU")
    assert not is_country_alpha3("DE")
    assert not is_country_alpha2(" DE")
    assert not is_country_alpha2("")


@pytest.mark.parametrize("value", [None, 49, b"DE", ["DE"], ("DE",)])
def test_country_predicates_reject_non_strings(value: object) -> None:
    assert not is_country_alpha2(value)
    assert not is_country_alpha3(value)


# --- currencies ---------------------------------------------------------------------------------


def test_currency_table_sizes() -> None:
    # SIX "List One" published 2026-01-01: 178 distinct codes, of which 13 have minor unit N.A.
    assert len(CURRENCIES) == 178
    assert len(CURRENCY_MINOR_UNITS) == 165
    assert set(CURRENCY_MINOR_UNITS) <= CURRENCIES
    assert isinstance(CURRENCIES, frozenset)


def test_minor_unit_census_matches_list_one() -> None:
    # Census of CcyMnrUnts by distinct code in List One (2026-01-01): 17 x 0, 139 x 2,
    # 7 x 3, 2 x 4 and 13 x "N.A.".
    census: dict[int, int] = {}
    for digits in CURRENCY_MINOR_UNITS.values():
        census[digits] = census.get(digits, 0) + 1
    assert census == {0: 17, 2: 139, 3: 7, 4: 2}
    assert len(CURRENCIES - set(CURRENCY_MINOR_UNITS)) == 13


def test_currency_codes_are_three_upper_case_letters() -> None:
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in CURRENCIES)


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("SEK", 2),
        ("HUF", 2),
        ("IDR", 2),
        ("MRU", 2),
        ("MGA", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("CLP", 0),
        ("XOF", 0),
        ("XPF", 0),
        ("UYI", 0),
        ("BHD", 3),
        ("IQD", 3),
        ("JOD", 3),
        ("KWD", 3),
        ("LYD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("XCG", 2),
        ("ZWG", 2),
        ("XAD", 2),
    ],
)
def test_minor_units(code: str, digits: int) -> None:
    assert CURRENCY_MINOR_UNITS[code] == digits
    assert is_currency(code)


@pytest.mark.parametrize(
    "code", ["XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD", "XTS", "XXX"]
)
def test_codes_without_minor_unit_are_currencies_but_not_roundable(code: str) -> None:
    assert is_currency(code)
    assert code not in CURRENCY_MINOR_UNITS


@pytest.mark.parametrize(
    "code",
    [
        "HRK",  # Croatia adopted EUR, 2023
        "ANG",  # replaced by XCG, 2025
        "BGN",  # Bulgaria adopted EUR, 2026 (amendment 180)
        "CUC",
        "SLL",  # replaced by SLE
        "ZWL",  # replaced by ZWG
        "DEM",
        "NLG",
        "VEF",
        "MRO",
        "BTC",
    ],
)
def test_withdrawn_or_unofficial_currencies_are_absent(code: str) -> None:
    assert not is_currency(code)
    assert code not in CURRENCY_MINOR_UNITS


def test_currency_predicate_is_case_sensitive_and_type_safe() -> None:
    assert is_currency("EUR")
    assert not is_currency("eur")
    assert not is_currency("Eur")
    assert not is_currency(" EUR")
    assert not is_currency("")
    assert not is_currency(None)
    assert not is_currency(978)
