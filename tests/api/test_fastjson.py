"""The bulk endpoints' JSON (clearinghouse.api.fastjson): the same values and text as DRF's."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from clearinghouse.api.fastjson import BulkJSONParser, BulkJSONRenderer
from clearinghouse.api.parsers import I3JSONParser

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def parse(parser, body: bytes, encoding: str = "utf-8"):
    return parser.parse(io.BytesIO(body), "application/json", {"encoding": encoding})


def outcome(parser, body: bytes, encoding: str = "utf-8"):
    try:
        return ("ok", parse(parser, body, encoding))
    except ParseError as exc:
        return ("error", str(exc.detail))


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_parser_reads_what_drfs_reads(value):
    # The API's parser is DRF's, refusing text no column can hold (clearinghouse.api.parsers).
    body = json.dumps(value, ensure_ascii=False).encode()
    assert outcome(BulkJSONParser(), body) == outcome(I3JSONParser(), body)
    if outcome(I3JSONParser(), body)[0] == "ok":
        assert parse(I3JSONParser(), body) == parse(JSONParser(), body)


@pytest.mark.parametrize(
    "body",
    [
        b"123456789012345678901234567890",  # orjson would read a float
        b"[-9223372036854775809, 18446744073709551616]",
        b'{"a": 1, "a": 2}',
        b'"\\ud800"',  # a lone surrogate: json takes it, orjson does not
        b"NaN",
        b"[1e400]",
        b'["\xff"]',
        b"\xef\xbb\xbf[]",
        b"[1]x",
        b"",
        b'{"remark": "\\u2028 \\u0000"}',
    ],
)
def test_the_parser_answers_every_edge_as_drfs_does(body):
    assert outcome(BulkJSONParser(), body) == outcome(I3JSONParser(), body)


def test_the_parser_leaves_other_encodings_to_drf():
    body = '{"name": "Zoë"}'.encode("latin-1")
    assert outcome(BulkJSONParser(), body, "latin-1") == ("ok", {"name": "Zoë"})


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_renderer_writes_drfs_text(value):
    def small_float(v):
        if isinstance(v, float):
            return v != 0 and abs(v) < 1e-4
        if isinstance(v, list):
            return any(small_float(x) for x in v)
        if isinstance(v, dict):
            return any(small_float(x) for x in v.values())
        return False

    ours, theirs = BulkJSONRenderer().render(value), JSONRenderer().render(value)
    if value is not None:  # None renders as no body
        assert json.loads(ours) == json.loads(theirs)
    if not small_float(value):  # 0.00001 here, 1e-05 there: the same number
        assert ours == theirs


@dataclass
class Point:
    x: int


def test_the_renderer_formats_other_types_as_drf_does():
    data = {
        "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "money": Decimal("1.5000"),
        "id": uuid.UUID(int=7),
        "lazy": gettext_lazy("Pending"),
        "line": "a\u2028b\u2029c",
        "tuple": (1, 2),
    }
    assert BulkJSONRenderer().render(data) == JSONRenderer().render(data)
    # What orjson cannot write goes to DRF's renderer: keys that are not strings, huge integers.
    for odd in ({1: "a"}, [2**70]):
        assert BulkJSONRenderer().render(odd) == JSONRenderer().render(odd)
    assert BulkJSONRenderer().render(None) == b""
    # What neither can write fails the same way.
    for renderer in (BulkJSONRenderer(), JSONRenderer()):
        with pytest.raises(TypeError, match="Point is not JSON serializable"):
            renderer.render({"point": Point(1)})
    indented = BulkJSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert indented == JSONRenderer().render({"a": 1}, "application/json; indent=2")
