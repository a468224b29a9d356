"""Signed HTTP to a running hub, as a partner talks to it: log in, sign every request, race many.

Standard requests over real sockets (the live server of a test, or a gunicorn started by a fault
test), so what is measured is what a partner sees.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from clearinghouse.lib import signing

API = "/api/i3/v1"
T = TypeVar("T")


class I3Auth(requests.auth.AuthBase):
    """Signs a prepared request exactly as a partner would, and adds the bearer token."""

    def __init__(self, secret: str, access: str | None) -> None:
        self.secret = secret
        self.access = access

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        request.headers[signing.HEADER_TIMESTAMP] = timestamp
        request.headers[signing.HEADER_NONCE] = nonce
        request.headers[signing.HEADER_SIGNATURE] = signing.sign(
            self.secret, request.method or "GET", request.path_url, timestamp, nonce, body
        )
        if self.access and "Authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {self.access}"
        return request


class Partner:
    """A partner's API login against the hub at `base_url` (e.g. http://127.0.0.1:8000)."""

    def __init__(
        self, base_url: str, *, username: str, password: str, secret: str, timeout: float = 30
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.secret = secret
        self.timeout = timeout
        self.access: str | None = None

    def login(self) -> Partner:
        answer = self.send(
            "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
        )
        assert answer.status_code == 200, (answer.status_code, answer.content[:300])
        self.access = answer.json()["access"]
        return self

    def session(self) -> requests.Session:
        """A session of its own (one keep-alive connection), signing with this login."""
        if self.access is None:
            self.login()
        session = requests.Session()
        session.auth = I3Auth(self.secret, self.access)
        return session

    def connected_sessions(self, count: int) -> list[requests.Session]:
        """`count` sessions, each with its connection open already (opened one after another, so a
        race between them starts at the request, not at a listen queue's TCP handshakes)."""
        sessions = [self.session() for _ in range(count)]
        for session in sessions:
            assert session.get(self.base_url + "/healthz", timeout=self.timeout).status_code == 200
        return sessions

    def signed(
        self, method: str, path: str, data: Any = None, *, nonce: str | None = None, auth: bool = True
    ) -> dict[str, Any]:
        """Everything a request consists of, signed: to send (and send again, for a replay)."""
        if auth and self.access is None:
            self.login()
        target = API + path
        body = b"" if data is None else json.dumps(data).encode()
        timestamp = str(int(time.time()))
        nonce = nonce or secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            signing.HEADER_TIMESTAMP: timestamp,
            signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signing.sign(self.secret, method, target, timestamp, nonce, body),
        }
        if auth:
            headers["Authorization"] = f"Bearer {self.access}"
        return {"method": method, "url": self.base_url + target, "data": body, "headers": headers}

    def send(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> requests.Response:
        """One signed request (with the bearer token unless `auth` is False)."""
        prepared = self.signed(method, path, data, auth=auth)
        prepared["headers"].update(headers or {})
        return (session or requests).request(timeout=self.timeout, **prepared)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.send("GET", path, **kw)

    def post(self, path: str, data: Any = None, **kw: Any) -> requests.Response:
        return self.send("POST", path, data, **kw)

    def put(self, path: str, data: Any = None, **kw: Any) -> requests.Response:
        return self.send("PUT", path, data, **kw)

    def patch(self, path: str, data: Any = None, **kw: Any) -> requests.Response:
        return self.send("PATCH", path, data, **kw)


def race(count: int, action: Callable[[int], T], *, timeout: float = 60) -> list[T]:
    """Run `action(i)` in `count` threads released at the same moment; their results, in order.

    An exception in a thread is re-raised here, so a crash never passes as a missing answer.
    """
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout)
            results[index] = action(index)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), (
        f"some of {count} racing requests did not finish in {timeout}s"
    )
    return results


def error_code(response: requests.Response) -> str:
    """The code of an answer in the one error format (asserting the format)."""
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]
