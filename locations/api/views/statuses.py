"""Endpoints of live EVSE status: the bulk update (CSO) and the change feed."""

from __future__ import annotations

from collections import Counter

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.pagination import paginated

from ... import services
from ...selectors.common import Viewer
from ...selectors.statuses import status_changes_render, status_changes_visible
from .. import params
from ..serializers import StatusChangeOut, StatusItemIn, StatusResultsOut
from .common import ERRORS, CsoWritesView, paged


class EvseStatusesView(CsoWritesView):
    """POST: your EVSEs' statuses in bulk, answered per item. GET: the feed of status changes."""

    # The status change log is the trail of these writes; an audit row per request would double
    # the writes of the hottest endpoint.
    audit_writes = False
    throttle_scope = "bulk"
    pagination_ordering = ("received_at", "id")

    @extend_schema(
        request=StatusItemIn(many=True),
        responses={200: StatusResultsOut, **ERRORS},
        tags=["evse-statuses"],
        operation_id="evse_statuses_update",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        params.only(request.query_params, set())
        results = services.evse_statuses_apply(
            cso_id=request.user.partner_id, operator_id=request.user.operator_id, items=request.data
        )
        counts = Counter(result["status"] for result in results)
        return Response({"results": results, "counts": dict(counts)})

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="changes recorded after this moment (RFC 3339)"),
            OpenApiParameter("operator", str, description="operator ID of the CSO, e.g. DE*ABC"),
        ],
        responses={200: paginated(StatusChangeOut), **ERRORS},
        tags=["evse-statuses"],
        operation_id="evse_statuses_list",
    )
    def get(self, request: Request) -> Response:
        params.only(request.query_params, params.STATUS_FEED)
        viewer = Viewer.of(request.user)
        rows = status_changes_visible(
            viewer=viewer,
            since=params.since(request.query_params),
            operator=params.operator(request.query_params),
        )
        now = timezone.now()
        return paged(self, request, rows, lambda page: status_changes_render(page, viewer=viewer, now=now))
