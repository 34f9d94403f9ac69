"""Typed domain errors. The API turns them into JSON problems in one place (``chalicelib.api.errors``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field of the input."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field_errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or []


class InvalidInput(DomainError):
    """The request is well-formed but its values break a rule."""

    code = "invalid_input"


class NotAuthenticated(DomainError):
    """No identity, or one we cannot verify."""

    code = "not_authenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class NotFound(DomainError):
    """The thing does not exist (or is not visible to the caller, which looks the same from outside)."""

    code = "not_found"


class UpstreamFailed(DomainError):
    """A connected system (a billing system, Microsoft 365) failed or refused; trying later may help."""

    code = "upstream_failed"


class Conflict(DomainError):
    """The change collides with the current state: a stale version, a duplicate, a wrong status."""

    code = "conflict"


class StaleVersion(Conflict):
    """Somebody else changed the record since it was read."""

    code = "stale_version"

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(f"{entity} {entity_id} was changed by someone else; reload it and try again")
        self.entity = entity
        self.entity_id = entity_id


class Duplicate(Conflict):
    """A value that must be unique is already taken."""

    code = "duplicate"
