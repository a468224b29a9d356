"""The bench database: created fresh for one suite run and dropped after it, even on failure.

Its name carries the suite's process id, so a database left behind by a suite that was killed
outright is recognised (its process is gone) and dropped by the next run.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

import psycopg

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PREFIX = "ch_bench_"
# Server processes that work for every database (WAL flushing, checkpoints, dirty-page writing).
SHARED_BACKENDS = ("walwriter", "checkpointer", "background writer", "autovacuum launcher")


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def database_url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale() -> list[str]:
    """Drop bench databases whose suite process no longer exists."""
    dropped = []
    with _admin() as conn:
        names = [
            row[0]
            for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"])
        ]
        for name in names:
            match = re.fullmatch(PREFIX + r"(\d+)", name)
            if match and not _pid_alive(int(match.group(1))):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
    return dropped


def create() -> str:
    name = f"{PREFIX}{os.getpid()}"
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version() -> str:
    with _admin() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def settings_of_interest() -> dict[str, str]:
    """Server settings that move the figures (recorded with the results)."""
    names = ("shared_buffers", "synchronous_commit", "fsync", "max_connections", "work_mem", "autovacuum")
    with _admin() as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]


class BackendPids:
    """The PostgreSQL backends serving one database, or (`shared=True`) the server's shared writers.

    The shared writers (WAL writer, checkpointer, background writer) work for every database on
    the server, other people's test databases included, so they are reported apart from the cost.
    One admin connection is kept open for the look-ups; it is on another database, so it is
    never counted itself.
    """

    def __init__(self, database: str, *, shared: bool = False) -> None:
        self.database = database
        self.shared = shared
        self._conn: psycopg.Connection[Any] | None = None

    def __call__(self) -> list[int]:
        if self._conn is None or self._conn.closed:
            self._conn = _admin()
        if self.shared:
            query = "SELECT pid FROM pg_stat_activity WHERE datname IS NULL AND backend_type = ANY(%s)"
            params: list[Any] = [list(SHARED_BACKENDS)]
        else:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
            params = [self.database]
        return [int(row[0]) for row in self._conn.execute(query, params).fetchall()]

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
