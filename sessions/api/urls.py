from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("commands/", views.CommandsView.as_view(), name="commands"),
    path("commands/<uuid:command_id>", views.CommandDetailView.as_view(), name="command-detail"),
    path("commands/<uuid:command_id>/result", views.CommandResultView.as_view(), name="command-result"),
    path("sessions/", views.SessionsView.as_view(), name="charging-sessions"),
    path("sessions/<str:session_id>", views.SessionDetailView.as_view(), name="charging-session-detail"),
]
