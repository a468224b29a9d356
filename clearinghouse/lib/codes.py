"""ISO 3166-1 country codes and ISO 4217 currency codes, as plain frozen data.

Why a hand-held table instead of a dependency (pycountry, babel, ...): the clearing house
validates every party registration, tariff and CDR against these lists, so the exact set must
be reviewable in a diff and must not move when an unrelated package is upgraded. Changing the
list is a deliberate code change with a test, not a side effect of ``pip install -U``.

Sources of the snapshot:

* ISO 3166-1: the 249 *officially assigned* alpha-2 / alpha-3 codes (Debian ``iso-codes``
  4.15.0, which mirrors the ISO 3166 Maintenance Agency list). User-assigned codes such as
  ``XK`` (Kosovo, used by the EU) or ``EU`` are deliberately absent: roaming protocols (OCPI,
  OICP, ISO 15118 identifiers) require an assigned ISO 3166-1 code.
* ISO 4217: "List One" (current currencies and funds) as published by the maintenance agency
  (SIX) with ``Pblshd="2026-01-01"`` (amendment 180, BGN moved to the historic list when
  Bulgaria adopted the euro). 178 alphabetic codes. Relative to older lists this means HRK,
  ANG, CUC, SLL, ZWL and BGN are *not* active; XCG, ZWG, VED, SLE and XAD are. When SIX
  publishes a new amendment, update both tables here and the counts in the tests.

Everything is upper case and the predicates are case-sensitive on purpose: the canonical
form on the wire (OCPI, OICP) is upper case, and silently accepting ``"eur"`` in one place
but storing ``"EUR"`` in another is how duplicate keys get into a ledger. Callers that want
leniency should ``.upper()`` explicitly at the boundary (see ``identifiers.py``).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALPHA3_TO_ALPHA2",
    "COUNTRY_ALPHA2",
    "COUNTRY_ALPHA3",
    "CURRENCIES",
    "CURRENCY_MINOR_UNITS",
    "is_country_alpha2",
    "is_country_alpha3",
    "is_currency",
]

# ISO 3166-1 alpha-3 -> alpha-2 for every officially assigned country code (249 entries).
# The alpha-2 and alpha-3 sets below are derived from this one table, so the three can never
# disagree with each other.
ALPHA3_TO_ALPHA2: Final[dict[str, str]] = {
    "ABW": "AW", "AFG": "AF", "AGO": "AO", "AIA": "AI", "ALA": "AX", "ALB": "AL", "AND": "AD", "ARE": "AE",
    "ARG": "AR", "ARM": "AM", "ASM": "AS", "ATA": "AQ", "ATF": "TF", "ATG": "AG", "AUS": "AU", "AUT": "AT",
    "AZE": "AZ", "BDI": "BI", "BEL": "BE", "BEN": "BJ", "BES": "BQ", "BFA": "BF", "BGD": "BD", "BGR": "BG",
    "BHR": "BH", "BHS": "BS", "BIH": "BA", "BLM": "BL", "BLR": "BY", "BLZ": "BZ", "BMU": "BM", "BOL": "BO",
    "BRA": "BR", "BRB": "BB", "BRN": "BN", "BTN": "BT", "BVT": "BV", "BWA": "BW", "CAF": "CF", "CAN": "CA",
    "CCK": "CC", "CHE": "CH", "CHL": "CL", "CHN": "CN", "CIV": "CI", "CMR": "CM", "COD": "CD", "COG": "CG",
    "COK": "CK", "COL": "CO", "COM": "KM", "CPV": "CV", "CRI": "CR", "CUB": "CU", "CUW": "CW", "CXR": "CX",
    "CYM": "KY", "CYP": "CY", "CZE": "CZ", "DEU": "DE", "DJI": "DJ", "DMA": "DM", "DNK": "DK", "DOM": "DO",
    "DZA": "DZ", "ECU": "EC", "EGY": "EG", "ERI": "ER", "ESH": "EH", "ESP": "ES", "EST": "EE", "ETH": "ET",
    "FIN": "FI", "FJI": "FJ", "FLK": "FK", "FRA": "FR", "FRO": "FO", "FSM": "FM", "GAB": "GA", "GBR": "GB",
    "GEO": "GE", "GGY": "GG", "GHA": "GH", "GIB": "GI", "GIN": "GN", "GLP": "GP", "GMB": "GM", "GNB": "GW",
    "GNQ": "GQ", "GRC": "GR", "GRD": "GD", "GRL": "GL", "GTM": "GT", "GUF": "GF", "GUM": "GU", "GUY": "GY",
    "HKG": "HK", "HMD": "HM", "HND": "HN", "HRV": "HR", "HTI": "HT", "HUN": "HU", "IDN": "ID", "IMN": "IM",
    "IND": "IN", "IOT": "IO", "IRL": "IE", "IRN": "IR", "IRQ": "IQ", "ISL": "IS", "ISR": "IL", "ITA": "IT",
    "JAM": "JM", "JEY": "JE", "JOR": "JO", "JPN": "JP", "KAZ": "KZ", "KEN": "KE", "KGZ": "KG", "KHM": "KH",
    "KIR": "KI", "KNA": "KN", "KOR": "KR", "KWT": "KW", "LAO": "LA", "LBN": "LB", "LBR": "LR", "LBY": "LY",
    "LCA": "LC", "LIE": "LI", "LKA": "LK", "LSO": "LS", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MAC": "MO",
    "MAF": "MF", "MAR": "MA", "MCO": "MC", "MDA": "MD", "MDG": "MG", "MDV": "MV", "MEX": "MX", "MHL": "MH",
    "MKD": "MK", "MLI": "ML", "MLT": "MT", "MMR": "MM", "MNE": "ME", "MNG": "MN", "MNP": "MP", "MOZ": "MZ",
    "MRT": "MR", "MSR": "MS", "MTQ": "MQ", "MUS": "MU", "MWI": "MW", "MYS": "MY", "MYT": "YT", "NAM": "NA",
    "NCL": "NC", "NER": "NE", "NFK": "NF", "NGA": "NG", "NIC": "NI", "NIU": "NU", "NLD": "NL", "NOR": "NO",
    "NPL": "NP", "NRU": "NR", "NZL": "NZ", "OMN": "OM", "PAK": "PK", "PAN": "PA", "PCN": "PN", "PER": "PE",
    "PHL": "PH", "PLW": "PW", "PNG": "PG", "POL": "PL", "PRI": "PR", "PRK": "KP", "PRT": "PT", "PRY": "PY",
    "PSE": "PS", "PYF": "PF", "QAT": "QA", "REU": "RE", "ROU": "RO", "RUS": "RU", "RWA": "RW", "SAU": "SA",
    "SDN": "SD", "SEN": "SN", "SGP": "SG", "SGS": "GS", "SHN": "SH", "SJM": "SJ", "SLB": "SB", "SLE": "SL",
    "SLV": "SV", "SMR": "SM", "SOM": "SO", "SPM": "PM", "SRB": "RS", "SSD": "SS", "STP": "ST", "SUR": "SR",
    "SVK": "SK", "SVN": "SI", "SWE": "SE", "SWZ": "SZ", "SXM": "SX", "SYC": "SC", "SYR": "SY", "TCA": "TC",
    "TCD": "TD", "TGO": "TG", "THA": "TH", "TJK": "TJ", "TKL": "TK", "TKM": "TM", "TLS": "TL", "TON": "TO",
    "TTO": "TT", "TUN": "TN", "TUR": "TR", "TUV": "TV", "TWN": "TW", "TZA": "TZ", "UGA": "UG", "UKR": "UA",
    "UMI": "UM", "URY": "UY", "USA": "US", "UZB": "UZ", "VAT": "VA", "VCT": "VC", "VEN": "VE", "VGB": "VG",
    "VIR": "VI", "VNM": "VN", "VUT": "VU", "WLF": "WF", "WSM": "WS", "YEM": "YE", "ZAF": "ZA", "ZMB": "ZM",
    "ZWE": "ZW",
}  # fmt: skip

COUNTRY_ALPHA3: Final[frozenset[str]] = frozenset(ALPHA3_TO_ALPHA2)
COUNTRY_ALPHA2: Final[frozenset[str]] = frozenset(ALPHA3_TO_ALPHA2.values())

# ISO 4217 minor unit (number of decimal places) of every List One code that has one.
#
# The 13 List One codes whose minor unit ISO publishes as "N.A." are *not* keys here, because
# there is no correct integer to give them and a guessed 2 would silently round gold or SDR
# amounts: XAG XAU XPD XPT (precious metals), XBA XBB XBC XBD (bond market units), XDR (SDR),
# XSU (Sucre), XUA (ADB unit of account), XTS (testing) and XXX (no currency). They are still
# members of CURRENCIES. A tariff or CDR currency should therefore be checked with
# ``code in CURRENCY_MINOR_UNITS`` when an amount has to be rounded.
#
# Note the values are ISO's, not CLDR's display digits: ISO gives 2 for e.g. HUF, IDR, COP
# and 3 for IQD where CLDR formats 0. Storage and rounding of settled amounts follow ISO.
CURRENCY_MINOR_UNITS: Final[dict[str, int]] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2, "BAM": 2,
    "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2,
    "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4,
    "CLP": 0, "CNY": 2, "COP": 2, "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2,
    "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2,
    "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2,
    "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2,
    "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2,
    "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2,
    "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2,
    "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2,
    "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2,
    "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2,
    "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2,
    "VED": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAD": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0,
    "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

# List One codes with minor unit "N.A." (see above). Kept as a named set so that CURRENCIES is
# visibly "the minor-unit table plus these", which is exactly how List One is structured.
_CURRENCIES_WITHOUT_MINOR_UNIT: Final[frozenset[str]] = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)

CURRENCIES: Final[frozenset[str]] = frozenset(CURRENCY_MINOR_UNITS) | _CURRENCIES_WITHOUT_MINOR_UNIT


def is_country_alpha2(value: object) -> bool:
    """Return True if ``value`` is an officially assigned ISO 3166-1 alpha-2 code.

    Case-sensitive (``"de"`` is False) so that only canonical values pass; non-strings are
    False rather than an error so this can be used directly as a validator predicate.
    """
    return isinstance(value, str) and value in COUNTRY_ALPHA2


def is_country_alpha3(value: object) -> bool:
    """Return True if ``value`` is an officially assigned ISO 3166-1 alpha-3 code (upper case)."""
    return isinstance(value, str) and value in COUNTRY_ALPHA3


def is_currency(value: object) -> bool:
    """Return True if ``value`` is an active ISO 4217 alphabetic code (List One, upper case).

    This includes fund and special codes (e.g. ``CHE``, ``XAU``, ``XXX``) because they are
    in List One; use ``value in CURRENCY_MINOR_UNITS`` when the amount must be roundable.
    """
    return isinstance(value, str) and value in CURRENCIES
