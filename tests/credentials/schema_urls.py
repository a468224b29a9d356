"""Only this app's endpoints, to check their part of the OpenAPI schema on its own."""

from django.urls import include, path

urlpatterns = [path("api/i3/v1/", include("credentials.api.urls"))]
