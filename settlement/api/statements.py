"""The statement endpoints: my statements (list, detail) and their reports (CSV, XLSX, PDF).

A partner sees its own statements only; another partner's answers 404, like one that does not
exist. Reports of final statements are served as stored; a draft's are rendered on request.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.errors import ApiError
from clearinghouse.api.pagination import I3CursorPagination, paginated
from clearinghouse.api.permissions import IsActivePartner
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView
from clearinghouse.errors import NotFoundError

from ..models import Statement, StatementState
from ..periods import parse_period_key
from ..selectors.statements import statement_get_visible, statements_visible
from ..services.settlement_reports import CONTENT_TYPES, ReportFile, statement_report_file
from ..services.settlement_representation import statement_out
from ..validation.reader import parse_datetime
from .statements_serializers import StatementDetailOut, StatementOut

ERRORS = error_responses()
NOT_FOUND = {404: OpenApiResponse(description="No such statement of yours")}
LIST_PARAMETERS = [
    OpenApiParameter("since", str, description="only statements changed after this moment (RFC 3339)"),
    OpenApiParameter("period", str, description="a period key: 2026-11, 2026-W48 or 2026-11-26"),
    OpenApiParameter("state", str, enum=StatementState.values, description="only statements in this state"),
    OpenApiParameter("currency", str, description="ISO 4217 code, e.g. EUR"),
    OpenApiParameter("limit", int, description="page size, 1 to 1000 (default 100)"),
    OpenApiParameter("cursor", str, description="the cursor of the `next` link"),
]
LIST_KEYS = {"since", "period", "state", "currency", "limit", "cursor"}


def _invalid(code: str, message: str) -> ApiError:
    return ApiError(code, message, status_code=400)


def _mine(request: Request, pk: int) -> Statement:
    statement = statement_get_visible(partner_id=request.user.partner_id, pk=pk)
    if statement is None:
        raise NotFoundError("statement_not_found", "No such statement of yours.")
    return statement


def report_response(report: ReportFile) -> HttpResponse:
    """The HTTP answer carrying a report: streamed, or sent from its file, as an attachment."""
    if report.chunks is not None:
        response: HttpResponse = StreamingHttpResponse(report.chunks, content_type=report.content_type)
        response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    else:
        response = FileResponse(
            report.file, as_attachment=True, filename=report.filename, content_type=report.content_type
        )
    response["Cache-Control"] = "private, no-store"
    return response


class StatementsView(I3APIView):
    """My settlement statements, in (updated_at, id) order."""

    permission_classes = [IsActivePartner]
    pagination_ordering = ("updated_at", "id")

    @extend_schema(
        operation_id="statements_list",
        parameters=LIST_PARAMETERS,
        responses={200: paginated(StatementOut), **ERRORS},
        tags=["statements"],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        unknown = set(params) - LIST_KEYS
        if unknown:
            raise _invalid("invalid_parameter", f"Unknown parameter(s): {', '.join(sorted(unknown))}.")
        rows = statements_visible(partner_id=request.user.partner_id)
        if params.get("since"):
            since = parse_datetime(params["since"])
            if since is None:
                raise _invalid("invalid_since", "since must be an RFC 3339 date and time.")
            rows = rows.filter(updated_at__gt=since)
        if params.get("period"):
            try:
                period = parse_period_key(params["period"])
            except ValueError as exc:
                raise _invalid("invalid_period", str(exc)) from None
            rows = rows.filter(cadence=period.cadence, period_key=period.key)
        if params.get("state"):
            if params["state"] not in StatementState.values:
                raise _invalid("invalid_state", f"state must be one of {', '.join(StatementState.values)}.")
            rows = rows.filter(state=params["state"])
        if params.get("currency"):
            currency = params["currency"]
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                raise _invalid("invalid_currency", "currency must be an ISO 4217 code such as EUR.")
            rows = rows.filter(currency=currency)
        paginator = I3CursorPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([statement_out(statement) for statement in page])


class StatementDetailView(I3APIView):
    """One statement of mine with its lines and fees."""

    permission_classes = [IsActivePartner]

    @extend_schema(
        operation_id="statements_retrieve",
        responses={200: StatementDetailOut, **ERRORS, **NOT_FOUND},
        tags=["statements"],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(statement_out(_mine(request, pk), detail=True))


class StatementReportView(I3APIView):
    """A report of one statement of mine, as a file: `fmt` is csv, xlsx or pdf."""

    permission_classes = [IsActivePartner]
    renderer_classes = [JSONRenderer]
    fmt = "csv"

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The file is sent as it is; errors are JSON whatever the Accept header asks for.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request, pk: int) -> HttpResponse:
        return report_response(statement_report_file(_mine(request, pk), self.fmt))


def _report_view(fmt: str) -> Any:
    described = extend_schema(
        operation_id=f"statements_report_{fmt}",
        description=f"The {fmt.upper()} report of one of my statements (an attachment).",
        responses={(200, CONTENT_TYPES[fmt].split(";")[0]): OpenApiTypes.BINARY, **ERRORS, **NOT_FOUND},
        tags=["statements"],
    )

    def get(self: StatementReportView, request: Request, pk: int) -> HttpResponse:
        return StatementReportView.get(self, request, pk)

    view = type(
        f"Statement{fmt.title()}ReportView", (StatementReportView,), {"fmt": fmt, "get": described(get)}
    )
    return view.as_view()


REPORT_VIEWS = {fmt: _report_view(fmt) for fmt in CONTENT_TYPES}
