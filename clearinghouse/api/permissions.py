"""Role permissions: a partner acts as CSO, as CSP, or both."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from .principal import Principal


class IsActivePartner(BasePermission):
    message = "Only an active partner's API user may call the I3 API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, Principal) and request.user.usable


class IsCSO(IsActivePartner):
    message = "This operation needs the CSO role."
    code = "role_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.is_cso


class IsCSP(IsActivePartner):
    message = "This operation needs the CSP role."
    code = "role_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.is_csp
