"""Periodic jobs of credentials and authorization (collected by clearinghouse/schedule.py)."""

BEAT = {
    "credentials-authorizations-expire-overdue": {
        "task": "credentials.authorizations_expire_overdue",
        "schedule": 5.0,
    },
    "credentials-dynamic-qr-uses-purge": {
        "task": "credentials.dynamic_qr_uses_purge",
        "schedule": 3600.0,
    },
    # Erasures that wait for a contract's sessions to end run within a minute of the end.
    "credentials-privacy-erasures-run-scheduled": {
        "task": "credentials.privacy_erasures_run_scheduled",
        "schedule": 60.0,
    },
    # Retention: anonymise or delete what is past its period, once a day.
    "credentials-privacy-retention-run": {
        "task": "credentials.privacy_retention_run",
        "schedule": 86400.0,
    },
}
