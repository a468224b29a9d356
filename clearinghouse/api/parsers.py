"""The API's JSON parser: DRF's, refusing text the hub cannot store.

JSON may carry, as escapes, characters that no column can hold: NUL (`\\u0000`), which PostgreSQL
refuses in text and jsonb, and unpaired surrogates (`\\ud800` alone), which no UTF-8 encoding can
write, so they could be neither hashed, signed, stored nor sent on. Such a body is refused whole
with a 400 in the error format, before any view sees it. Only a body holding one of those escapes
is searched (a surrogate pair, as clients write characters beyond the BMP, is fine): the cost of
the check on any other body is one scan of its bytes.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A NUL or surrogate escape; a preceding backslash (an escaped backslash) makes it plain text, which
# the search of the parsed values then finds harmless.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UTF8 = frozenset({"utf-8", "utf8"})


class UnstorableText(ParseError):
    default_code = "unstorable_text"


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_text(data: Any) -> bool:
    """Whether any string of a parsed JSON document (keys included) cannot be stored."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _storable(item):
                return True
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and not _storable(key):
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def refuse_unstorable(body: bytes, data: Any, encoding: str) -> Any:
    """`data` parsed from `body`; raises UnstorableText when it holds text no column can hold."""
    suspect = encoding.lower() not in _UTF8 or _SUSPECT.search(body) is not None
    if suspect and unstorable_text(data):
        raise UnstorableText(
            "The body holds text the hub cannot store: a NUL character (\\u0000) or an unpaired "
            "surrogate (\\ud800-\\udfff without its pair)."
        )
    return data


class I3JSONParser(JSONParser):
    """DRF's JSONParser, refusing text the hub cannot store (see the module's docstring)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read()
        data = self.load(body, media_type, parser_context)
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        return refuse_unstorable(body, data, encoding)

    def load(self, body: bytes, media_type: str | None, parser_context: Any) -> Any:
        """The document, as DRF's parser reads it."""
        return super().parse(io.BytesIO(body), media_type, parser_context)
