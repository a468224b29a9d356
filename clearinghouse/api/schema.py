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


# The error answers every I3 operation can give, described once for the OpenAPI schema.
_COMMON_ERRORS = {
    400: "Invalid request (error format)",
    401: "Not authenticated, bad signature, replayed nonce or stale timestamp",
    403: "Partner suspended or terminated, or the role this operation needs is missing",
}


def error_responses(**extra: str) -> dict[int, Any]:
    """OpenAPI responses for the error format: the common ones plus e.g. `e404="No such SDR"`."""
    from drf_spectacular.utils import OpenApiResponse

    described = {**_COMMON_ERRORS, **{int(key[1:]): text for key, text in extra.items()}}
    return {code: OpenApiResponse(description=text) for code, text in sorted(described.items())}
