"""Processes the suite starts, and the CPU time they (and others) spend, read from /proc.

Every server runs in a session of its own, so stopping it stops its workers with it; every server
started is remembered and stopped when the suite ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_RUNNING: list[Server] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process (with its workers) that the suite started and must stop."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: object | None = field(default=None, repr=False)

    def start(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _RUNNING.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The master and every process below it (workers come and go; ask each time)."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.pid, *descendants(self.pid)]

    def wait_ready(
        self, url: str, *, timeout: float = 60.0, expect: Callable[[int], bool] | None = None
    ) -> None:
        """Poll url until it answers (any HTTP status counts unless `expect` says otherwise)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as err:
                status = err.code
            except OSError as err:
                last = str(err)
                time.sleep(0.2)
                continue
            if expect is None or expect(status):
                return
            last = f"HTTP {status}"
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} not ready at {url} after {timeout:.0f} s ({last}); see {self.log_path}"
        )

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM to the server's own process group, SIGKILL after `grace` seconds."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None
        if self in _RUNNING:
            _RUNNING.remove(self)


def stop_all() -> None:
    """Stop every server still running, the last started first."""
    for server in reversed(list(_RUNNING)):
        with contextlib.suppress(Exception):
            server.stop()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing ")".
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    queue = list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks (None once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state is index 0, so utime (field 14) is index 11 and stime index 12.
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


@dataclass
class CpuSnapshot:
    groups: dict[str, dict[int, int]]
    machine_busy: int
    machine_total: int
    at: float


class CpuProbe:
    """CPU time of named groups of processes between two snapshots.

    A process that starts between the snapshots counts from zero (all of its time is inside the
    interval); one that ends between them is lost, so groups should be stable during a run.
    """

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = groups

    def snapshot(self) -> CpuSnapshot:
        taken: dict[str, dict[int, int]] = {}
        for name, pids_of in self.groups.items():
            ticks = {}
            for pid in pids_of():
                value = cpu_ticks(pid)
                if value is not None:
                    ticks[pid] = value
            taken[name] = ticks
        busy, total = machine_ticks()
        return CpuSnapshot(taken, busy, total, time.monotonic())

    @staticmethod
    def seconds(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
        """CPU seconds per group, plus `machine`: all the busy CPU time of the machine."""
        spent: dict[str, float] = {}
        for name, ticks in after.groups.items():
            earlier = before.groups.get(name, {})
            spent[name] = (
                sum(max(0, value - earlier.get(pid, 0)) for pid, value in ticks.items()) / CLOCK_TICKS
            )
        spent["machine"] = (after.machine_busy - before.machine_busy) / CLOCK_TICKS
        return spent
