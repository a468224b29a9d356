from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("sdrs/", views.SdrsView.as_view(), name="sdr-list"),
    path("sdrs/<int:pk>", views.SdrDetailView.as_view(), name="sdr-detail"),
    path("sdrs/<int:pk>/accept", views.SdrAcceptView.as_view(), name="sdr-accept"),
    path("sdrs/<int:pk>/dispute", views.SdrDisputeView.as_view(), name="sdr-dispute"),
    path("sdrs/<int:pk>/corrections", views.SdrCorrectionsView.as_view(), name="sdr-corrections"),
]
