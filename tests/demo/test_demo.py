"""`make demo` end to end: a hub started here as real processes, the way `make run` starts it
(migrate, runserver, celery beat; SQLite, tasks in-process in a background thread), on a free port
and a temporary database, then `python -m demo.run` against it. Nothing of the developer's own
db.sqlite3 or var/ is touched."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
DEMO_TIMEOUT = 150.0

pytestmark = pytest.mark.slow


@dataclass
class Hub:
    url: str
    env: dict[str, str]
    logs: list[Path]
    workdir: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:
            return json.loads(resp.read()).get("status") == "ready"
    except (OSError, ValueError):
        return False


def _stop(process: subprocess.Popen) -> None:
    """End a process we started, and its children, by its own process group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-30:]) for log in logs)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        CELERY_TASK_ALWAYS_EAGER="true",
        TASKS_IN_THREAD="true",
        DJANGO_ENV="development",
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        HUB_PUBLIC_URL=url,
        PYTHONUNBUFFERED="1",
    )
    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180
    )
    logs = [tmp_path / "web.log", tmp_path / "beat.log"]
    commands = [
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        [
            celery,
            "-A",
            "clearinghouse",
            "beat",
            "--loglevel=WARNING",
            "--pidfile=",
            "-s",
            str(tmp_path / "beat"),
        ],
    ]
    processes = []
    try:
        for command, log in zip(commands, logs, strict=True):
            with log.open("w") as out:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(url):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                pytest.fail(f"the hub did not become ready at {url}\n{_tails(logs)}")
            time.sleep(0.3)
        yield Hub(url=url, env=env, logs=logs, workdir=tmp_path)
    finally:
        for process in processes:
            _stop(process)


def test_demo_plays_a_day_of_roaming(hub: Hub) -> None:
    out = hub.workdir / "reports"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "demo.run", "--hub-url", hub.url, "--out", str(out)],
        cwd=ROOT,
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
    )
    elapsed = time.monotonic() - started
    report = f"exit {done.returncode} after {elapsed:.0f} s\n{done.stdout}\n{done.stderr}\n{_tails(hub.logs)}"
    assert done.returncode == 0, report
    summary = done.stdout[done.stdout.index("Summary") :]
    for title in (
        "Onboarding with manage.py",
        "Locations and tariffs published",
        "EVSE status stream (bulk, pushed)",
        "Driver credentials",
        "Drivers authorize",
        "Remote start (commands)",
        "Sessions with progress",
        "SDRs (bulk, checked, rated)",
        "Dispute and correction",
        "Settlement run",
        "Statement reports",
        "Deliveries verified by the partners",
    ):
        assert re.search(rf"^\s+OK\s+\d+\. {re.escape(title)}", summary, re.MULTILINE), report
    assert "FAILED" not in summary and "SKIPPED" not in summary, report
    assert "Authorization from hub data : n=" in summary and "p95" in summary, report
    assert "Result: OK: every step did what it should" in summary, report
    files = sorted(p.suffix for p in out.iterdir())
    assert files.count(".csv") == files.count(".xlsx") == files.count(".pdf") == 4, files
    assert all(p.stat().st_size > 0 for p in out.iterdir())
