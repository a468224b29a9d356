"""SDR intake and text the hub cannot store: a batch holding a NUL character or an unpaired surrogate
is refused whole with a 400 (the body is not JSON the hub accepts), and nothing is stored; a
surrogate pair and an escaped backslash are ordinary text."""

from __future__ import annotations

import json

import pytest

from settlement.models import Sdr
from tests.support import error_code

pytestmark = pytest.mark.django_db

BAD = [r"\u0000", r"A\u0000B", r"\ud800", r"x\udfffy", r"\ud83d"]


def _with_text(document: dict, text: str) -> bytes:
    """The document as JSON with `text` (a JSON string body, escapes as written) as its remark."""
    raw = json.dumps({**document, "remark": "@@"}).encode()
    return raw.replace(b'"@@"', b'"' + text.encode() + b'"')


@pytest.mark.parametrize("text", BAD)
def test_an_sdr_batch_with_unstorable_text_is_400_and_stores_nothing(world, text):
    good = world.cdr()
    bad = dict(world.cdr(), id="SDR-UNSTORABLE")
    body = b"[" + json.dumps(good).encode() + b"," + _with_text(bad, text) + b"]"
    r = world.cso.client.post("/sdrs/", raw=body)
    assert r.status_code == 400, r.content
    assert error_code(r) == "unstorable_text"
    assert Sdr.objects.count() == 0


def test_paired_surrogates_and_escaped_backslashes_are_text_like_any_other(world):
    # An emoji written as a surrogate pair, and the six characters \u0000 (an escaped backslash).
    body = _with_text(world.cdr(), r"\ud83d\ude00 and \\u0000 and \\ud800")
    r = world.cso.client.post("/sdrs/", raw=body)
    assert r.status_code in (200, 201), r.content
    stored = Sdr.objects.get()
    assert stored.cdr["remark"] == "\U0001f600 and \\u0000 and \\ud800"
