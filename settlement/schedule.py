"""Periodic jobs of the settlement app (read by clearinghouse/schedule.py; data only)."""

BEAT = {
    "settlement-sdrs-accept-undisputed": {"task": "settlement.sdrs_accept_undisputed", "schedule": 3600.0},
    "settlement-runs-due": {"task": "settlement.settlement_runs_due", "schedule": 3600.0},
    "settlement-statement-reports": {"task": "settlement.statements_reports_missing", "schedule": 3600.0},
}
