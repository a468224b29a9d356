"""The reference peer: an OCPI 2.2.1 eMSP built with extrawest-ocpi, answering token authorize from memory.

It runs in its own virtualenv (bench/.venv-peer) under uvicorn, with as many workers as the hub has.
Everything it needs comes from the environment:

    PEER_TOKENS_FILE  JSON: {"auth_token": "...", "party": {"country_code", "party_id"}, "uids": [...]}

The app is the package's own `get_application` with an in-memory `Crud` and `Authenticator`, so each
request goes through the package's routing, its token check (`Authorization: Token <base64>`), its
pydantic validation of path, query and body, and its response models. It keeps nothing: an
authorization is a dictionary look-up and an answer.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from py_ocpi import get_application
from py_ocpi.core.authentication.authenticator import Authenticator
from py_ocpi.core.crud import Crud
from py_ocpi.core.enums import Action, ModuleID, RoleEnum
from py_ocpi.modules.versions.enums import VersionNumber

with open(os.environ["PEER_TOKENS_FILE"], encoding="utf-8") as handle:
    _CONFIG = json.load(handle)

_NOW = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
_COUNTRY = _CONFIG["party"]["country_code"]
_PARTY = _CONFIG["party"]["party_id"]
# The package validates the uid as a case-insensitive string and hands it on in lower case.
TOKENS: dict[str, dict[str, Any]] = {
    uid.lower(): {
        "country_code": _COUNTRY,
        "party_id": _PARTY,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{_COUNTRY}{_PARTY}C{index:08d}",
        "visual_number": None,
        "issuer": "Reference peer",
        "group_id": None,
        "valid": True,
        "whitelist": "ALWAYS",
        "language": None,
        "default_profile_type": None,
        "energy_contract": None,
        "last_updated": _NOW,
    }
    for index, uid in enumerate(_CONFIG["uids"])
}
VALID_TOKENS = [_CONFIG["auth_token"]]

# The package logs every request at INFO in "production"; the hub is measured at WARNING.
logging.getLogger("OCPI-Logger").setLevel(logging.WARNING)


class MemoryAuthenticator(Authenticator):
    """The peer's partners' tokens (credentials token C), from memory."""

    @classmethod
    async def get_valid_token_c(cls) -> list[str]:
        return VALID_TOKENS

    @classmethod
    async def get_valid_token_a(cls) -> list[str]:
        return []


class MemoryCrud(Crud):
    """Tokens from a dictionary; authorize answers ALLOWED for a valid token."""

    @classmethod
    async def get(cls, module: ModuleID, role: RoleEnum, id: Any, *args: Any, **kwargs: Any) -> Any:
        if module == ModuleID.tokens:
            return TOKENS.get(str(id).lower())
        return None

    @classmethod
    async def do(cls, module: ModuleID, role: RoleEnum, action: Action, *args: Any, **kwargs: Any) -> Any:
        if module == ModuleID.tokens and action == Action.authorize_token:
            data = kwargs["data"]
            token = TOKENS[str(data["token_uid"]).lower()]
            return {
                "allowed": "ALLOWED" if token["valid"] else "BLOCKED",
                "token": token,
                "location": data["location_reference"],
                "authorization_reference": secrets.token_hex(16),
                "info": None,
            }
        return None

    @classmethod
    async def list(cls, module: ModuleID, role: RoleEnum, filters: dict, *args: Any, **kwargs: Any) -> Any:
        return [], 0, True

    @classmethod
    async def create(cls, module: ModuleID, role: RoleEnum, data: dict, *args: Any, **kwargs: Any) -> Any:
        return None

    @classmethod
    async def update(
        cls, module: ModuleID, role: RoleEnum, data: dict, id: Any, *args: Any, **kwargs: Any
    ) -> Any:
        return None

    @classmethod
    async def delete(cls, module: ModuleID, role: RoleEnum, id: Any, *args: Any, **kwargs: Any) -> Any:
        return None


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1],
    roles=[RoleEnum.emsp],
    crud=MemoryCrud,
    modules=[ModuleID.tokens],
    authenticator=MemoryAuthenticator,
)
