"""Per-user billing authorizations: each person connects their own Actionstep account.

A firm connects Actionstep once (an admin); each of its people may then authorize their own Actionstep
login, so the time they post is carried by their own token, not the admin's. The connection's
``USER_AUTHORIZATION`` property says what happens to the time of someone who has not:

    OPTIONAL  ──▶ posted through the firm connection, as before
    REQUIRED  ──▶ not posted: the outcome names the person and what they must do

Pure data and rules; the service keeps the records and talks to the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.billing import BillingSystem

# The systems whose people authorize their own accounts (Clio: one admin connects the whole team).
USER_AUTHORIZED_SYSTEMS = frozenset({BillingSystem.ACTIONSTEP})


class UserAuthorizationMode(StrEnum):
    """``USER_AUTHORIZATION``: whether a person's own authorization is needed to post their time."""

    OPTIONAL = "OPTIONAL"
    REQUIRED = "REQUIRED"


class UserAuthorizationStatus(StrEnum):
    """``connected`` until the system refuses the person's refresh token or they disconnect."""

    CONNECTED = "connected"
    REAUTHORIZE = "reauthorize"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class BillingUserAuthorization:
    """One person's link to their own account in a billing system. ``sealed_tokens`` is KMS ciphertext."""

    firm_id: str
    system: BillingSystem
    user_id: str
    status: UserAuthorizationStatus = UserAuthorizationStatus.DISCONNECTED
    sealed_tokens: str | None = None
    # The system's id of the person the token signs in as (Actionstep: their participant id).
    participant_id: str | None = None
    participant_name: str | None = None
    authorized_at: datetime | None = None
    changed_at: datetime | None = None
    last_error: str | None = None
    version: int = 0

    @property
    def usable(self) -> bool:
        """Whether posting may use this person's token."""
        return self.status is UserAuthorizationStatus.CONNECTED and self.sealed_tokens is not None


def takes_user_authorization(system: BillingSystem) -> bool:
    """Whether ``system``'s people authorize their own accounts."""
    return system in USER_AUTHORIZED_SYSTEMS


def missing_authorization_message(email: str, system: BillingSystem) -> str:
    """What a REQUIRED connection says about an entry of someone who has not authorized."""
    title = "Actionstep" if system is BillingSystem.ACTIONSTEP else system.value.title()
    return (
        f"{email} has not connected their {title} account: "
        f"they sign in to the console and choose Connect to {title}"
    )


class PosterKind(StrEnum):
    USER = "user"
    FIRM = "firm"
    REFUSE = "refuse"


@dataclass(frozen=True)
class PosterChoice:
    """Which token posts an entry: the person's own, the firm connection's, or none (``message`` says why)."""

    kind: PosterKind
    message: str = ""


def choose_poster(
    system: BillingSystem,
    mode: UserAuthorizationMode,
    authorization: BillingUserAuthorization | None,
    email: str,
) -> PosterChoice:
    """Whose token carries an entry to ``system``.

    A person's usable authorization always wins (their time is posted as them). Without one, OPTIONAL
    falls back to the firm connection and REQUIRED refuses, naming the person and what they must do.
    A system without user authorization always posts through the firm connection.
    """
    if not takes_user_authorization(system):
        return PosterChoice(PosterKind.FIRM)
    if authorization is not None and authorization.usable:
        return PosterChoice(PosterKind.USER)
    if mode is UserAuthorizationMode.REQUIRED:
        return PosterChoice(PosterKind.REFUSE, missing_authorization_message(email, system))
    return PosterChoice(PosterKind.FIRM)


def mode_of(text: str) -> UserAuthorizationMode:
    """The stored ``USER_AUTHORIZATION`` value as a mode (anything unknown reads as OPTIONAL)."""
    try:
        return UserAuthorizationMode(text.strip().upper())
    except ValueError:
        return UserAuthorizationMode.OPTIONAL
