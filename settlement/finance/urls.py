"""URLs of the finance pages, mounted at /finance/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "finance"

urlpatterns = [
    path("", views.statement_list, name="statements"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("statements/<int:pk>/", views.statement_detail, name="statement"),
    path("statements/<int:pk>/report.<str:fmt>", views.statement_report, name="report"),
    path("statements/<int:pk>/finalise", views.statement_finalise_view, name="finalise"),
    path("statements/<int:pk>/payments", views.statement_payment_view, name="payment"),
]
