"""API tokens for billing systems and firm IT: random, stored only as a hash, scoped, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.identity import Permission

TOKEN_PREFIX = "mlt_"


class TokenStatus(StrEnum):
    """A token works only while active."""

    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ApiToken:
    """The stored side of an API token. The secret itself is shown once, at creation, and never kept."""

    firm_id: str
    token_id: str
    name: str
    scopes: frozenset[Permission]
    token_hash: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    status: TokenStatus = TokenStatus.ACTIVE
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    version: int = 0

    def usable_at(self, now: datetime) -> bool:
        """Active and not past its expiry."""
        if self.status is not TokenStatus.ACTIVE:
            return False
        return self.expires_at is None or now < self.expires_at


def new_secret() -> str:
    """A fresh token secret: a recognisable prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The only form in which a token is stored. SHA-256 suffices: the secret has 256 bits of entropy."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_api_token(credential: str) -> bool:
    """API tokens carry a prefix, so they are never mistaken for a JWT."""
    return credential.startswith(TOKEN_PREFIX)


# Last-use stamps are written at most this often per token, so a busy integration costs no write per call.
LAST_USED_RESOLUTION_SECONDS = 60
