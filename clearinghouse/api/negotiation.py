"""Content negotiation: DRF's, with the API's everyday case answered without parsing.

Partners send `Accept: application/json` (or `*/*`, or no Accept header) to views that render JSON only; DRF
would parse the header into media types and match them against the renderers on every request to
reach the same answer. Anything else (another media type, parameters such as `indent`, a format
override, a view with several renderers, such as the settlement reports) is negotiated by DRF.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

_PLAIN = frozenset({None, "*/*", "application/json"})  # None: no Accept header, as good as */*


class I3ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: Any = None) -> Any:
        if (
            len(renderers) == 1
            and format_suffix is None
            and renderers[0].media_type == "application/json"
            and request.META.get("HTTP_ACCEPT") in _PLAIN
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
