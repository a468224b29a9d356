"""Periodic jobs of the locations app (collected by clearinghouse/schedule.py)."""

BEAT = {
    # Status changes reach subscribed CSPs within this interval plus the settle time.
    "locations-push-statuses": {"task": "locations.push_statuses", "schedule": 2.0},
    "locations-purge-status-changes": {"task": "locations.purge_status_changes", "schedule": 3600.0},
}
