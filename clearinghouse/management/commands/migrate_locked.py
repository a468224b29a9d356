"""`manage.py migrate_locked`: migrate under a PostgreSQL advisory lock.

Several web containers start at once and each migrates; the lock makes them take turns, so the
second finds nothing left to do instead of racing the first.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

LOCK_KEY = 63119  # any constant shared by every process of the hub


class Command(BaseCommand):
    help = "Apply migrations, one process at a time."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=options["verbosity"], stdout=self.stdout)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            try:
                call_command("migrate", interactive=False, verbosity=options["verbosity"], stdout=self.stdout)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
