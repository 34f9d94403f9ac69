"""Verifies Entra ID access tokens against the issuer's published keys (JWKS).

Checks, in order: the header names a key we can fetch; the RS256 signature; ``exp``/``nbf`` with a
small skew; ``aud`` is our API; ``iss`` is the v2 issuer of the token's own tenant (Entra signs every
tenant's tokens with the same keys, so the issuer check is what ties a token to its tenant).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import requests

from chalicelib.domain.errors import NotAuthenticated
from chalicelib.ports import VerifiedToken


class JwksTokenVerifier:
    """A ``TokenVerifier`` with a cached JWKS that is refreshed when an unknown key id appears."""

    # Do not refetch JWKS for unknown key ids more often than this: a flood of forged kids
    # must not become a flood of requests to the identity provider.
    MIN_REFRESH_SECONDS = 30

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer_template: str,
        audiences: list[str],
        ca_bundle: str | None = None,
        cache_seconds: int = 3600,
        leeway_seconds: int = 120,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer_template = issuer_template
        self._audiences = audiences
        self._verify: str | bool = ca_bundle or True
        self._cache_seconds = cache_seconds
        self._leeway = leeway_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise NotAuthenticated("the bearer token is not a well-formed JWT") from error
        if header.get("alg") != "RS256":
            raise NotAuthenticated("the token must be signed with RS256")
        tenant = unverified.get("tid")
        if not isinstance(tenant, str) or not tenant:
            raise NotAuthenticated("the token carries no tenant (tid)")
        key = self._key_for(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self._audiences,
                issuer=self._issuer_template.format(tenant=tenant),
                leeway=self._leeway,
                options={"require": ["exp", "iat", "aud", "iss", "tid"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise NotAuthenticated("the token has expired; sign in again") from error
        except jwt.InvalidAudienceError as error:
            raise NotAuthenticated("the token was not issued for this API") from error
        except jwt.InvalidIssuerError as error:
            raise NotAuthenticated("the token's issuer does not match its tenant") from error
        except jwt.PyJWTError as error:
            raise NotAuthenticated(f"the token is not valid: {error}") from error
        scopes = str(claims.get("scp", "")).split()
        return VerifiedToken(
            tenant_id=tenant,
            object_id=str(claims.get("oid", "")),
            email=claims.get("preferred_username") or claims.get("email") or claims.get("upn"),
            name=claims.get("name"),
            scopes=scopes,
            claims=claims,
        )

    def _key_for(self, kid: str) -> Any:
        with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at > self._cache_seconds
            unknown = kid not in self._keys and now - self._fetched_at > self.MIN_REFRESH_SECONDS
            if stale or unknown:
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise NotAuthenticated("the token is signed with a key the identity provider does not publish")
        return key

    def _refresh(self, now: float) -> None:
        try:
            response = requests.get(self._jwks_url, timeout=5, verify=self._verify)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, jwt.PyJWTError, ValueError) as error:
            if self._keys:
                return  # keep verifying with the keys we have; try again after MIN_REFRESH_SECONDS
            raise NotAuthenticated("the identity provider's keys cannot be fetched right now") from error
        finally:
            self._fetched_at = now
        self._keys = {jwk.key_id: jwk.key for jwk in key_set.keys if jwk.key_id}
