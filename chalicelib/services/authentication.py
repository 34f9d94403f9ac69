"""Turns a presented credential into a ``Principal``: an Entra ID user or a firm's API token."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.api_tokens import LAST_USED_RESOLUTION_SECONDS, hash_secret, looks_like_api_token
from chalicelib.domain.errors import NotAuthenticated, StaleVersion
from chalicelib.domain.identity import Principal
from chalicelib.domain.roster import UserStatus, normalize_email
from chalicelib.ports import ApiTokenRepository, Clock, FirmRepository, TokenVerifier, UserRepository

# The delegated scope the add-in and console request for our API (exposed by the app registration).
API_SCOPE = "access_as_user"


class Authenticator:
    """Verifies a credential and finds who it belongs to in our roster."""

    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        firms: FirmRepository,
        users: UserRepository,
        tokens: ApiTokenRepository,
        clock: Clock,
    ) -> None:
        self._verifier = verifier
        self._firms = firms
        self._users = users
        self._tokens = tokens
        self._clock = clock

    def authenticate(self, authorization: str) -> Principal:
        """Accepts ``Bearer <jwt>`` or ``Bearer mlt_...``; raises ``NotAuthenticated`` otherwise."""
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise NotAuthenticated("send 'Authorization: Bearer <token>'")
        if looks_like_api_token(credential):
            return self._api_token(credential)
        return self._user(credential)

    def _api_token(self, secret: str) -> Principal:
        token = self._tokens.get_by_hash(hash_secret(secret))
        now = self._clock.now()
        if token is None or not token.usable_at(now):
            raise NotAuthenticated("the API token is unknown, revoked or expired")
        last = token.last_used_at
        if last is None or now - last >= timedelta(seconds=LAST_USED_RESOLUTION_SECONDS):
            self._tokens.record_use(token, now)
        return Principal(
            firm_id=token.firm_id, subject_id=token.token_id, kind="api_token", scopes=token.scopes
        )

    def _user(self, jwt: str) -> Principal:
        verified = self._verifier.verify(jwt)
        if API_SCOPE not in verified.scopes:
            raise NotAuthenticated(
                f"the token lacks the '{API_SCOPE}' scope; app-only tokens cannot call this API, "
                "use an API token instead"
            )
        firm = self._firms.get_by_tenant(verified.tenant_id)
        if firm is None:
            raise NotAuthenticated("this Microsoft 365 tenant is not connected to Matterline")
        user = self._users.get_by_identity(firm.firm_id, verified.object_id)
        if user is None and verified.email:
            # First sign-in of an invited user: bind the Entra object id to the roster entry.
            invited = self._users.get_by_email(firm.firm_id, normalize_email(verified.email))
            if invited is not None and invited.identity_oid is None:
                try:
                    user = self._users.update(
                        invited.with_changes(identity_oid=verified.object_id, status=UserStatus.ACTIVE),
                        actor=f"user:{invited.user_id}",
                        action="first_sign_in",
                    )
                except StaleVersion:
                    user = self._users.get_by_identity(firm.firm_id, verified.object_id)
        if user is None:
            raise NotAuthenticated("you are not in this firm's Matterline roster; ask your firm admin")
        if user.status is UserStatus.DISABLED:
            raise NotAuthenticated("your Matterline account is disabled; ask your firm admin")
        return Principal(
            firm_id=firm.firm_id,
            subject_id=user.user_id,
            kind="user",
            roles=user.roles,
            email=user.email,
        )
