"""JSON for the bulk endpoints and the authorization request by orjson: what DRF's JSONParser and
JSONRenderer give, at a fraction of the CPU (a batch of 500 SDRs is some 600 kB each way; an
authorization is the hub's most frequent request).

Reading: orjson reads an integer beyond 64 bits as a float where the json module keeps it exact,
and refuses some input the json module takes (lone surrogate escapes, NaN, numbers beyond the float
range). A body holding a run of 19 digits, one orjson refuses, or one in another encoding than
UTF-8, is read by DRF's parser, which answers (and fails) exactly as before.

Writing: the same text as DRF's compact, non-ASCII-escaping output, with dates, times, decimals,
lazy strings and dataclasses formatted by DRF's encoder. orjson writes a float below 1e-4 without
an exponent (0.00001 where json writes 1e-05: the same number) and NaN or infinity as null, where
DRF refuses them; the bulk answers carry no floats. Anything orjson cannot write (a key that is not
a string, an integer beyond 64 bits) and pretty-printing go to DRF's renderer.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.mediatypes import parse_header_parameters

from .parsers import I3JSONParser

# A run of 19 digits, found as a run of 19 zeros once every digit is a zero: two passes in C over
# the body (translate, then a substring search) where the regular expression [0-9]{19} counts
# forward from every digit of a 600 kB body, some 3% of a bulk request's CPU.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_UTF8 = frozenset({"utf-8", "utf8"})
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class BulkJSONParser(I3JSONParser):
    """The API's JSONParser by orjson where that reads the same values (see the module's docstring)."""

    def load(self, body: bytes, media_type: str | None, parser_context: Any) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        if encoding.lower() in _UTF8 and _LONG_RUN not in bytes(body).translate(_DIGITS_TO_ZERO):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # DRF's parser says what is wrong, as it always has
        return super().load(body, media_type, parser_context)


class BulkJSONRenderer(JSONRenderer):
    """JSONRenderer by orjson for compact output (see the module's docstring)."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        if self.ensure_ascii or not self.compact or self._indented(accepted_media_type, renderer_context):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF's renderer: U+2028 and U+2029 escaped, so the output is also valid JavaScript.
        if b"\xe2\x80\xa8" in out or b"\xe2\x80\xa9" in out:
            out = out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return out

    def _indented(self, accepted_media_type: str | None, renderer_context: Any) -> bool:
        if accepted_media_type and "indent" in parse_header_parameters(accepted_media_type)[1]:
            return True
        return (renderer_context or {}).get("indent") is not None
