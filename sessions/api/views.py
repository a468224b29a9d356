"""I3 endpoints of remote commands (CSP sends, CSO reports) and sessions (CSO writes, both read)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.pagination import I3CursorPagination
from clearinghouse.api.permissions import IsActivePartner, IsCSO, IsCSP
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView
from clearinghouse.errors import InvalidInput, NotFoundError
from clearinghouse.lib.identifiers import IdentifierError, parse_operator_id
from sessions import selectors, services
from sessions.inputs import (
    SESSION_STATUSES,
    InputProblem,
    parse_command,
    parse_command_result,
    parse_rfc3339,
    parse_session,
)
from sessions.wire import command_json, session_json

from .serializers import (
    CommandIn,
    CommandOut,
    CommandResultIn,
    SessionIn,
    SessionOut,
    SessionPageOut,
    SessionPatchIn,
    SessionUpdateOut,
)

T = TypeVar("T")

ERRORS = error_responses(
    e404="No such object among those visible to you",
    e409="Conflict: invalid transition, duplicate, or mixed mode",
    e422="A business rule refuses it (error format)",
)
COMMAND_TYPE = "charging_sessions.RemoteCommand"


def _parse(func: Callable[..., T], data: Any, **kwargs: Any) -> T:
    try:
        return func(data, **kwargs)
    except InputProblem as problem:
        raise InvalidInput(
            problem.code, problem.message, {"field": problem.field} if problem.field else {}
        ) from None


def _operator_param(request: Request) -> tuple[str, str] | None:
    raw = request.query_params.get("operator")
    if not raw:
        return None
    try:
        return parse_operator_id(raw)
    except IdentifierError as exc:
        raise InvalidInput(exc.code, exc.message, {"field": "operator"}) from None


# --- commands -------------------------------------------------------------------------------------


class CommandsView(I3APIView):
    """Send a remote command to a CSO's EVSE, routed by the hub (clearing house mode only)."""

    permission_classes = [IsCSP]
    audit_action = "command.submit"

    @extend_schema(
        request=CommandIn,
        responses={201: CommandOut, **ERRORS},
        tags=["commands"],
        operation_id="commands_create",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        command_request = _parse(parse_command, request.data)
        command = services.command_submit(csp_id=request.user.partner_id, request=command_request)
        response = Response(command_json(command), status=status.HTTP_201_CREATED)
        response.audit_object_type = COMMAND_TYPE
        response.audit_object_id = str(command.uid)
        return response


class CommandDetailView(I3APIView):
    """A command's state, for the CSP that sent it and the CSO it targets."""

    @extend_schema(responses={200: CommandOut, **ERRORS}, tags=["commands"], operation_id="commands_retrieve")
    def get(self, request: Request, command_id: uuid.UUID) -> Response:
        command = selectors.command_get_visible(partner_id=request.user.partner_id, command_uid=command_id)
        if command is None:
            raise NotFoundError("command_not_found", "No command with this id is visible to you.")
        return Response(command_json(command))


class CommandResultView(I3APIView):
    """The CSO reports the final outcome of one of its commands; the CSP is told."""

    permission_classes = [IsCSO]
    # The command keeps who answered what and when: it is its own audit trail.
    audit_writes = False

    @extend_schema(
        request=CommandResultIn,
        responses={200: CommandOut, **ERRORS},
        tags=["commands"],
        operation_id="commands_result",
    )
    def post(self, request: Request, command_id: uuid.UUID) -> Response:
        outcome = _parse(parse_command_result, request.data)
        command = services.command_result_record(
            cso_id=request.user.partner_id, command_uid=command_id, outcome=outcome
        )
        return Response(command_json(command))


# --- sessions -------------------------------------------------------------------------------------


class _WritesNeedCso(BasePermission):
    """Reading is for any partner (each sees its own); writing is the CSO's."""

    message = IsCSO.message
    code = IsCSO.code

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return IsActivePartner().has_permission(request, view)
        return IsCSO().has_permission(request, view)


class SessionsView(I3APIView):
    """`GET`: sessions visible to me (as CSO my own, as CSP those of my contracts). `POST`: a CSO
    reports a session started (idempotent per (CSO, id))."""

    permission_classes = [_WritesNeedCso]
    pagination_ordering = ("updated_at", "id")
    # Sessions arrive by the thousand; each row keeps its own history of who wrote it and when.
    audit_writes = False

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="changed at the hub after (RFC 3339)"),
            OpenApiParameter("status", str, enum=list(SESSION_STATUSES)),
            OpenApiParameter("limit", int, description="page size, at most 1000"),
        ],
        responses={200: SessionPageOut, **ERRORS},
        tags=["sessions"],
        operation_id="sessions_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        since = None
        if params.get("since"):
            try:
                since = parse_rfc3339(params["since"])
            except (ValueError, OverflowError):
                raise InvalidInput(
                    "invalid_since", "since must be an RFC 3339 date-time with offset"
                ) from None
        status_filter = params.get("status")
        if status_filter and status_filter not in SESSION_STATUSES:
            raise InvalidInput("invalid_status", f"status must be one of {', '.join(SESSION_STATUSES)}")
        user = request.user
        qs = selectors.sessions_visible_to(
            partner_id=user.partner_id,
            as_cso=user.is_cso,
            as_csp=user.is_csp,
            since=since,
            status=status_filter,
        )
        paginator = I3CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([session_json(s) for s in page])

    @extend_schema(
        request=SessionIn,
        responses={201: SessionOut, 200: SessionOut, **ERRORS},
        tags=["sessions"],
        operation_id="sessions_start",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        fields = _parse(parse_session, request.data, partial=False)
        change = services.session_start(cso_id=request.user.partner_id, fields=fields)
        code = status.HTTP_201_CREATED if change.changed else status.HTTP_200_OK
        return Response(session_json(change.session), status=code)


class SessionDetailView(I3APIView):
    """`GET`: one session (by the CSO's id; `?operator=` when ids of several CSOs collide).
    `PATCH`: the CSO's progress or end of its session (OCPI PATCH; `last_updated` required)."""

    permission_classes = [_WritesNeedCso]
    audit_writes = False

    @extend_schema(
        parameters=[OpenApiParameter("operator", str, description="the CSO's operator ID, e.g. DE*ABC")],
        responses={200: SessionOut, **ERRORS},
        tags=["sessions"],
        operation_id="sessions_retrieve",
    )
    def get(self, request: Request, session_id: str) -> Response:
        user = request.user
        session = selectors.session_get_visible(
            partner_id=user.partner_id,
            as_cso=user.is_cso,
            as_csp=user.is_csp,
            session_id=session_id,
            operator=_operator_param(request),
        )
        return Response(session_json(session))

    @extend_schema(
        request=SessionPatchIn,
        responses={200: SessionUpdateOut, **ERRORS},
        tags=["sessions"],
        operation_id="sessions_update",
    )
    def patch(self, request: Request, session_id: str) -> Response:
        fields = _parse(parse_session, request.data, partial=True)
        change = services.session_update(cso_id=request.user.partner_id, session_id=session_id, fields=fields)
        return Response({"applied": change.changed, "session": session_json(change.session)})
