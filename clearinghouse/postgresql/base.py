"""The PostgreSQL backend of the hub: Django's, with a health check only where it can matter.

With CONN_HEALTH_CHECKS, Django proves a persistent connection with a `SELECT 1` at the start of
every request that uses it: one more round trip on every request of a busy process. A connection
that this process used less than a second ago needs no such proof; one that idled longer is checked
as before, so a process finds its way back after PostgreSQL restarts. A connection that breaks
while in steady use fails the request at hand (503, as any request in flight when the database goes
away) and is closed at that request's end, as Django closes any connection that saw an error.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

# A connection used more recently than this is taken as healthy without a check.
RECENTLY_USED_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_used = 0.0

    def close_if_health_check_failed(self) -> None:
        now = time.monotonic()
        recently_used = now - self._last_used < RECENTLY_USED_SECONDS
        self._last_used = now
        if self.connection is not None and not self.health_check_done and recently_used:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
