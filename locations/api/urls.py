from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("locations/", views.LocationsView.as_view(), name="location-list"),
    path("locations/<str:location_id>", views.LocationDetailView.as_view(), name="location-detail"),
    path("locations/<str:location_id>/<str:evse_uid>", views.EvseDetailView.as_view(), name="evse-detail"),
    path(
        "locations/<str:location_id>/<str:evse_uid>/<str:connector_id>",
        views.ConnectorDetailView.as_view(),
        name="connector-detail",
    ),
    path("evse-statuses/", views.EvseStatusesView.as_view(), name="evse-status-list"),
    path("tariffs/", views.TariffsView.as_view(), name="tariff-list"),
    path("tariffs/<str:tariff_id>", views.TariffDetailView.as_view(), name="tariff-detail"),
]
