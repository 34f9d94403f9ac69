"""The one place where errors become HTTP: JSON problem documents (RFC 9457 shape).

{"status": 422, "code": "invalid_input", "title": "...", "detail": "...",
 "errors": [{"field": "email", "message": "..."}]}
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import Response
from pydantic import ValidationError

from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    UpstreamFailed,
)

logger = logging.getLogger("matterline.api")

_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidInput, 422, "The request breaks a rule"),
    (NotAuthenticated, 401, "Not signed in"),
    (Forbidden, 403, "Not allowed"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict with the current state"),
    (UpstreamFailed, 502, "A connected system failed"),
]


def problem(
    status: int, code: str, title: str, detail: str, field_errors: list[FieldError] | None = None
) -> Response:
    """A problem response."""
    body: dict[str, Any] = {"status": status, "code": code, "title": title, "detail": detail}
    if field_errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in field_errors]
    return Response(body=body, status_code=status, headers={"Content-Type": "application/problem+json"})


def from_domain_error(error: DomainError) -> Response:
    """Map a typed domain error to its status."""
    for kind, status, title in _STATUS:
        if isinstance(error, kind):
            return problem(status, error.code, title, error.message, error.field_errors)
    return problem(400, error.code, "Bad request", error.message, error.field_errors)


def from_validation_error(error: ValidationError, location: str) -> Response:
    """A pydantic error names every field that is wrong."""
    field_errors = [
        FieldError(
            ".".join(str(part) for part in (location, *detail["loc"]) if part != ""),
            detail["msg"],
        )
        for detail in error.errors(include_url=False)
    ]
    return problem(
        422, "invalid_input", "The request breaks a rule", f"the {location} is not valid", field_errors
    )


def unexpected(error: Exception) -> Response:
    """A bug: log it with its trace, tell the caller nothing internal."""
    logger.exception("unhandled error", exc_info=error)
    return problem(500, "internal_error", "Something went wrong", "an unexpected error occurred; try again")
