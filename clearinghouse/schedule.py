"""Collects the periodic jobs each app declares in its own `schedule.py` (a plain BEAT dict).

Read by the settings module, so it imports nothing of Django: the apps' schedule modules hold data
only (task names and intervals), never code.
"""

from __future__ import annotations

import importlib
from typing import Any

APPS_WITH_SCHEDULES = ("credentials", "locations", "sessions", "settlement")


def beat_schedule(*, routing_sweep_seconds: float) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "routing-sweep": {"task": "routing.sweep", "schedule": routing_sweep_seconds},
        "purge-nonces": {"task": "clearinghouse.purge_nonces", "schedule": 3600.0},
    }
    for app in APPS_WITH_SCHEDULES:
        try:
            module = importlib.import_module(f"{app}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.schedule":
                raise
            continue
        schedule.update(module.BEAT)
    return schedule
