"""OpenAPI description of the I3 authentication (bearer token + HMAC signature headers)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class I3AuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "clearinghouse.api.authentication.I3Authentication"
    name = "i3"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "Access token from POST /auth/token. Every request (the login too) also carries "
                "X-I3-Timestamp, X-I3-Nonce and X-I3-Signature = hex HMAC-SHA256 with the partner's "
                "secret over METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nhex(SHA256(body)); see docs/api.md."
            ),
        }
