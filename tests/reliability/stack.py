"""A private hub for the fault and soak tests: its own PostgreSQL cluster and Redis on free ports,
and the hub as real processes (gunicorn, Celery worker, Celery beat) in production configuration.

Nothing here touches the PostgreSQL and Redis that CI and other test runs share: a fault test stops,
restarts and kills only what it started. Every wait is bounded, and everything started is stopped
(process groups killed, the cluster stopped, its directory removed) even when a test fails.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """A private service or hub process did not start or stop as it should."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; its value, or StackError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = predicate()
            if value:
                return value
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- processes ------------------------------------------------------------------------------------


class Process:
    """A child in its own process group (so it and its children stop together), logging to a file."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def group_pids(self) -> list[int]:
        """The pids of the process group (the process and the children it forked)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.getpgid(int(entry)) == self.pid:
                        pids.append(int(entry))
        return sorted(pids)

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL after `timeout`; idempotent."""
        self.terminate()
        self.wait_stopped(timeout=timeout)

    def terminate(self) -> None:
        if self.alive():
            self.signal_group(signal.SIGTERM)

    def wait_stopped(self, *, timeout: float = 10.0) -> None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(10)
        # Children that outlived their parent (a killed worker's pool) go too.
        self.signal_group(signal.SIGKILL)
        self._log_file.close()

    def kill(self) -> None:
        """SIGKILL to the whole group at once: no process gets to clean up."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def output(self, lines: int = 40) -> str:
        return tail(self.log, lines)


def rss_kib(pid: int) -> int:
    """Resident memory of one process, KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise StackError(f"PostgreSQL's {tool} is not installed under /usr/lib/postgresql")
    return found[-1]


class Postgres:
    """A PostgreSQL cluster of its own, run as the `postgres` user (PostgreSQL refuses root)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self.port = free_port()
        self.dir.mkdir()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.started = False

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *argv] if self._as_root else list(argv)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise StackError(f"{' '.join(argv[:2])} failed: {done.stdout}{done.stderr}\n{tail(self.logfile)}")
        return done

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=200 "
            # A test cluster: durability is not under test (a fast shutdown still writes everything).
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.started = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(db), autocommit=True, connect_timeout=5)

    def execute(self, sql: str, db: str = "postgres") -> None:
        with self.connect(db) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def query(self, sql: str, db: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect(db) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def close(self) -> None:
        if self.data.exists():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():  # pg_ctl could not stop it: the postmaster goes, its children follow
            with contextlib.suppress(Exception):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


# --- Redis ----------------------------------------------------------------------------------------


class Redis:
    """A redis-server of its own: in memory only, as a child process."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        self.process: Process | None = None

    def start(self) -> None:
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", str(self.dir),
        ]  # fmt: skip
        self.process = Process("redis", argv, env=dict(os.environ), log=self.dir / "redis.log")
        wait_for(self.ping, timeout=15, what="redis-server to answer PING")

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


# --- the hub --------------------------------------------------------------------------------------

# Variables of the caller's environment that would point the hub elsewhere (CI sets several).
_INHERITED_OUT = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX", "CELERY_TASK_ALWAYS_EAGER",
    "TASKS_IN_THREAD", "DJANGO_ENV", "DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE",
)  # fmt: skip


class Hub:
    """The hub on one database of the private cluster: web, worker and beat as real processes, in
    production configuration (DEBUG off, Argon2, tasks on workers through Redis)."""

    def __init__(self, stack: Stack, db: str, settings: dict[str, str]) -> None:
        self.stack = stack
        self.db = db
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logs = stack.workdir / db
        self.logs.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "clearinghouse.settings",
                "DJANGO_ENV": "production",
                "DJANGO_SECRET_KEY": stack.secret_key,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "FIELD_ENCRYPTION_KEY": stack.fernet_key,
                "CREDENTIAL_PEPPER": stack.pepper,
                "DATABASE_URL": stack.postgres.url(db),
                "REDIS_URL": stack.redis.url(0),
                "CACHE_KEY_PREFIX": db,
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "TASKS_IN_THREAD": "false",
                "ROUTING_ALLOW_HTTP": "true",
                "HUB_PUBLIC_URL": self.base_url,
                "LOG_LEVEL": "WARNING",
                "LOG_FORMAT": "text",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(settings)
        self.env = env
        self.web: Process | None = None
        self.workers: list[Process] = []
        self.beat: Process | None = None

    # processes

    def start_web(self, *, workers: int = 2, threads: int = 6) -> Process:
        argv = [
            str(BIN / "gunicorn"), "clearinghouse.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class",
            "clearinghouse.server.BalancedThreadWorker", "--timeout", "60", "--graceful-timeout", "5",
            "--log-level", "warning",
        ]  # fmt: skip
        self.web = Process("web", argv, env=self.env, log=self.logs / "web.log")
        wait_for(self._healthy, timeout=60, what=f"gunicorn on {self.base_url}\n{self.web.output()}")
        return self.web

    def _healthy(self) -> bool:
        import requests

        assert self.web is not None and self.web.alive(), self.web.output() if self.web else ""
        return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200

    def start_worker(self, *, concurrency: int = 2, name: str | None = None) -> Process:
        name = name or f"w{len(self.workers) + 1}"
        log = self.logs / f"worker-{name}.log"
        argv = [
            str(BIN / "celery"), "-A", "clearinghouse", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--pool", "prefork", "-n", f"{name}.{self.db}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = Process(f"worker {name}", argv, env=self.env, log=log)
        start = log.stat().st_size if log.exists() else 0
        self.workers.append(worker)
        # Celery logs " ready." once the worker consumes; only this start's lines count.
        wait_for(
            lambda: worker.alive() and " ready." in log.read_text(errors="replace")[start:],
            timeout=60,
            what=f"celery worker {name}\n{worker.output()}",
        )
        return worker

    def start_beat(self) -> Process:
        argv = [
            str(BIN / "celery"), "-A", "clearinghouse", "beat", "--loglevel", "INFO", "--pidfile=",
            "--max-interval", "1",
        ]  # fmt: skip
        self.beat = Process("beat", argv, env=self.env, log=self.logs / "beat.log")
        wait_for(
            lambda: self.beat is not None and self.beat.alive() and "beat: Starting" in self.beat.output(400),
            timeout=60,
            what=f"celery beat\n{self.beat.output()}",
        )
        return self.beat

    def processes(self) -> list[Process]:
        return [p for p in (self.web, *self.workers, self.beat) if p is not None]

    def stop(self) -> None:
        """Stop every process, all at once (each gets SIGTERM, then SIGKILL after 10 s)."""
        for process in self.processes():
            process.terminate()
        for process in self.processes():
            process.wait_stopped()

    def start(self, *, web: bool = True, workers: int = 1, beat: bool = True) -> None:
        """Start the processes side by side, and wait until each is ready."""
        jobs: list[Callable[[], Any]] = []
        if web:
            jobs.append(self.start_web)
        jobs += [self.start_worker] * workers
        if beat:
            jobs.append(self.start_beat)
        with ThreadPoolExecutor(len(jobs)) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run `manage.py` with the hub's configuration; its standard output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def send_task(self, name: str, *args: Any) -> None:
        """Enqueue a task by name through the hub's broker (as beat or a staff action would)."""
        from celery import Celery

        app = Celery("reliability", broker=self.env["REDIS_URL"])
        try:
            app.send_task(name, args=list(args))
        finally:
            app.close()

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.stack.postgres.query(sql, self.db, params)

    def diagnostics(self) -> str:
        """The last lines of every process log, for an assertion message."""
        parts = [
            f"--- {p.name} (pid {p.pid}, {'alive' if p.alive() else 'exited'})\n{p.output(25)}"
            for p in self.processes()
        ]
        return "\n".join(parts)


class Stack:
    """The private PostgreSQL and Redis, and a migrated template database that each hub copies."""

    TEMPLATE = "hub_template"

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ch-reliability-"))
        os.chmod(self.workdir, 0o755)  # the postgres user reaches its cluster directory inside
        self.secret_key = secrets.token_urlsafe(64)
        self.fernet_key = Fernet.generate_key().decode()
        self.pepper = secrets.token_urlsafe(32)
        self.postgres: Postgres
        self.redis: Redis
        self.hubs: list[Hub] = []
        self._count = 0

    def start(self) -> Stack:
        self.postgres = Postgres(self.workdir)
        self.postgres.start()
        self.redis = Redis(self.workdir)
        self.redis.start()
        self.postgres.execute(f"CREATE DATABASE {self.TEMPLATE}")
        migrator = Hub(self, self.TEMPLATE, {})
        migrator.manage("migrate", "--noinput", "-v", "0", timeout=300)
        return self

    def ensure_up(self) -> None:
        """Services a previous test stopped are started again."""
        if not self.postgres.started:
            self.postgres.start()
        if self.redis.process is None or not self.redis.process.alive():
            self.redis.start()

    def hub(self, **settings: Any) -> Hub:
        """A hub on a fresh copy of the migrated database (Redis flushed): nothing from before."""
        self.ensure_up()
        self._count += 1
        db = f"hub_{self._count}"
        self.postgres.execute(f"CREATE DATABASE {db} TEMPLATE {self.TEMPLATE}")
        self.redis.flush()
        hub = Hub(self, db, {k: str(v) for k, v in settings.items()})
        self.hubs.append(hub)
        return hub

    def close(self) -> None:
        for hub in self.hubs:
            with contextlib.suppress(Exception):
                hub.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            self.postgres.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def private_stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        yield stack.start()
    finally:
        stack.close()


# --- partner endpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the partner's server saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.headers.get("x-i3-message-id", "")

    @property
    def event_type(self) -> str:
        return self.headers.get("x-i3-event-type", "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        receiver.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status, answer = receiver.answer_for(self.path)
        content = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    receiver: Receiver


class Receiver:
    """A partner's endpoint on 127.0.0.1 that can go down and come back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/i3"
        self.received: list[Received] = []
        # CSOs accept commands at once; everything else is taken with a 200.
        self.answers: dict[str, tuple[int, Any]] = {
            "/i3/commands": (200, {"result": "ACCEPTED", "timeout": 30})
        }
        self._lock = threading.Lock()
        self._httpd: _Server | None = None

    def start(self) -> Receiver:
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.receiver = self
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._httpd = httpd
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def answer_for(self, path: str) -> tuple[int, Any]:
        return self.answers.get(path, (200, {"ok": True}))

    def of(self, event_prefix: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.event_type.startswith(event_prefix)]
