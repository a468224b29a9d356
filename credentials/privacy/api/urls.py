"""URLs of privacy, included by credentials/api/urls.py under /api/i3/v1/."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("privacy/erasures", views.ErasuresView.as_view(), name="privacy-erasures"),
    path("privacy/erasures/<credentials_id:pk>", views.ErasureDetailView.as_view(), name="privacy-erasure"),
    path("privacy/export", views.ExportView.as_view(), name="privacy-export"),
]
