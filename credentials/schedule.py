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
}
