"""Token sources over sealed OAuth tokens: the firm's connection, or one person's own login.

Both renew on a 401 (or shortly before expiry). Actionstep hands out a new refresh token on every refresh
and forgets the old one, so two workers must not both refresh: renewed tokens are saved with a version
condition, and the loser reloads and uses the winner's.

    current() ──expiring?──▶ refresh(rejected)
    refresh(rejected): reload ──someone renewed already?──▶ use theirs
                       renew ──refused──▶ mark "reauthorize" (firm: the connection; person: only theirs)
                       save (version condition) ──stale──▶ reload, use the winner's
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.billing import (
    BillingConnection,
    BillingSystem,
    ConnectionStatus,
    OAuthTokens,
    ReauthorizationRequired,
)
from chalicelib.domain.billing_users import BillingUserAuthorization, UserAuthorizationStatus
from chalicelib.domain.errors import StaleVersion
from chalicelib.ports import BillingRepository, BillingSystems, BillingUserAuthorizations, Clock, SecretBox

# Renew a little before expiry so a long run does not start with a token about to lapse.
RENEW_BEFORE = timedelta(seconds=60)


def tokens_to_bytes(tokens: OAuthTokens) -> bytes:
    """The tokens as the bytes that get sealed."""
    return json.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
            "api_base": tokens.api_base,
        }
    ).encode()


def tokens_from_bytes(raw: bytes) -> OAuthTokens:
    """The tokens from opened bytes."""
    data = json.loads(raw)
    return OAuthTokens(
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        expires_at=datetime.fromisoformat(data["expires_at"]),
        api_base=data.get("api_base"),
    )


class _SealedTokenSource(ABC):
    """``TokenSource`` over a record holding sealed tokens; subclasses say which record and how to save."""

    def __init__(
        self, box: SecretBox, systems: BillingSystems, clock: Clock, firm_id: str, system: BillingSystem
    ) -> None:
        self._box = box
        self._systems = systems
        self._clock = clock
        self._firm_id = firm_id
        self._system = system
        # Opened once per run: a KMS call per request would cost more than the request itself.
        self._opened: OAuthTokens | None = None

    @abstractmethod
    def _record(self) -> tuple[Any, str]:
        """The record and its sealed tokens; ``ReauthorizationRequired`` when there are none to use."""

    @abstractmethod
    def _save(self, record: Any, sealed: str) -> None:
        """Keep the renewed tokens (``StaleVersion`` when another worker saved first)."""

    @abstractmethod
    def _refused(self, record: Any) -> None:
        """The system refused the refresh token: mark the record so people are told to connect again."""

    def _load(self) -> tuple[Any, OAuthTokens]:
        record, sealed = self._record()
        self._opened = tokens_from_bytes(self._box.open(sealed, self._firm_id))
        return record, self._opened

    def current(self) -> OAuthTokens:
        """The stored tokens, renewed first when they are about to expire."""
        tokens = self._opened or self._load()[1]
        if tokens.expires_at - RENEW_BEFORE <= self._clock.now():
            return self.refresh(tokens)
        return tokens

    def refresh(self, rejected: OAuthTokens) -> OAuthTokens:
        """Renew after ``rejected`` failed; if another worker already renewed, use theirs."""
        record, stored = self._load()
        if stored.access_token != rejected.access_token:
            return stored
        try:
            renewed = self._systems.oauth(self._system.value).refresh(stored)
        except ReauthorizationRequired:
            # StaleVersion: someone else recorded it (or reconnected) meanwhile.
            with contextlib.suppress(StaleVersion):
                self._refused(record)
            raise
        try:
            self._save(record, self._box.seal(tokens_to_bytes(renewed), self._firm_id))
        except StaleVersion:
            # Another worker saved first. Its tokens are the ones the system now honours.
            return self._load()[1]
        self._opened = renewed
        return renewed


class StoredTokenSource(_SealedTokenSource):
    """``TokenSource`` over the firm connection's sealed tokens."""

    def __init__(
        self,
        repository: BillingRepository,
        box: SecretBox,
        systems: BillingSystems,
        clock: Clock,
        firm_id: str,
        system: BillingSystem,
    ) -> None:
        super().__init__(box, systems, clock, firm_id, system)
        self._repository = repository

    def _record(self) -> tuple[BillingConnection, str]:
        connection = self._repository.connection(self._firm_id, self._system.value)
        if connection is None or connection.sealed_tokens is None:
            raise ReauthorizationRequired(f"{self._system.value} is not connected; connect it first")
        if connection.status is ConnectionStatus.REAUTHORIZE:
            raise ReauthorizationRequired()
        return connection, connection.sealed_tokens

    def _save(self, record: BillingConnection, sealed: str) -> None:
        self._repository.save_connection(
            replace(record, sealed_tokens=sealed, last_error=None), "system", "refresh_tokens"
        )

    def _refused(self, record: BillingConnection) -> None:
        self._repository.save_connection(
            replace(
                record,
                status=ConnectionStatus.REAUTHORIZE,
                last_error="the billing system refused our refresh token: connect it again",
            ),
            "system",
            "reauthorize",
        )


class UserTokenSource(_SealedTokenSource):
    """``TokenSource`` over one person's own sealed tokens (sealed like the firm's, bound to the firm).

    A refused refresh marks only this person's authorization ``reauthorize``; the firm connection and
    everyone else's authorizations are untouched.
    """

    def __init__(
        self,
        repository: BillingUserAuthorizations,
        box: SecretBox,
        systems: BillingSystems,
        clock: Clock,
        authorization: BillingUserAuthorization,
    ) -> None:
        super().__init__(box, systems, clock, authorization.firm_id, authorization.system)
        self._repository = repository
        self._user_id = authorization.user_id

    def _record(self) -> tuple[BillingUserAuthorization, str]:
        authorization = self._repository.authorization(self._firm_id, self._system.value, self._user_id)
        if authorization is None or not authorization.usable or authorization.sealed_tokens is None:
            raise ReauthorizationRequired(
                f"this person's {self._system.value} authorization is gone; they connect their account again"
            )
        return authorization, authorization.sealed_tokens

    def _save(self, record: BillingUserAuthorization, sealed: str) -> None:
        self._repository.save_authorization(
            replace(record, sealed_tokens=sealed, last_error=None), "system", "refresh_tokens"
        )

    def _refused(self, record: BillingUserAuthorization) -> None:
        self._repository.save_authorization(
            replace(
                record,
                status=UserAuthorizationStatus.REAUTHORIZE,
                changed_at=self._clock.now(),
                last_error="the billing system refused this person's refresh token: connect again",
            ),
            "system",
            "reauthorize",
        )


class JustIssued:
    """``TokenSource`` over tokens just exchanged (to ask whose login they are); never renews."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self._tokens = tokens

    def current(self) -> OAuthTokens:
        return self._tokens

    def refresh(self, rejected: OAuthTokens) -> OAuthTokens:
        raise ReauthorizationRequired("the billing system refused the token it just issued; connect again")
