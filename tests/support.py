"""Test helpers: onboard partners through the services and talk to the API with signed requests."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from clearinghouse.lib import signing
from partners import services
from partners.models import Partner

API = "/api/i3/v1"


@dataclass
class Onboarded:
    partner: Partner
    username: str
    password: str
    secret: str
    client: I3Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = I3Client(username=self.username, password=self.password, secret=self.secret)


def onboard(
    *, name: str, country: str, party: str, roles: list[str], endpoint: str | None = None, **extra: Any
) -> Onboarded:
    partner, issued = services.partner_onboard(
        name=name, country_code=country, party_id=party, roles=roles, endpoint_url=endpoint, **extra
    )
    return Onboarded(
        partner=partner, username=issued.username, password=issued.password, secret=issued.hmac_secret
    )


class I3Client:
    """A partner's API client: signs every request and carries the bearer token after login."""

    def __init__(self, *, username: str, password: str, secret: str) -> None:
        self.username = username
        self.password = password
        self.secret = secret
        self.django = Client()
        self.access: str | None = None
        self.refresh: str | None = None

    def signed_headers(
        self,
        method: str,
        target: str,
        body: bytes,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        n = nonce or secrets.token_hex(16)
        return {
            signing.HEADER_TIMESTAMP: ts,
            signing.HEADER_NONCE: n,
            signing.HEADER_SIGNATURE: signing.sign(secret or self.secret, method, target, ts, n, body),
        }

    def login(self) -> Any:
        response = self.request(
            "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
        )
        assert response.status_code == 200, response.content
        self.access = response.json()["access"]
        self.refresh = response.json()["refresh"]
        return response

    def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        raw: bytes | None = None,
        auth: bool = True,
        sign: bool = True,
        headers: dict[str, str] | None = None,
        **sign_opts: Any,
    ) -> Any:
        target = path if path.startswith("/api/") else API + path
        body = raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
        all_headers: dict[str, str] = {}
        if sign:
            all_headers.update(self.signed_headers(method, target, body, **sign_opts))
        if auth:
            if self.access is None:
                self.login()
            all_headers["Authorization"] = f"Bearer {self.access}"
        all_headers.update(headers or {})
        return self.django.generic(
            method, target, data=body, content_type="application/json", headers=all_headers
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, data, **kw)

    def put(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, data, **kw)

    def patch(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, data, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]
