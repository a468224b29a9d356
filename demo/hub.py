"""Reaching the hub: its readiness probe, its management commands (run as subprocesses from the
project root with the caller's environment, which must be the hub's), and the partners' API logins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearinghouse.lib import signing
from clearinghouse.lib.i3client import I3Client, I3Response

from .partners import PartnerEndpoint

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = "/api/i3/v1"


class HubError(Exception):
    """The hub cannot be used: not running, or a management command failed."""


def readiness(hub_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET /readyz; raises HubError when the hub does not answer ready."""
    try:
        with urllib.request.urlopen(hub_url.rstrip("/") + "/readyz", timeout=timeout) as resp:  # noqa: S310 - the operator's URL
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise HubError(f"{hub_url}/readyz answered {exc.code}: {exc.read()[:300]!r}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise HubError(f"no hub answers at {hub_url} ({exc}); start it with `make run`") from None


def _manage(args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(PROJECT_ROOT / "manage.py"), *args]
    try:
        return subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
            command, cwd=PROJECT_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise HubError(f"manage.py {args[0]} took longer than {timeout:.0f} s") from None


def manage(*args: str, timeout: float = 120.0) -> dict[str, Any]:
    """Run `python manage.py <args>` from the project root with this process's environment (the
    hub's) and return the JSON object it prints."""
    done = _manage(args, timeout)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise HubError(f"manage.py {args[0]} exited {done.returncode}: {detail[-1] if detail else ''}")
    return last_json_object(done.stdout)


def manage_text(*args: str, timeout: float = 120.0) -> tuple[int, str]:
    """Run a management command; its exit status and everything it printed."""
    done = _manage(args, timeout)
    return done.returncode, (done.stdout + done.stderr).strip()


def last_json_object(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    try:
        return json.loads(text)
    except ValueError:
        raise HubError(f"expected a JSON object, got: {text.strip()[:300]}") from None


@dataclass
class Partner:
    """A simulated partner: who it is at the hub, its API login and its endpoint."""

    key: str  # short name in the demo: "cso1", "csp2", ...
    name: str
    country: str
    party_id: str
    role: str  # CSO or CSP
    endpoint: PartnerEndpoint
    partner_id: int = 0
    username: str = ""
    password: str = ""
    secret: str = ""
    client: I3Client | None = None

    @property
    def operator_id(self) -> str:
        return f"{self.country}*{self.party_id}"

    @property
    def provider_id(self) -> str:
        return f"{self.country}-{self.party_id}"

    @property
    def ident(self) -> str:
        return self.operator_id if self.role == "CSO" else self.provider_id

    @property
    def api(self) -> Api:
        assert self.client is not None, "the partner is not onboarded yet"
        return Api(self.client)


class Api:
    """The partner's signed I3 client (clearinghouse/lib/i3client.py), with an Idempotency-Key when
    asked, timed calls for the latency figures, and raw downloads for the report files."""

    def __init__(self, client: I3Client) -> None:
        self.client = client

    def get(self, path: str) -> I3Response:
        return self.client.get(path)

    def post(
        self, path: str, body: Any = None, *, headers: dict[str, str] | None = None, idempotent: bool = False
    ) -> I3Response:
        extra = dict(headers or {})
        if idempotent:
            extra["Idempotency-Key"] = uuid.uuid4().hex
        return self.client.post(path, body, headers=extra)

    def put(self, path: str, body: Any) -> I3Response:
        return self.client.put(path, body)

    def patch(self, path: str, body: Any) -> I3Response:
        return self.client.patch(path, body)

    def timed_post(self, path: str, body: Any, headers: dict[str, str]) -> tuple[I3Response, float]:
        started = time.perf_counter()
        answer = self.client.post(path, body, headers=headers)
        return answer, time.perf_counter() - started

    def get_raw(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        """A GET whose answer is a file, not JSON: the raw bytes (signed like every request)."""
        client = self.client
        if client.access is None or time.time() >= client.expires_at:
            client.login()
        url = client.base_url + path
        headers = signing.signed_headers(client.secret, "GET", url, b"")
        headers["Authorization"] = f"Bearer {client.access}"
        request = urllib.request.Request(url, method="GET", headers=headers)  # noqa: S310 - hub URL
        try:
            with urllib.request.urlopen(request, timeout=client.timeout) as resp:  # noqa: S310 - hub URL
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)


def login(partner: Partner, hub_url: str) -> None:
    """Give the partner a signed client and log it in; a clear HubError if the hub does not know it
    (the demo's management commands wrote to another database than the hub's)."""
    partner.client = I3Client(
        hub_url.rstrip("/") + API_PREFIX, partner.username, partner.password, partner.secret
    )
    try:
        partner.client.login()
    except RuntimeError as exc:
        raise HubError(
            f"{partner.ident} was onboarded but cannot log in ({exc}). Run the demo with the same "
            "environment as the hub (DATABASE_URL, DJANGO_SECRET_KEY, FIELD_ENCRYPTION_KEY...)."
        ) from None
