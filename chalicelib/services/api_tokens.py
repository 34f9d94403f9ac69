"""API tokens for billing systems and firm IT: create (the secret is shown once), list, revoke, expire."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.api_tokens import ApiToken, TokenStatus, hash_secret, new_secret
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.identity import API_TOKEN_SCOPES, SYSTEM_ACTOR, Permission, Principal
from chalicelib.ports import ApiTokenRepository, Clock


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret, which is never stored and never shown again."""

    token: ApiToken
    secret: str


class ApiTokenService:
    """Use cases on a firm's API tokens."""

    def __init__(self, tokens: ApiTokenRepository, clock: Clock) -> None:
        self._tokens = tokens
        self._clock = clock

    def create(
        self, principal: Principal, *, name: str, scopes: frozenset[Permission], expires_at: datetime | None
    ) -> IssuedToken:
        """Issue a token with the given scopes."""
        principal.require(Permission.TOKENS_MANAGE)
        problems: list[FieldError] = []
        if not name.strip():
            problems.append(FieldError("name", "give the token a name that says who uses it"))
        if not scopes:
            problems.append(FieldError("scopes", "a token needs at least one scope"))
        outside = sorted(scope.value for scope in scopes - API_TOKEN_SCOPES)
        if outside:
            problems.append(FieldError("scopes", f"not available to API tokens: {', '.join(outside)}"))
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            problems.append(FieldError("expires_at", "the expiry must be in the future"))
        if problems:
            raise InvalidInput("the token cannot be created", field_errors=problems)
        secret = new_secret()
        token = ApiToken(
            firm_id=principal.firm_id,
            token_id=uuid.uuid4().hex[:16],
            name=name.strip(),
            scopes=scopes,
            token_hash=hash_secret(secret),
            created_by=principal.actor,
            created_at=now,
            expires_at=expires_at,
        )
        return IssuedToken(self._tokens.add(token, principal.actor), secret)

    def list(self, principal: Principal) -> list[ApiToken]:
        """The firm's tokens with their status and last use (never their secrets)."""
        principal.require(Permission.TOKENS_MANAGE)
        return self._tokens.list(principal.firm_id)

    def revoke(self, principal: Principal, token_id: str) -> ApiToken:
        """Stop a token working at once. Revoking a revoked token is a conflict, not a silent success."""
        principal.require(Permission.TOKENS_MANAGE)
        token = self._tokens.get(principal.firm_id, token_id)
        if token is None:
            raise NotFound("there is no such API token in your firm")
        if token.status is not TokenStatus.ACTIVE:
            raise Conflict(f"the token is already {token.status.value}")
        revoked = replace(token, status=TokenStatus.REVOKED, revoked_at=self._clock.now())
        return self._tokens.update(revoked, principal.actor, "revoke")

    def expire_due(self, firm_id: str) -> int:
        """Mark the firm's tokens past their expiry as expired (a schedule runs this); returns how many."""
        now = self._clock.now()
        expired = 0
        for token in self._tokens.list(firm_id):
            if (
                token.status is TokenStatus.ACTIVE
                and token.expires_at is not None
                and token.expires_at <= now
            ):
                self._tokens.update(replace(token, status=TokenStatus.EXPIRED), SYSTEM_ACTOR, "expire")
                expired += 1
        return expired
