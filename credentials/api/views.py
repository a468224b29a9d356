"""I3 endpoints of credentials (CSP) and authorization (CSO): validate, call a service, answer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from clearinghouse.api.errors import ApiError
from clearinghouse.api.fastjson import BulkJSONParser, BulkJSONRenderer
from clearinghouse.api.headers import request_header
from clearinghouse.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from clearinghouse.api.idempotency import idempotent
from clearinghouse.api.pagination import I3CursorPagination, paginated
from clearinghouse.api.permissions import IsCSO, IsCSP
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView
from clearinghouse.errors import InvalidInput, NotFoundError
from credentials import selectors, services
from credentials.decision import parse_rfc3339
from credentials.inputs import (
    STATES,
    TYPES,
    InputProblem,
    parse_authorization_request,
    parse_credential_changes,
    parse_issue_request,
    parse_stop_request,
)

from .serializers import (
    AuthorizationIn,
    AuthorizationOut,
    AuthorizationStopIn,
    CredentialBulkResultOut,
    CredentialDynamicQrOut,
    CredentialIssuedOut,
    CredentialIssueIn,
    CredentialItemIn,
    CredentialOut,
    CredentialPatchIn,
)

T = TypeVar("T")

ERRORS = error_responses(e404="No such object among yours")
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?([0-9]{1,6})\"?\s*(?:$|[,;\s])", re.IGNORECASE)
NO_STORE = {"Cache-Control": "no-store"}


def _parse(func: Callable[..., T], data: Any, **kwargs: Any) -> T:
    try:
        return func(data, **kwargs)
    except InputProblem as problem:
        raise InvalidInput(
            problem.code, problem.message, {"field": problem.field} if problem.field else {}
        ) from None


def prefer_wait(header: str | None) -> int | None:
    """Seconds from `Prefer: wait=N` (RFC 7240), capped at AUTHORIZATION_MAX_WAIT_SECONDS; None
    without a usable preference (a preference the server cannot read is ignored, as the RFC says)."""
    if not header:
        return None
    match = _PREFER_WAIT.search(header)
    if match is None:
        return None
    return min(int(match.group(1)), settings.AUTHORIZATION_MAX_WAIT_SECONDS)


# --- credentials (CSP) ----------------------------------------------------------------------------


class CredentialsView(I3APIView):
    """`GET`: my credentials. `POST`: upload credentials in bulk (`mode=delta` or `mode=full`)."""

    permission_classes = [IsCSP]
    pagination_ordering = ("updated_at", "id")
    audit_action = "credentials.upload"

    def get_throttles(self) -> list[Any]:
        # Uploads count against the bulk rate; reads against the default one.
        self.throttle_scope = "bulk" if self.request.method == "POST" else "default"
        return super().get_throttles()

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="changed after (RFC 3339)"),
            OpenApiParameter("status", str, enum=list(STATES)),
            OpenApiParameter("type", str, enum=list(TYPES)),
            OpenApiParameter("limit", int, description="page size, at most 1000"),
        ],
        responses={200: paginated(CredentialOut), **ERRORS},
        tags=["credentials"],
        operation_id="credentials_list",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        since = None
        if params.get("since"):
            try:
                since = parse_rfc3339(params["since"])
            except ValueError:
                raise InvalidInput(
                    "invalid_since", "since must be an RFC 3339 date-time with offset"
                ) from None
        status_filter = params.get("status")
        if status_filter and status_filter not in STATES:
            raise InvalidInput("invalid_status", f"status must be one of {', '.join(STATES)}")
        type_filter = params.get("type")
        if type_filter and type_filter not in TYPES:
            raise InvalidInput("invalid_type", f"type must be one of {', '.join(TYPES)}")
        qs = selectors.credentials_of(
            csp_id=request.user.partner_id, since=since, status=status_filter, type=type_filter
        )
        paginator = I3CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(CredentialOut(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("mode", str, enum=["delta", "full"], description="default delta")],
        request=CredentialItemIn(many=True),
        responses={200: CredentialBulkResultOut, **ERRORS},
        tags=["credentials"],
        operation_id="credentials_upload",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        mode = request.query_params.get("mode", "delta")
        results = services.credentials_upload(
            csp_id=request.user.partner_id,
            provider_id=request.user.provider_id,
            items=request.data,
            mode=mode,
        )
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return Response({"mode": mode, "counts": counts, "results": [r.to_json() for r in results]})


class CredentialDetailView(I3APIView):
    """`GET` one of my credentials; `PATCH` to block, unblock, change validity or whitelist."""

    permission_classes = [IsCSP]
    audit_action = "credential.update"

    def _get(self, request: Request, pk: int) -> Any:
        credential = selectors.credential_get_for_csp(csp_id=request.user.partner_id, credential_id=pk)
        if credential is None:
            raise NotFoundError("not_found", "No such credential.")
        return credential

    @extend_schema(responses={200: CredentialOut, **ERRORS}, tags=["credentials"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(CredentialOut(self._get(request, pk)).data)

    @extend_schema(request=CredentialPatchIn, responses={200: CredentialOut, **ERRORS}, tags=["credentials"])
    def patch(self, request: Request, pk: int) -> Response:
        changes = _parse(parse_credential_changes, request.data)
        credential = services.credential_update(
            csp_id=request.user.partner_id, credential_id=pk, changes=changes
        )
        response = Response(CredentialOut(credential).data)
        response.audit_object_type = "credentials.Credential"
        response.audit_object_id = credential.pk
        return response


class CredentialIssueView(I3APIView):
    """Ask the hub to issue a credential (HUB_ISSUED agreements); its values are shown once."""

    permission_classes = [IsCSP]
    audit_action = "credential.issue"

    @extend_schema(
        request=CredentialIssueIn,
        responses={
            201: CredentialIssuedOut,
            200: CredentialIssuedOut,
            **ERRORS,
            409: OpenApiResponse(description="Taken"),
        },
        tags=["credentials"],
    )
    def post(self, request: Request) -> Response:
        # Not the generic idempotency decorator: it would keep the answer, and this answer holds
        # values that must not be stored. The key is kept on the credential instead.
        key = request_header(request, IDEMPOTENCY_HEADER, "")
        if key and (len(key) > 255 or not key.isascii() or not key.isprintable()):
            raise ApiError(
                "invalid_idempotency_key",
                f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters.",
                status_code=400,
            )
        issue = _parse(parse_issue_request, request.data)
        body_hash = hashlib.sha256(request._request.body or b"").hexdigest()
        issued = services.credential_issue(
            csp_id=request.user.partner_id, request=issue, idempotency_key=key, request_hash=body_hash
        )
        body = {
            **CredentialOut(issued.credential).data,
            "value": issued.value or None,
            "pin": issued.pin,
            "password": issued.password,
            "replayed": issued.replayed,
        }
        headers = dict(NO_STORE)
        if issued.replayed:
            headers["Idempotent-Replayed"] = "true"
        response = Response(body, status=200 if issued.replayed else 201, headers=headers)
        response.audit_object_type = "credentials.Credential"
        response.audit_object_id = issued.credential.pk
        return response


class DynamicQrView(I3APIView):
    """A fresh dynamic QR code for one of my QR_DYNAMIC credentials: short-lived, usable once."""

    permission_classes = [IsCSP]

    @extend_schema(responses={200: CredentialDynamicQrOut, **ERRORS}, tags=["credentials"])
    def get(self, request: Request, pk: int) -> Response:
        qr = services.dynamic_qr_issue(csp_id=request.user.partner_id, credential_id=pk)
        body = {"credential_id": pk, "code": qr.code, "expires_at": qr.expires_at}
        return Response(CredentialDynamicQrOut(body).data, headers=NO_STORE)


# --- authorization (CSO) --------------------------------------------------------------------------


class AuthorizationCreateView(I3APIView):
    """Authorize a start: answered at once from the hub's data (200) or, while the CSP is asked,
    `202 PENDING`. `Prefer: wait=N` (N <= 10) holds the answer until the decision is made."""

    permission_classes = [IsCSO]
    throttle_scope = "authorization"
    # The authorization record is the audit trail: one durable write per request.
    audit_writes = False
    # The hub's hottest request: read and answered by orjson (the same values as DRF's JSON).
    parser_classes = [BulkJSONParser]
    renderer_classes = [BulkJSONRenderer]

    @extend_schema(
        request=AuthorizationIn,
        parameters=[OpenApiParameter("Prefer", str, OpenApiParameter.HEADER, description="wait=N, N <= 10")],
        responses={
            200: AuthorizationOut,
            202: AuthorizationOut,
            **ERRORS,
            422: OpenApiResponse(description="EVSE ID malformed or not yours"),
        },
        tags=["authorizations"],
        operation_id="authorizations_create",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        parsed = _parse(parse_authorization_request, request.data)
        principal = request.user
        outcome = services.authorization_request(
            cso_id=principal.partner_id, cso_operator_id=principal.operator_id, request=parsed
        )
        headers: dict[str, str] = {}
        if outcome.pending:
            wait = prefer_wait(request_header(request, "Prefer"))
            if wait is not None:
                headers["Preference-Applied"] = f"wait={wait}"
                record = selectors.authorization_wait(
                    cso_id=principal.partner_id, authorization_id=outcome.authorization_id, seconds=wait
                )
                if record is not None:
                    outcome = selectors.outcome_of(record)
        code = status.HTTP_202_ACCEPTED if outcome.pending else status.HTTP_200_OK
        return Response(outcome.to_json(), status=code, headers=headers)


class AuthorizationDetailView(I3APIView):
    """The state of one of my authorizations (a routed one: its decision once made)."""

    @extend_schema(responses={200: AuthorizationOut, **ERRORS}, tags=["authorizations"])
    def get(self, request: Request, pk: int) -> Response:
        record = selectors.authorization_get(cso_id=request.user.partner_id, authorization_id=pk)
        if record is None:
            raise NotFoundError("not_found", "No such authorization.")
        return Response(selectors.outcome_of(record).to_json())


class AuthorizationStopView(I3APIView):
    """May this credential stop the session of an accepted start? Same credential or same contract."""

    permission_classes = [IsCSO]
    throttle_scope = "authorization"
    audit_writes = False

    @extend_schema(
        request=AuthorizationStopIn,
        responses={200: AuthorizationOut, **ERRORS, 409: OpenApiResponse(description="Start not accepted")},
        tags=["authorizations"],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        presented = _parse(parse_stop_request, request.data)
        outcome = services.authorization_stop(
            cso_id=request.user.partner_id, authorization_id=pk, presented=presented
        )
        return Response(outcome.to_json())
