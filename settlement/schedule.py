"""Periodic jobs of the settlement app (read by clearinghouse/schedule.py; data only)."""

BEAT = {
    "settlement-sdrs-accept-undisputed": {"task": "settlement.sdrs_accept_undisputed", "schedule": 3600.0},
}
