"""API tokens for billing systems and firm IT, and the audit log."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Api, Call, services
from chalicelib.api.schemas import (
    ApiTokenOut,
    AuditOut,
    AuditPage,
    CreateApiToken,
    IssuedApiToken,
    PageQuery,
)

administration = Blueprint(__name__)
api = Api(administration, "administration")


@api.route("/api-tokens", "GET", summary="The firm's API tokens", response=ApiTokenOut, response_is_list=True)
def list_tokens(call: Call) -> list[ApiTokenOut]:
    return [ApiTokenOut.of(token) for token in services().api_tokens.list(call.principal)]


@api.route(
    "/api-tokens",
    "POST",
    summary="Issue an API token (the secret is shown once)",
    body=CreateApiToken,
    response=IssuedApiToken,
    status=201,
)
def create_token(call: Call) -> IssuedApiToken:
    body: CreateApiToken = call.body
    issued = services().api_tokens.create(
        call.principal, name=body.name, scopes=frozenset(body.scopes), expires_at=body.expires_at
    )
    return IssuedApiToken(token=ApiTokenOut.of(issued.token), secret=issued.secret)


@api.route("/api-tokens/{token_id}", "DELETE", summary="Revoke an API token now", response=ApiTokenOut)
def revoke_token(call: Call, token_id: str) -> ApiTokenOut:
    return ApiTokenOut.of(services().api_tokens.revoke(call.principal, token_id))


@api.route(
    "/audit", "GET", summary="Recent changes in the firm, newest first", query=PageQuery, response=AuditPage
)
def recent_audit(call: Call) -> AuditPage:
    page = services().audit.recent(call.principal, call.query.cursor, call.query.limit)
    return AuditPage(items=[AuditOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@api.route(
    "/audit/{entity_type}/{entity_id}",
    "GET",
    summary="Every change to one record",
    response=AuditOut,
    response_is_list=True,
)
def entity_audit(call: Call, entity_type: str, entity_id: str) -> list[AuditOut]:
    return [AuditOut.of(r) for r in services().audit.history(call.principal, entity_type, entity_id)]
