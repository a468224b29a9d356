"""Bounded, ordered pagination: cursor based, `limit` at most 1000, a `next` link."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class I3CursorPagination(CursorPagination):
    """Cursor pagination over a stable order; views set `ordering` to end in a unique field."""

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = ("-id",)
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        # A view may give its own ordering; an unordered result set would make pages overlap.
        self.ordering = getattr(view, "pagination_ordering", self.ordering)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        from .errors import ApiError

        try:
            value = int(raw)
        except ValueError:
            raise ApiError(
                "invalid_limit", "limit must be an integer from 1 to 1000.", status_code=400
            ) from None
        if not 1 <= value <= self.max_page_size:
            raise ApiError("invalid_limit", "limit must be an integer from 1 to 1000.", status_code=400)
        return value

    def decode_cursor(self, request: Any) -> Any:
        from rest_framework.exceptions import NotFound

        from .errors import ApiError

        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ApiError("invalid_cursor", "The cursor is not valid.", status_code=400) from None

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


def paginated(serializer_class: type, *, name: str | None = None) -> Any:
    """The OpenAPI shape of a page of `serializer_class` items, for @extend_schema(responses=...)."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(
        name=name or f"Paginated{serializer_class.__name__.removesuffix('Out')}List",
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
        },
    )


def results_of(serializer_class: type, *, name: str | None = None) -> Any:
    """The OpenAPI shape of an unpaginated {"results": [...]} answer."""
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(
        name=name or f"{serializer_class.__name__.removesuffix('Out')}Results",
        fields={"results": serializer_class(many=True)},
    )
