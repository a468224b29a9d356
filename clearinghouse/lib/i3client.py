"""A small I3 API client for partners: logs in, signs every request, refreshes its token.

Standard library only, like signing.py beside it: copy both files to talk to the hub. The demo and
the benchmarks use it too, so it is exercised against a running hub.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from . import signing


@dataclass
class I3Response:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class I3Client:
    """Talks to the hub's I3 API at base_url (e.g. http://127.0.0.1:8000/api/i3/v1)."""

    def __init__(
        self, base_url: str, username: str, password: str, secret: str, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.secret = secret
        self.timeout = timeout
        self.access: str | None = None
        self.refresh: str | None = None
        self.expires_at = 0.0

    def login(self) -> None:
        answer = self._send(
            "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
        )
        if answer.status != 200:
            raise RuntimeError(f"login failed: HTTP {answer.status} {answer.body}")
        self.access = answer.body["access"]
        self.refresh = answer.body["refresh"]
        self.expires_at = time.time() + answer.body["expires_in"] - 30

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> I3Response:
        if self.access is None or time.time() >= self.expires_at:
            self.login()
        return self._send(method, path, body, headers=headers)

    def _send(
        self, method: str, path: str, body: Any, *, auth: bool = True, headers: dict[str, str] | None = None
    ) -> I3Response:
        url = self.base_url + path
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", "Accept": "application/json"}
        all_headers.update(signing.signed_headers(self.secret, method, url, data))
        if auth:
            all_headers["Authorization"] = f"Bearer {self.access}"
        all_headers.update(headers or {})
        req = urllib.request.Request(  # noqa: S310 - the base URL is the caller's configuration
            url, data=data if data else None, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - URL set by the caller
                return I3Response(resp.status, dict(resp.headers), _json(resp.read()))
        except urllib.error.HTTPError as err:
            return I3Response(err.code, dict(err.headers), _json(err.read()))

    def get(self, path: str, **kw: Any) -> I3Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> I3Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> I3Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> I3Response:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> I3Response:
        return self.request("DELETE", path, **kw)


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
