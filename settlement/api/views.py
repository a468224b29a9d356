"""The SDR endpoints: intake (CSO), list and detail (both sides), accept and dispute (CSP),
corrections (CSO). Each view checks its input, calls one service and shapes the answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.collector import pauses_collector
from clearinghouse.api.errors import ApiError, error_body
from clearinghouse.api.fastjson import BulkJSONParser, BulkJSONRenderer
from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.pagination import I3CursorPagination, paginated
from clearinghouse.api.permissions import IsActivePartner, IsCSO, IsCSP
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView
from clearinghouse.errors import NotFoundError

from .. import selectors, services
from ..models import SdrState
from ..representation import sdr_out_loaded
from ..services.sdr_batch import CONFLICT, REJECTED, ItemResult
from ..services.sdr_intake import IntakeOutcome
from ..validation.reader import parse_datetime
from .serializers import CorrectionIn, CorrectionOut, DisputeIn, IntakeOut, SdrOut

ERRORS = error_responses(e404="No such SDR of yours")
LIST_PARAMETERS = [
    OpenApiParameter("since", str, description="only SDRs changed after this moment (RFC 3339)"),
    OpenApiParameter("state", str, enum=SdrState.values, description="only SDRs in this state"),
    OpenApiParameter("role", str, enum=["CSO", "CSP"], description="only the SDRs I sent (CSO) or pay (CSP)"),
    OpenApiParameter("limit", int, description="page size, 1 to 1000 (default 100)"),
    OpenApiParameter("cursor", str, description="the cursor of the `next` link"),
]
LIST_KEYS = {"since", "state", "role", "limit", "cursor"}


def _visible(request: Request, pk: int) -> Any:
    user = request.user
    sdr = selectors.sdr_get_visible(partner_id=user.partner_id, is_cso=user.is_cso, is_csp=user.is_csp, pk=pk)
    if sdr is None:
        raise NotFoundError("sdr_not_found", "No such SDR of yours.")
    return sdr


def _item_error(item: ItemResult, outcome: IntakeOutcome) -> dict[str, Any]:
    """The error object of an item that was not stored as asked (the API's one error format)."""
    if item.result == REJECTED:
        errors = [f for f in item.findings if f.is_error]
        first = errors[0].message if errors else "the SDR is not valid"
        details: dict[str, Any] = {"findings": [f.to_json() for f in item.findings]}
        if item.sdr is not None:
            details["sdr"] = {"id": item.sdr.pk, "state": item.sdr.effective_state}
        return error_body("sdr_rejected", f"The hub rejected the SDR: {first}.", details)["error"]
    if item.result == CONFLICT:
        assert item.sdr is not None
        return error_body(
            "sdr_conflict",
            "An SDR with this id and another content is stored already; send a credit to change it.",
            {"sdr": {"id": item.sdr.pk, "state": item.sdr.effective_state}},
        )["error"]
    return error_body("invalid_item", "Each item must be an OCPI CDR object.", {})["error"]


class SdrsView(I3APIView):
    """SDRs: send one or a batch (POST, CSO); list mine (GET, both roles)."""

    pagination_ordering = ("updated_at", "id")
    # The SDRs and their events are the audit trail of intake: one audit row per batch adds nothing.
    audit_writes = False
    # A batch is some 600 kB of JSON each way: read and answered by orjson (the same values).
    parser_classes = [BulkJSONParser]

    @property
    def throttle_scope(self) -> str | None:  # type: ignore[override]
        return (
            "bulk" if getattr(self, "request", None) is not None and self.request.method == "POST" else None
        )

    def get_permissions(self) -> list[BasePermission]:
        return [IsCSO()] if self.request.method == "POST" else [IsActivePartner()]

    def get_renderers(self) -> list[BaseRenderer]:
        if getattr(self, "request", None) is not None and self.request.method == "POST":
            return [BulkJSONRenderer()]
        return super().get_renderers()

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: paginated(SdrOut), **ERRORS},
        tags=["sdrs"],
        operation_id="sdrs_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        unknown = set(params) - LIST_KEYS
        if unknown:
            raise ApiError(
                "invalid_parameter", f"Unknown parameter(s): {', '.join(sorted(unknown))}.", status_code=400
            )
        since = None
        if params.get("since"):
            since = parse_datetime(params["since"])
            if since is None:
                raise ApiError("invalid_since", "since must be an RFC 3339 date and time.", status_code=400)
        state = params.get("state") or None
        if state is not None and state not in SdrState.values:
            raise ApiError(
                "invalid_state", f"state must be one of {', '.join(SdrState.values)}.", status_code=400
            )
        role = params.get("role") or None
        user = request.user
        if role is not None and (role not in ("CSO", "CSP") or not getattr(user, f"is_{role.lower()}")):
            raise ApiError("invalid_role", "role must be CSO or CSP, and one you hold.", status_code=400)
        rows = selectors.sdrs_visible(
            partner_id=user.partner_id,
            is_cso=user.is_cso,
            is_csp=user.is_csp,
            role=role,
            since=since,
            state=state,
        )
        paginator = I3CursorPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([sdr_out_loaded(sdr) for sdr in page])

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        description=(
            "One OCPI 2.2.1 CDR (answered like a single item: 201, 200, 409 or 422) or a JSON array of "
            f"up to {settings.SDR_BULK_MAX_ITEMS} (answered 200 with one result per item). "
            "Idempotency-Key is honoured; an SDR is also unique per (CSO, id)."
        ),
        responses={200: IntakeOut, 201: SdrOut, 409: OpenApiResponse(description="conflict"), **ERRORS},
        tags=["sdrs"],
    )
    # A batch keeps some 100,000 objects alive while it is read, checked, stored and answered: the
    # cyclic collector would walk them again every few hundred allocations (see collector.py).
    @pauses_collector
    @idempotent
    def post(self, request: Request) -> Response:
        body = request.data if request.body else None
        if isinstance(body, dict):
            outcome = services.sdrs_ingest(cso_id=request.user.partner_id, items=[body])
            return self._single(outcome)
        if not isinstance(body, list):
            raise ApiError(
                "invalid_body", "The body must be an OCPI CDR object or an array of them.", status_code=400
            )
        if not body:
            raise ApiError("empty_batch", "The array holds no SDR.", status_code=400)
        if len(body) > settings.SDR_BULK_MAX_ITEMS:
            raise ApiError(
                "too_many_items",
                f"At most {settings.SDR_BULK_MAX_ITEMS} SDRs per request; this one has {len(body)}.",
                status_code=400,
                details={"max_items": settings.SDR_BULK_MAX_ITEMS, "items": len(body)},
            )
        outcome = services.sdrs_ingest(cso_id=request.user.partner_id, items=body)
        results = []
        summary = {"created": 0, "existing": 0, "rejected": 0, "conflict": 0, "invalid": 0}
        for item in outcome.results:
            summary[item.result] += 1
            entry: dict[str, Any] = {
                "index": item.index,
                "sdr_id": item.sdr_id,
                "status": item.status,
                "result": item.result,
                "sdr": outcome.record(item, full=False),
            }
            if not item.ok:
                entry["error"] = _item_error(item, outcome)
            results.append(entry)
        return Response({"results": results, "summary": summary}, status=status.HTTP_200_OK)

    def _single(self, outcome: IntakeOutcome) -> Response:
        item = outcome.results[0]
        if item.ok:
            return Response(outcome.record(item, full=True), status=item.status)
        return Response({"error": _item_error(item, outcome)}, status=item.status)


class SdrDetailView(I3APIView):
    """One SDR of mine, with its history."""

    @extend_schema(responses={200: SdrOut, **ERRORS}, tags=["sdrs"])
    def get(self, request: Request, pk: int) -> Response:
        sdr = _visible(request, pk)
        return Response(sdr_out_loaded(sdr, events=selectors.sdr_events(sdr=sdr)))


class SdrAcceptView(I3APIView):
    """The CSP accepts an SDR it pays (a repeat changes nothing)."""

    permission_classes = [IsCSP]
    audit_action = "sdr.accept"

    @extend_schema(
        request=None,
        responses={200: SdrOut, 409: OpenApiResponse(description="transition"), **ERRORS},
        tags=["sdrs"],
    )
    def post(self, request: Request, pk: int) -> Response:
        services.sdr_accept(csp_id=request.user.partner_id, sdr_pk=pk)
        sdr = _visible(request, pk)
        response = Response(sdr_out_loaded(sdr, events=selectors.sdr_events(sdr=sdr)))
        response.audit_object_type, response.audit_object_id = "settlement.Sdr", pk
        return response


class SdrDisputeView(I3APIView):
    """The CSP disputes an SDR it pays, with a reason code and a message."""

    permission_classes = [IsCSP]
    audit_action = "sdr.dispute"

    @extend_schema(
        request=DisputeIn,
        responses={200: SdrOut, 409: OpenApiResponse(description="transition"), **ERRORS},
        tags=["sdrs"],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = DisputeIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.sdr_dispute(
            csp_id=request.user.partner_id,
            sdr_pk=pk,
            reason_code=data.validated_data["reason_code"],
            message=data.validated_data["message"],
        )
        sdr = _visible(request, pk)
        response = Response(sdr_out_loaded(sdr, events=selectors.sdr_events(sdr=sdr)))
        response.audit_object_type, response.audit_object_id = "settlement.Sdr", pk
        return response


class SdrCorrectionsView(I3APIView):
    """The CSO corrects an SDR it sent: a credit, and optionally a replacement SDR."""

    permission_classes = [IsCSO]
    audit_action = "sdr.correct"

    @extend_schema(
        request=CorrectionIn,
        responses={
            201: CorrectionOut,
            200: CorrectionOut,
            409: OpenApiResponse(description="conflict"),
            422: OpenApiResponse(description="rejected"),
            **ERRORS,
        },
        tags=["sdrs"],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise ApiError("invalid_body", "The body must be a JSON object.", status_code=400)
        unknown = set(body) - {"credit_id", "replacement", "remark"}
        if unknown:
            raise ApiError(
                "invalid_body", f"Unknown field(s): {', '.join(sorted(unknown))}.", status_code=400
            )
        data = CorrectionIn(data=body)
        data.is_valid(raise_exception=True)
        outcome = services.sdr_correct(
            cso_id=request.user.partner_id,
            sdr_pk=pk,
            credit_id=data.validated_data.get("credit_id"),
            replacement=data.validated_data.get("replacement"),
            remark=data.validated_data.get("remark"),
        )
        records = [outcome.record(item, full=True) for item in outcome.results]
        created = any(item.status == 201 for item in outcome.results)
        response = Response(
            {"credit": records[0], "replacement": records[1] if len(records) > 1 else None},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        response.audit_object_type, response.audit_object_id = "settlement.Sdr", pk
        return response
