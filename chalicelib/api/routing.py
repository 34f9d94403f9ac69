"""Documented routes: each route declares its models once, for parsing, replies and the OpenAPI spec.

A handler receives a ``Call`` (the verified caller, the parsed body and query) plus its path parameters,
and returns a pydantic model, a list of models, a dict, or a Chalice ``Response``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api import errors
from chalicelib.api.security import authorizer, principal_from_context
from chalicelib.domain.errors import DomainError
from chalicelib.domain.identity import Principal

if TYPE_CHECKING:
    from chalicelib.bootstrap import Container


@dataclass(frozen=True)
class RouteSpec:
    """What the OpenAPI generator needs to know about one route."""

    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    response_is_list: bool
    status: int
    public: bool


ROUTES: list[RouteSpec] = []


@dataclass(frozen=True)
class Call:
    """One request, parsed."""

    principal: Principal
    body: Any
    query: Any


class Api:
    """Registers documented routes on a blueprint."""

    def __init__(self, blueprint: Blueprint, tag: str) -> None:
        self.blueprint = blueprint
        self.tag = tag

    def route(
        self,
        path: str,
        method: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        response_is_list: bool = False,
        status: int = 200,
        public: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a route; the decorated function receives ``Call`` and the path parameters."""
        spec = RouteSpec(
            path, method, summary, self.tag, body, query, response, response_is_list, status, public
        )
        ROUTES.append(spec)

        def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(handler)
            def view(**path_params: str) -> Any:
                return _run(self.blueprint, spec, handler, path_params)

            self.blueprint.route(
                path,
                methods=[method],
                authorizer=None if public else authorizer,
                cors=True,
                content_types=["application/json"],
            )(view)
            return handler

        return decorate


def _run(
    blueprint: Blueprint, spec: RouteSpec, handler: Callable[..., Any], path_params: dict[str, str]
) -> Any:
    request = blueprint.current_request
    try:
        principal = principal_from_context(request.context) if not spec.public else None
        body = _parse_body(request.raw_body, spec.body) if spec.body else None
        query = _parse_query(request.query_params or {}, spec.query) if spec.query else None
        result = handler(Call(principal=principal, body=body, query=query), **path_params)  # type: ignore[arg-type]
    except _BadRequest as bad:
        return bad.response
    except ValidationError as invalid:
        return errors.from_validation_error(invalid, "request")
    except DomainError as error:
        return errors.from_domain_error(error)
    except Exception as error:
        return errors.unexpected(error)
    return _reply(result, spec.status)


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _parse_body(raw: str | bytes | None, model: type[BaseModel]) -> BaseModel:
    if not raw:
        raise _BadRequest(errors.problem(400, "missing_body", "Bad request", "send a JSON body"))
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise _BadRequest(
            errors.problem(400, "malformed_json", "Bad request", f"the body is not valid JSON: {error}")
        ) from error
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise _BadRequest(errors.from_validation_error(invalid, "body")) from invalid


def _parse_query(params: Mapping[str, str], model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(dict(params))
    except ValidationError as invalid:
        raise _BadRequest(errors.from_validation_error(invalid, "query")) from invalid


def _reply(result: Any, status: int) -> Any:
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        body: Any = result.model_dump(mode="json")
    elif isinstance(result, list):
        body = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in result]
    else:
        body = result
    if status == 204:
        return Response(body="", status_code=204)
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def services() -> Container:
    """The wired application (built on first use, so importing the API stays cheap)."""
    from chalicelib.bootstrap import container

    return container()
