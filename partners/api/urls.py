from django.urls import path

from . import views

urlpatterns = [
    path("auth/token", views.LoginView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.RefreshView.as_view(), name="auth-token-refresh"),
    path("ping", views.PingView.as_view(), name="ping"),
    path("partners/me", views.PartnerMeView.as_view(), name="partner-me"),
    path("partners/me/endpoints", views.PartnerEndpointsView.as_view(), name="partner-me-endpoints"),
    path("partners/", views.DirectoryView.as_view(), name="partner-directory"),
    path("agreements/", views.AgreementListView.as_view(), name="agreement-list"),
]
