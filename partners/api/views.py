"""I3 endpoints of the partner registry: login, own profile and endpoints, directory, agreements."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from clearinghouse.api.authentication import verify_signed_request
from clearinghouse.api.errors import ApiError
from clearinghouse.api.pagination import paginated, results_of
from clearinghouse.api.principal import principal_get
from clearinghouse.api.schema import error_responses
from clearinghouse.api.views import I3APIView
from clearinghouse.context import Actor, set_actor
from clearinghouse.errors import Forbidden, Unauthorized
from partners import selectors, services

from .serializers import (
    AgreementOut,
    DirectoryEntryOut,
    EndpointOut,
    EndpointsIn,
    LoginIn,
    PartnerOut,
    PingOut,
    RefreshIn,
    TokenOut,
)

ERRORS = error_responses()


def _token_answer(refresh: RefreshToken, *, include_refresh: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access": str(refresh.access_token),
        "token_type": "Bearer",
        "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    }
    if include_refresh:
        body["refresh"] = str(refresh)
    return body


class _UnauthenticatedView(I3APIView):
    """Views reached before a token exists: they check the signature themselves."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    audit_writes = False

    def get_authenticate_header(self, request: Request) -> str:
        # Keeps signature failures at 401 (DRF turns them into 403 without an authenticate header).
        return 'Bearer realm="i3"'


class LoginView(_UnauthenticatedView):
    """Username + password (and the HMAC signature made with the user's secret) buys an access token."""

    @extend_schema(
        request=LoginIn,
        responses={200: TokenOut, **ERRORS, 429: OpenApiResponse(description="Account locked")},
        auth=[],
        tags=["auth"],
        operation_id="auth_token",
    )
    def post(self, request: Request) -> Response:
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        partner_user = selectors.partner_user_by_username(username=username)
        if partner_user is None:
            raise Unauthorized("invalid_credentials", "Wrong username or password.")
        secret = principal_get(user_id=partner_user.user_id).secret()  # type: ignore[union-attr]
        verify_signed_request(request, secret=secret, partner_id=partner_user.partner_id)
        set_actor(Actor(user_id=partner_user.user_id, partner_id=partner_user.partner_id, label=username))
        services.partner_user_login(partner_user=partner_user, password=data.validated_data["password"])
        refresh = RefreshToken.for_user(partner_user.user)
        refresh["pid"] = partner_user.partner_id
        return Response(_token_answer(refresh))


class RefreshView(_UnauthenticatedView):
    """A refresh token (signed like every request) buys a new access token."""

    @extend_schema(request=RefreshIn, responses={200: TokenOut, **ERRORS}, auth=[], tags=["auth"])
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refresh = RefreshToken(data.validated_data["refresh"])
            user_id = int(refresh[settings.SIMPLE_JWT["USER_ID_CLAIM"]])
        except (TokenError, KeyError, TypeError, ValueError):
            raise ApiError("token_invalid", "The refresh token is not valid.", status_code=401) from None
        principal = principal_get(user_id=user_id)
        if principal is None:
            raise ApiError("token_invalid", "The refresh token is not valid.", status_code=401)
        verify_signed_request(request, secret=principal.secret(), partner_id=principal.partner_id)
        if not principal.usable:
            raise Forbidden(
                "partner_inactive", f"Partner is {principal.partner_status.lower()}; API access is refused."
            )
        return Response(_token_answer(refresh, include_refresh=False))


class PingView(I3APIView):
    """Who am I, without touching the database: checks credentials and measures the stack itself."""

    @extend_schema(responses={200: PingOut, **ERRORS}, tags=["partners"])
    def get(self, request: Request) -> Response:
        principal = request.user
        return Response(
            {
                "partner_id": principal.partner_id,
                "operator_id": principal.operator_id if principal.is_cso else None,
                "provider_id": principal.provider_id if principal.is_csp else None,
                "time": timezone.now(),
            }
        )


class PartnerMeView(I3APIView):
    """My own partner profile."""

    @extend_schema(responses={200: PartnerOut, **ERRORS}, tags=["partners"])
    def get(self, request: Request) -> Response:
        partner = selectors.partner_get(partner_id=request.user.partner_id)
        return Response(PartnerOut(partner).data)


class PartnerEndpointsView(I3APIView):
    """Replace the roaming endpoints where the hub delivers to me."""

    audit_action = "partner.endpoints_replace"

    @extend_schema(request=EndpointsIn, responses={200: EndpointOut(many=True), **ERRORS}, tags=["partners"])
    def put(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict) or "endpoints" not in body:
            raise ApiError("validation_error", 'The body must be {"endpoints": [...]}.', status_code=400)
        partner = selectors.partner_get(partner_id=request.user.partner_id)
        endpoints = services.endpoints_replace(partner=partner, endpoints=body["endpoints"])
        return Response(EndpointOut(endpoints, many=True).data, status=status.HTTP_200_OK)


class DirectoryView(I3APIView):
    """The directory: partners I have an agreement in force with (mixed mode: their endpoints)."""

    @extend_schema(responses={200: results_of(DirectoryEntryOut), **ERRORS}, tags=["partners"])
    def get(self, request: Request) -> Response:
        entries = selectors.directory_for(partner_id=request.user.partner_id)
        return Response({"results": DirectoryEntryOut(entries, many=True).data})


class AgreementListView(I3APIView):
    """My roaming agreements, on either side."""

    pagination_ordering = ("id",)

    @extend_schema(responses={200: paginated(AgreementOut), **ERRORS}, tags=["partners"])
    def get(self, request: Request) -> Response:
        from clearinghouse.api.pagination import I3CursorPagination

        paginator = I3CursorPagination()
        qs = selectors.agreements_of(partner_id=request.user.partner_id)
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(AgreementOut(page, many=True).data)
