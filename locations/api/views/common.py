"""What the locations endpoints share: role per method, paging, and write answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.pagination import I3CursorPagination
from clearinghouse.api.permissions import IsActivePartner, IsCSO
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView

ERRORS = error_responses(e404="Not found, or not yours")
OPERATOR = OpenApiParameter(
    "operator", str, description="operator ID (DE*ABC) of the CSO, when several publish the same id"
)
OCPI_OBJECT = OpenApiTypes.OBJECT


class CsoWritesView(I3APIView):
    """Reads for any active partner (each sees what is visible to it); writes for CSOs only."""

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsActivePartner()]
        return [IsCSO()]


def paged(view: Any, request: Request, rows: Any, render: Any) -> Response:
    paginator = I3CursorPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(render(page))


def write_answer(result: str, key: str, obj: Any, *, object_type: str, object_id: str) -> Response:
    """201 when created, else 200; the body says what happened and shows the stored object."""
    response = Response({"result": result, key: obj}, status=201 if result == "created" else 200)
    response.audit_object_type = object_type
    response.audit_object_id = object_id
    return response
