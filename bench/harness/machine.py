"""What the figures were measured on: the machine and the versions of everything in the path."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from . import postgres, wrk


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?"
    )
    meminfo = dict(ln.split(":", 1) for ln in Path("/proc/meminfo").read_text().splitlines() if ":" in ln)
    mem_kb = int(meminfo["MemTotal"].strip().split()[0])
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def redis_version(url: str) -> str:
    import redis

    return str(redis.Redis.from_url(url, socket_connect_timeout=2).info("server")["redis_version"])


def redis_pid(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url, socket_connect_timeout=2).info("server")["process_id"])


def versions(redis_url: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in (
        "django",
        "djangorestframework",
        "djangorestframework-simplejwt",
        "gunicorn",
        "psycopg",
        "redis",
    ):
        found[name] = importlib.metadata.version(name)
    try:  # gunicorn parses HTTP with it when it is installed (make install builds it where it can)
        found["gunicorn_h1c"] = importlib.metadata.version("gunicorn_h1c")
    except importlib.metadata.PackageNotFoundError:
        found["gunicorn_h1c"] = "not installed (Python HTTP parser)"
    found["postgresql"] = postgres.server_version()
    found["redis-server"] = redis_version(redis_url)
    found["wrk"] = wrk.version()
    return found
