"""URL configuration: the admin, the I3 API under /api/i3/v1/, health probes, finance pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health

api_v1 = [
    path("", include("partners.api.urls")),
    path("", include("credentials.api.urls")),
    path("", include("locations.api.urls")),
    path("", include("sessions.api.urls")),
    path("", include("settlement.api.urls")),
    path("schema/", SpectacularAPIView.as_view(api_version="1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/i3/v1/", include(api_v1)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("finance/", include("settlement.finance.urls")),
]

handler400 = "clearinghouse.api.errors.handler400"
handler403 = "clearinghouse.api.errors.handler403"
handler404 = "clearinghouse.api.errors.handler404"
handler500 = "clearinghouse.api.errors.handler500"

admin.site.site_header = "Clearing house operator console"
admin.site.site_title = "Clearing house"
admin.site.index_title = "Partners, roaming and settlement"
