from __future__ import annotations

from django.urls import path

from . import statements, views

urlpatterns = [
    path("statements/", statements.StatementsView.as_view(), name="statement-list"),
    path("statements/<int:pk>", statements.StatementDetailView.as_view(), name="statement-detail"),
    path("statements/<int:pk>/report.csv", statements.REPORT_VIEWS["csv"], name="statement-report-csv"),
    path("statements/<int:pk>/report.xlsx", statements.REPORT_VIEWS["xlsx"], name="statement-report-xlsx"),
    path("statements/<int:pk>/report.pdf", statements.REPORT_VIEWS["pdf"], name="statement-report-pdf"),
    path("sdrs/", views.SdrsView.as_view(), name="sdr-list"),
    path("sdrs/<int:pk>", views.SdrDetailView.as_view(), name="sdr-detail"),
    path("sdrs/<int:pk>/accept", views.SdrAcceptView.as_view(), name="sdr-accept"),
    path("sdrs/<int:pk>/dispute", views.SdrDisputeView.as_view(), name="sdr-dispute"),
    path("sdrs/<int:pk>/corrections", views.SdrCorrectionsView.as_view(), name="sdr-corrections"),
]
