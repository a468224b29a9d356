"""Writes of the credentials app; other apps import them from here."""

from __future__ import annotations

from .authorization import authorization_request
from .credentials import (
    MAX_ITEMS,
    ItemResult,
    credential_update,
    credentials_block,
    credentials_unblock,
    credentials_upload,
    driver_data_save,
)
from .issuance import DynamicQr, IssuedCredential, credential_issue, dynamic_qr_issue, dynamic_qr_uses_purge
from .routing import authorization_decide, authorization_route, authorizations_expire_overdue
from .stop import authorization_create_for_remote_start, authorization_stop

__all__ = [
    "MAX_ITEMS",
    "DynamicQr",
    "IssuedCredential",
    "ItemResult",
    "authorization_create_for_remote_start",
    "authorization_decide",
    "authorization_request",
    "authorization_route",
    "authorization_stop",
    "authorizations_expire_overdue",
    "credential_issue",
    "credential_update",
    "credentials_block",
    "credentials_unblock",
    "credentials_upload",
    "driver_data_save",
    "dynamic_qr_issue",
    "dynamic_qr_uses_purge",
]
