"""I3 endpoints of privacy (CSP): erasures of contracts and the export of a contract's data."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.pagination import I3CursorPagination, paginated
from clearinghouse.api.permissions import IsCSP
from clearinghouse.api.views import I3APIView
from clearinghouse.errors import InvalidInput, NotFoundError

from .. import selectors, services
from ..models import Channel
from .serializers import ErasureIn, ErasureOut, ExportOut

ERRORS = {
    400: OpenApiResponse(description="Invalid request: no or a malformed contract ID (error format)"),
    401: OpenApiResponse(description="Not authenticated, bad signature, replayed nonce or stale timestamp"),
    403: OpenApiResponse(description="Partner suspended or terminated, or not a CSP"),
    404: OpenApiResponse(description="No such contract or erasure among yours"),
}
NO_STORE = {"Cache-Control": "no-store"}


def _contract_in(data: Any) -> object:
    if not isinstance(data, dict):
        raise InvalidInput("invalid_body", "the body must be a JSON object with contract_id")
    unknown = sorted(set(data) - {"contract_id"})
    if unknown:
        raise InvalidInput(
            "unknown_field", f"unknown field(s): {', '.join(unknown)[:200]}", {"field": unknown[0]}
        )
    return data.get("contract_id")


class ErasuresView(I3APIView):
    """`POST`: forget one of my contracts (the right to be forgotten). `GET`: my erasures."""

    permission_classes = [IsCSP]
    pagination_ordering = ("requested_at", "id")
    # The erasure is recorded by the service, with its pseudonym and counts.
    audit_writes = False

    @extend_schema(
        request=ErasureIn,
        responses={
            201: ErasureOut,
            200: OpenApiResponse(ErasureOut, description="The contract's erasure existed: the same one"),
            **ERRORS,
        },
        tags=["privacy"],
        operation_id="privacy_erasures_create",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        answer = services.erasure_request(
            contract_id=_contract_in(request.data), csp_id=request.user.partner_id, channel=Channel.API
        )
        body = selectors.erasure_json(answer.erasure)
        return Response(body, status=201 if answer.created else 200)

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="page size, at most 1000")],
        responses={200: paginated(ErasureOut), **ERRORS},
        tags=["privacy"],
        operation_id="privacy_erasures_list",
    )
    def get(self, request: Request) -> Response:
        paginator = I3CursorPagination()
        page = paginator.paginate_queryset(
            selectors.erasures_of(csp_id=request.user.partner_id), request, view=self
        )
        return paginator.get_paginated_response([selectors.erasure_json(e) for e in page])


class ErasureDetailView(I3APIView):
    """The state of one of my erasures (SCHEDULED while the contract's sessions go on)."""

    permission_classes = [IsCSP]

    @extend_schema(responses={200: ErasureOut, **ERRORS}, tags=["privacy"])
    def get(self, request: Request, pk: int) -> Response:
        erasure = selectors.erasure_get_for_csp(csp_id=request.user.partner_id, erasure_id=pk)
        if erasure is None:
            raise NotFoundError("not_found", "No such erasure.")
        return Response(selectors.erasure_json(erasure))


class ExportView(I3APIView):
    """Everything the hub holds on one of my contracts, as one JSON document for the driver."""

    permission_classes = [IsCSP]

    @extend_schema(
        parameters=[OpenApiParameter("contract_id", str, required=True, description="in any spelling")],
        responses={200: ExportOut, **ERRORS},
        tags=["privacy"],
        operation_id="privacy_export",
    )
    def get(self, request: Request) -> Response:
        document = services.contract_export(
            contract_id=request.query_params.get("contract_id"),
            csp_id=request.user.partner_id,
            channel=Channel.API,
        )
        return Response(document, headers=NO_STORE)
