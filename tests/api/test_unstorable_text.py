"""Text the hub cannot store (a NUL character, an unpaired surrogate) is refused with a 400 at the
door, on every endpoint, before anything is stored: PostgreSQL refuses NUL in text and jsonb, and an
unpaired surrogate cannot be encoded to be hashed, signed or stored."""

from __future__ import annotations

import pytest

from tests.support import error_code

pytestmark = pytest.mark.django_db

BAD = [r"\u0000", r"A\u0000B", r"\ud800", r"x\udfffy", r"\ud83d"]


@pytest.mark.parametrize("text", BAD)
def test_any_endpoint_refuses_unstorable_text_in_keys_and_values(cso, text):
    for raw in (
        b'{"name": "' + text.encode() + b'"}',
        b'{"' + text.encode() + b'": 1}',
        b'[{"a": ["ok", {"b": "' + text.encode() + b'"}]}]',
    ):
        r = cso.client.post("/authorizations/", raw=raw)
        assert r.status_code == 400, r.content
        assert error_code(r) == "unstorable_text"


@pytest.mark.parametrize(
    "path", ["/sessions/A%00B", "/locations/A%00B", "/tariffs/A%00B", "/sessions/?since=%00", "/sdrs/?%00=1"]
)
def test_a_nul_in_the_path_or_the_query_is_400(cso, csp, path):
    for partner in (cso, csp):
        r = partner.client.get(path)
        assert r.status_code == 400, r.content
        assert error_code(r) == "unstorable_text"
