"""The one Chalice authorizer, and the ``Principal`` it hands to every route.

API Gateway calls the authorizer with the ``Authorization`` header; a request without one never reaches
it (401). The authorizer answers with a policy and a context of plain strings, which API Gateway passes
to the route as ``requestContext.authorizer``:

    client ──Authorization──▶ API Gateway ──token──▶ authorizer ──(policy, context)──▶ route handler
                                   └──── 401 when the authorizer raises "Unauthorized" ────┘
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib.domain.errors import NotAuthenticated
from chalicelib.domain.identity import Permission, Principal, Role

logger = logging.getLogger("matterline.auth")

security = Blueprint(__name__)


class Unauthorized(Exception):
    """API Gateway answers 401 when a TOKEN authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@security.authorizer(ttl_seconds=0)
def authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Verify the bearer credential and describe the caller to the routes."""
    from chalicelib.bootstrap import container

    try:
        principal = container().authenticator.authenticate(auth_request.token or "")
    except NotAuthenticated as refused:
        # The reason is logged for the firm's IT, never echoed to the caller.
        logger.info("authentication refused: %s", refused.message)
        raise Unauthorized() from refused
    return AuthResponse(routes=["*"], principal_id=principal.actor, context=principal_to_context(principal))


def principal_to_context(principal: Principal) -> dict[str, str]:
    """Authorizer contexts carry strings only."""
    return {
        "firm_id": principal.firm_id,
        "subject_id": principal.subject_id,
        "kind": principal.kind,
        "roles": ",".join(sorted(role.value for role in principal.roles)),
        "scopes": ",".join(sorted(scope.value for scope in principal.scopes)),
        "email": principal.email or "",
    }


def principal_from_context(request_context: dict[str, Any]) -> Principal:
    """Rebuild the caller from what the authorizer put in the request context."""
    context = request_context.get("authorizer") or {}
    if not context.get("firm_id") or not context.get("subject_id"):
        raise NotAuthenticated("the request did not pass the authorizer")
    return Principal(
        firm_id=context["firm_id"],
        subject_id=context["subject_id"],
        kind=context.get("kind", "user"),
        roles=frozenset(Role(r) for r in str(context.get("roles", "")).split(",") if r),
        scopes=frozenset(Permission(s) for s in str(context.get("scopes", "")).split(",") if s),
        email=context.get("email") or None,
    )
