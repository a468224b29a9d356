"""The hub as production serves it: gunicorn gthread workers on PostgreSQL and Redis.

Set-up goes through the hub's own doors: management commands for what staff do (onboarding,
agreements) and the signed I3 API for what partners do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import postgres
from .procs import Server, free_port

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from clearinghouse.lib import signing  # noqa: E402
from clearinghouse.lib.i3client import I3Client  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
API = "/api/i3/v1"
UNLIMITED = "1000000/s"
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "WEB_CPU_PINNING")


@dataclass
class Partner:
    """A partner onboarded for a benchmark, with its API login."""

    partner_id: int
    operator_id: str | None
    provider_id: str | None
    username: str
    password: str
    secret: str


class Hub:
    """One bench database (created, migrated, dropped) and the hub served on it."""

    def __init__(self, *, work_dir: Path, redis_url: str, workers: int = 2, threads: int = 6) -> None:
        self.work_dir = work_dir
        self.redis_url = redis_url
        self.workers = workers
        self.threads = threads
        self.cache_prefix = f"chbench{os.getpid()}"
        self.database = ""
        self.server: Server | None = None
        self.worker: Server | None = None
        self.worker_used = False
        self.port = 0
        self.pg_pids: postgres.BackendPids | None = None
        self.pg_shared_pids: postgres.BackendPids | None = None

    # --- environment, database, commands -------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "clearinghouse.settings",
                "DJANGO_ENV": "development",
                "DJANGO_DEBUG": "false",
                "DATABASE_URL": postgres.database_url(self.database),
                "REDIS_URL": self.redis_url,
                "CACHE_KEY_PREFIX": self.cache_prefix,
                "I3_THROTTLE_DEFAULT": UNLIMITED,
                "I3_THROTTLE_AUTHORIZATION": UNLIMITED,
                "I3_THROTTLE_BULK": UNLIMITED,
                "LOG_LEVEL": "WARNING",
                "PYTHONDONTWRITEBYTECODE": "1",
                # A PostgreSQL backend that exits during a run takes the CPU it used with it (the
                # probe reads it from /proc), so the hub's connections, which it otherwise renews
                # every 60 s, live through the whole suite. Renewal costs a connection set-up a
                # minute per thread: nothing per request.
                "DATABASE_CONN_MAX_AGE": "3600",
            }
        )
        return env

    def create_database(self) -> None:
        self.database = postgres.create()
        self.pg_pids = postgres.BackendPids(self.database)
        self.pg_shared_pids = postgres.BackendPids(self.database, shared=True)
        started = time.monotonic()
        self.manage("migrate", "--noinput", "-v", "0")
        print(f"  bench database {self.database} migrated in {time.monotonic() - started:.1f} s", flush=True)

    def manage(self, *args: str) -> str:
        proc = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:2])} failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout

    def shell(self, code: str) -> str:
        """Run Python inside the hub (`manage.py shell -c`) for set-up steps the API does not offer."""
        return self.manage("shell", "-c", code)

    # --- the server ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(VENV_BIN / "gunicorn"),
            "clearinghouse.wsgi:application",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            # As docker/entrypoint.sh serves: one shared socket, each new connection taken by the
            # worker that holds the fewest (clearinghouse/server.py).
            "--worker-class",
            "clearinghouse.server.BalancedThreadWorker",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
        ]

    def start(self) -> None:
        self.port = free_port()
        self.server = Server(
            name="hub (gunicorn)",
            command=self.command(),
            env=self.env(),
            cwd=REPO,
            log_path=self.work_dir / "hub.log",
        ).start()
        self.server.wait_ready(f"{self.base_url}/healthz", expect=lambda status: status == 200)
        print(f"  hub: {' '.join(self.command()[1:])}", flush=True)

    def start_worker(self, *, concurrency: int = 2) -> None:
        """A Celery worker (prefork) for the outbound deliveries, as production runs them."""
        if self.worker is not None:
            return
        self.worker_used = True
        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "clearinghouse",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
        ]
        self.worker = Server(
            name="celery worker",
            command=command,
            env=self.env(),
            cwd=REPO,
            log_path=self.work_dir / "worker.log",
        ).start()
        print(f"  worker: celery {' '.join(command[1:])}", flush=True)

    def pids(self) -> list[int]:
        return self.server.pids() if self.server else []

    def worker_pids(self) -> list[int]:
        return self.worker.pids() if self.worker else []

    def postgres_pids(self) -> list[int]:
        return self.pg_pids() if self.pg_pids else []

    def postgres_shared_pids(self) -> list[int]:
        return self.pg_shared_pids() if self.pg_shared_pids else []

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        for pids in (self.pg_pids, self.pg_shared_pids):
            if pids is not None:
                pids.close()
        if self.database:
            postgres.drop(self.database)
            self.database = ""
        self._forget_cache_keys()

    def _forget_cache_keys(self) -> None:
        """The nonces, throttle counters and cached principals the runs left in Redis."""
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{self.cache_prefix}:*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
        if self.worker_used:
            # The Celery queue and bindings of the broker (the suite's own Redis database).
            keys = [*client.scan_iter(match="_kombu.binding*"), b"celery", b"unacked", b"unacked_index"]
            client.unlink(*keys)

    # --- partners ------------------------------------------------------------------------------

    def onboard(self, *, name: str, country: str, party: str, roles: str) -> Partner:
        out = self.manage(
            "partner_onboard", "--name", name, "--country", country, "--party-id", party, "--roles", roles
        )
        data = json.loads(out.strip().splitlines()[-1])
        return Partner(
            partner_id=data["partner_id"],
            operator_id=data["operator_id"],
            provider_id=data["provider_id"],
            username=data["username"],
            password=data["password"],
            secret=data["hmac_secret"],
        )

    def agreement(
        self,
        *,
        cso: Partner,
        csp: Partner,
        authorization: str,
        mode: str = "CLEARING_HOUSE",
        valid_from: str | None = None,
    ) -> None:
        assert cso.operator_id and csp.provider_id
        args = [
            "--cso",
            cso.operator_id,
            "--csp",
            csp.provider_id,
            "--mode",
            mode,
            "--authorization",
            authorization,
        ]
        if valid_from:
            args += ["--valid-from", valid_from]
        self.manage("agreement_create", *args)

    def client(self, partner: Partner) -> I3Client:
        client = I3Client(self.base_url + API, partner.username, partner.password, partner.secret)
        client.login()
        return client


class Signer:
    """Makes signed requests for wrk from a logged-in client: fresh nonce, current timestamp each."""

    def __init__(self, client: I3Client) -> None:
        self.client = client

    def token(self) -> str:
        # A token with at least five minutes left outlives any run that uses it.
        if self.client.access is None or time.time() > self.client.expires_at - 300:
            self.client.login()
        assert self.client.access is not None
        return self.client.access

    def request(self, method: str, path: str, body: Any = None, *, now: float | None = None) -> Any:
        from .wrk import Request

        target = API + path
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Authorization": f"Bearer {self.token()}",
            "Accept": "application/json",
            **signing.signed_headers(self.client.secret, method, target, data, now=now),
        }
        if data:
            headers["Content-Type"] = "application/json"
        return Request(method, target, data, headers)
