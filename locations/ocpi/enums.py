"""OCPI 2.2.1 enumerations of the Locations module."""

from __future__ import annotations

EVSE_STATUSES = (
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)
STATUS = frozenset(EVSE_STATUSES)
CAPABILITY = frozenset(
    {
        "CHARGING_PROFILE_CAPABLE",
        "CHARGING_PREFERENCES_CAPABLE",
        "CHIP_CARD_SUPPORT",
        "CONTACTLESS_CARD_SUPPORT",
        "CREDIT_CARD_PAYABLE",
        "DEBIT_CARD_PAYABLE",
        "PED_TERMINAL",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "START_SESSION_CONNECTOR_REQUIRED",
        "TOKEN_GROUP_CAPABLE",
        "UNLOCK_CAPABLE",
    }
)
CONNECTOR_TYPE = frozenset(
    {
        "CHADEMO",
        "CHAOJI",
        *(f"DOMESTIC_{letter}" for letter in "ABCDEFGHIJKLMNO"),
        "GBT_AC",
        "GBT_DC",
        "IEC_60309_2_single_16",
        "IEC_60309_2_three_16",
        "IEC_60309_2_three_32",
        "IEC_60309_2_three_64",
        "IEC_62196_T1",
        "IEC_62196_T1_COMBO",
        "IEC_62196_T2",
        "IEC_62196_T2_COMBO",
        "IEC_62196_T3A",
        "IEC_62196_T3C",
        "NEMA_5_20",
        "NEMA_6_30",
        "NEMA_6_50",
        "NEMA_10_30",
        "NEMA_10_50",
        "NEMA_14_30",
        "NEMA_14_50",
        "PANTOGRAPH_BOTTOM_UP",
        "PANTOGRAPH_TOP_DOWN",
        "TESLA_R",
        "TESLA_S",
    }
)
CONNECTOR_FORMAT = frozenset({"SOCKET", "CABLE"})
# Phases that carry power: OCPI gives AC voltage line to neutral, so power is phases × V × A.
PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}
POWER_TYPE = frozenset(PHASES)
PARKING_TYPE = frozenset(
    {"ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"}
)
PARKING_RESTRICTION = frozenset({"EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"})
FACILITY = frozenset(
    {
        "HOTEL",
        "RESTAURANT",
        "CAFE",
        "MALL",
        "SUPERMARKET",
        "SPORT",
        "RECREATION_AREA",
        "NATURE",
        "MUSEUM",
        "BIKE_SHARING",
        "BUS_STOP",
        "TAXI_STAND",
        "TRAM_STOP",
        "METRO_STATION",
        "TRAIN_STATION",
        "AIRPORT",
        "PARKING_LOT",
        "CARPOOL_PARKING",
        "FUEL_STATION",
        "WIFI",
    }
)
IMAGE_CATEGORY = frozenset({"CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"})
TOKEN_TYPE = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
ENERGY_SOURCE_CATEGORY = frozenset(
    {"NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"}
)
ENVIRONMENTAL_IMPACT_CATEGORY = frozenset({"NUCLEAR_WASTE", "CARBON_DIOXIDE"})
