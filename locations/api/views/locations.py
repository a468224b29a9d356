"""Endpoints of locations, EVSEs and connectors (OCPI 2.2.1 objects)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from ... import services
from ...selectors.common import Viewer
from ...selectors.locations import (
    connector_in,
    evse_in,
    location_get,
    locations_filter,
    locations_render,
    locations_visible,
)
from .. import params
from ..serializers import DeltaIn, DeltaOut, FullLoadOut, WriteResultOut
from .common import ERRORS, OCPI_OBJECT, OPERATOR, CsoWritesView, paged, write_answer

LIST_PARAMETERS = [
    OpenApiParameter("operator", str, description="operator ID of the CSO, e.g. DE*ABC"),
    OpenApiParameter("since", str, description="only locations with last_updated after this (RFC 3339)"),
    OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat"),
    OpenApiParameter("near", str, description="lat,lon of a circle's centre (with radius_km)"),
    OpenApiParameter("radius_km", float, description="radius of the circle around near, at most 500"),
    OpenApiParameter("evse_status", str, description="an EVSE shows this OCPI status"),
    OpenApiParameter("connector_standard", str, description="an EVSE has a connector of this ConnectorType"),
    OpenApiParameter("min_power_kw", float, description="an EVSE has a connector of at least this power"),
]


def _location_answer(request: Request, written: Any) -> dict[str, Any]:
    return locations_render([written.location], viewer=Viewer.of(request.user), now=timezone.now())[0]


def _principal(request: Request) -> dict[str, Any]:
    return {"cso_id": request.user.partner_id, "operator_id": request.user.operator_id}


class LocationsView(CsoWritesView):
    """Locations: list what is visible to you (GET); full load (PUT) and delta (PATCH) of yours."""

    pagination_ordering = ("last_updated", "id")

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["locations"],
        operation_id="locations_list",
    )
    def get(self, request: Request) -> Response:
        filters = params.location_filters(request.query_params)
        viewer = Viewer.of(request.user)
        now = timezone.now()
        rows = locations_filter(locations_visible(viewer=viewer), filters=filters, viewer=viewer, now=now)
        return paged(self, request, rows, lambda page: locations_render(page, viewer=viewer, now=now))

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: FullLoadOut, **ERRORS},
        tags=["locations"],
        operation_id="locations_replace_all",
    )
    def put(self, request: Request) -> Response:
        params.only(request.query_params, set())
        summary = services.locations_replace_all(**_principal(request), body=request.data)
        return Response(summary)

    @extend_schema(
        request=DeltaIn,
        responses={200: DeltaOut, **ERRORS},
        tags=["locations"],
        operation_id="locations_apply_delta",
    )
    def patch(self, request: Request) -> Response:
        params.only(request.query_params, set())
        return Response(services.locations_apply_delta(**_principal(request), body=request.data))


class LocationDetailView(CsoWritesView):
    """One location: read (GET), create or replace (PUT), partial update (PATCH, OCPI semantics)."""

    @extend_schema(
        parameters=[OPERATOR],
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["locations"],
        operation_id="location_get",
    )
    def get(self, request: Request, location_id: str) -> Response:
        params.only(request.query_params, params.ONE_OBJECT)
        viewer = Viewer.of(request.user)
        row = location_get(
            viewer=viewer, location_id=location_id, operator=params.operator(request.query_params)
        )
        return Response(locations_render([row], viewer=viewer, now=timezone.now())[0])

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, 201: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="location_put",
    )
    def put(self, request: Request, location_id: str) -> Response:
        written = services.location_put(**_principal(request), location_id=location_id, body=request.data)
        return write_answer(
            written.result,
            "location",
            _location_answer(request, written),
            object_type="locations.Location",
            object_id=location_id,
        )

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="location_patch",
    )
    def patch(self, request: Request, location_id: str) -> Response:
        written = services.location_patch(**_principal(request), location_id=location_id, body=request.data)
        return write_answer(
            written.result,
            "location",
            _location_answer(request, written),
            object_type="locations.Location",
            object_id=location_id,
        )


class EvseDetailView(CsoWritesView):
    """One EVSE of a location: read, add or replace (PUT), partial update (PATCH)."""

    @extend_schema(
        parameters=[OPERATOR],
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["locations"],
        operation_id="evse_get",
    )
    def get(self, request: Request, location_id: str, evse_uid: str) -> Response:
        params.only(request.query_params, params.ONE_OBJECT)
        viewer = Viewer.of(request.user)
        row = location_get(
            viewer=viewer, location_id=location_id, operator=params.operator(request.query_params)
        )
        doc = locations_render([row], viewer=viewer, now=timezone.now())[0]
        return Response(evse_in(doc, evse_uid))

    def _write(self, request: Request, location_id: str, evse_uid: str, service: Any) -> Response:
        written = service(
            **_principal(request), location_id=location_id, evse_uid=evse_uid, body=request.data
        )
        evse = evse_in(_location_answer(request, written), evse_uid)
        return write_answer(
            written.result, "evse", evse, object_type="locations.EVSE", object_id=f"{location_id}/{evse_uid}"
        )

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, 201: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="evse_put",
    )
    def put(self, request: Request, location_id: str, evse_uid: str) -> Response:
        return self._write(request, location_id, evse_uid, services.evse_put)

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="evse_patch",
    )
    def patch(self, request: Request, location_id: str, evse_uid: str) -> Response:
        return self._write(request, location_id, evse_uid, services.evse_patch)


class ConnectorDetailView(CsoWritesView):
    """One connector of an EVSE: read, add or replace (PUT), partial update (PATCH)."""

    @extend_schema(
        parameters=[OPERATOR],
        responses={200: OCPI_OBJECT, **ERRORS},
        tags=["locations"],
        operation_id="connector_get",
    )
    def get(self, request: Request, location_id: str, evse_uid: str, connector_id: str) -> Response:
        params.only(request.query_params, params.ONE_OBJECT)
        viewer = Viewer.of(request.user)
        row = location_get(
            viewer=viewer, location_id=location_id, operator=params.operator(request.query_params)
        )
        doc = locations_render([row], viewer=viewer, now=timezone.now())[0]
        return Response(connector_in(evse_in(doc, evse_uid), connector_id))

    def _write(self, request: Request, ids: dict[str, str], service: Any) -> Response:
        written = service(**_principal(request), **ids, body=request.data)
        evse = evse_in(_location_answer(request, written), ids["evse_uid"])
        return write_answer(
            written.result,
            "connector",
            connector_in(evse, ids["connector_id"]),
            object_type="locations.Connector",
            object_id="/".join(ids.values()),
        )

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, 201: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="connector_put",
    )
    def put(self, request: Request, location_id: str, evse_uid: str, connector_id: str) -> Response:
        ids = {"location_id": location_id, "evse_uid": evse_uid, "connector_id": connector_id}
        return self._write(request, ids, services.connector_put)

    @extend_schema(
        request=OCPI_OBJECT,
        responses={200: WriteResultOut, **ERRORS},
        tags=["locations"],
        operation_id="connector_patch",
    )
    def patch(self, request: Request, location_id: str, evse_uid: str, connector_id: str) -> Response:
        ids = {"location_id": location_id, "evse_uid": evse_uid, "connector_id": connector_id}
        return self._write(request, ids, services.connector_patch)
