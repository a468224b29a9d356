"""Endpoints of tariffs (OCPI 2.2.1 Tariff, with the hub's `target_provider_ids`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from ... import services
from ...selectors.common import Viewer
from ...selectors.tariffs import tariff_get, tariffs_render, tariffs_visible
from .. import params
from ..serializers import WriteResultOut
from .common import ERRORS, OCPI_OBJECT, OPERATOR, CsoWritesView, paged, write_answer


class TariffsView(CsoWritesView):
    """The tariffs that apply to you (as CSP) and your own (as CSO)."""

    pagination_ordering = ("last_updated", "id")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since", str, description="only tariffs with last_updated after this (RFC 3339)"
            ),
            OpenApiParameter("operator", str, description="operator ID of the CSO, e.g. DE*ABC"),
        ],
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["tariffs"],
        operation_id="tariffs_list",
    )
    def get(self, request: Request) -> Response:
        params.only(request.query_params, params.TARIFF_LIST)
        viewer = Viewer.of(request.user)
        rows = tariffs_visible(viewer=viewer)
        since = params.since(request.query_params)
        if since is not None:
            rows = rows.filter(last_updated__gt=since)
        operator = params.operator(request.query_params)
        if operator is not None:
            rows = rows.filter(cso__country_code=operator[0], cso__party_id=operator[1])
        return paged(self, request, rows, lambda page: tariffs_render(page, viewer=viewer))


class TariffDetailView(CsoWritesView):
    """One tariff: read (GET); create or replace (PUT) and delete (DELETE) your own."""

    @extend_schema(
        parameters=[OPERATOR],
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["tariffs"],
        operation_id="tariff_get",
    )
    def get(self, request: Request, tariff_id: str) -> Response:
        params.only(request.query_params, params.ONE_OBJECT)
        viewer = Viewer.of(request.user)
        row = tariff_get(viewer=viewer, tariff_id=tariff_id, operator=params.operator(request.query_params))
        return Response(tariffs_render([row], viewer=viewer)[0])

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, 201: WriteResultOut, **ERRORS},
        tags=["tariffs"],
        operation_id="tariff_put",
    )
    def put(self, request: Request, tariff_id: str) -> Response:
        written = services.tariff_put(cso_id=request.user.partner_id, tariff_id=tariff_id, body=request.data)
        tariff = tariffs_render([written.tariff], viewer=Viewer.of(request.user))[0]
        return write_answer(
            written.result, "tariff", tariff, object_type="locations.Tariff", object_id=tariff_id
        )

    @extend_schema(responses={204: None, **ERRORS}, tags=["tariffs"], operation_id="tariff_delete")
    def delete(self, request: Request, tariff_id: str) -> Response:
        services.tariff_delete(cso_id=request.user.partner_id, tariff_id=tariff_id)
        response = Response(status=204)
        response.audit_object_type = "locations.Tariff"
        response.audit_object_id = tariff_id
        return response
