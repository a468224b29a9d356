from __future__ import annotations

from django.urls import include, path, register_converter

from . import views


class ObjectIdConverter:
    """Ids that fit a 64-bit column: a longer number is simply not found (never a database error)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(ObjectIdConverter, "credentials_id")

urlpatterns = [
    path("credentials/", views.CredentialsView.as_view(), name="credentials"),
    path("credentials/issue", views.CredentialIssueView.as_view(), name="credential-issue"),
    path("credentials/<credentials_id:pk>", views.CredentialDetailView.as_view(), name="credential-detail"),
    path(
        "credentials/<credentials_id:pk>/dynamic-qr",
        views.DynamicQrView.as_view(),
        name="credential-dynamic-qr",
    ),
    path("authorizations/", views.AuthorizationCreateView.as_view(), name="authorizations"),
    path(
        "authorizations/<credentials_id:pk>",
        views.AuthorizationDetailView.as_view(),
        name="authorization-detail",
    ),
    path(
        "authorizations/<credentials_id:pk>/stop",
        views.AuthorizationStopView.as_view(),
        name="authorization-stop",
    ),
    # Privacy: erasures and the export of a contract (credentials/privacy/api).
    path("", include("credentials.privacy.api.urls")),
]
