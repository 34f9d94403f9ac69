"""The OpenAPI 3.1 description, generated from the routes' declared pydantic models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.routing import ROUTES, RouteSpec

_PROBLEM = {
    "type": "object",
    "required": ["status", "code", "title", "detail"],
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


@lru_cache(maxsize=1)
def build_openapi() -> dict[str, Any]:
    """The whole spec; every documented route appears with its models and error responses."""
    models: set[type[BaseModel]] = set()
    for route in ROUTES:
        models.update(m for m in (route.body, route.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, components = models_json_schema(
        [(model, "validation") for model in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(components.get("$defs", {}))
    schemas["Problem"] = _PROBLEM
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Matterline API",
            "version": "1",
            "description": "Time capture and billing for law firms. Errors are JSON problem documents.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An Entra ID access token for this API, or an API token (mlt_...).",
                }
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref_problem()}}}


def _ref_problem() -> dict[str, str]:
    return {"$ref": "#/components/schemas/Problem"}


def _operation(route: RouteSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{route.method} {route.path}").strip("_").lower(),
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        query_schema = route.query.model_json_schema()
        required = set(query_schema.get("required", []))
        for name, field_schema in query_schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": field_schema}
            )
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    success: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        body: dict[str, Any] = _ref(route.response)
        if route.response_is_list:
            body = {"type": "array", "items": body}
        success["content"] = {"application/json": {"schema": body}}
    responses: dict[str, Any] = {str(route.status): success}
    if route.body is not None or route.query is not None:
        responses["400"] = _problem("The body is not JSON")
        responses["422"] = _problem("A field is missing or wrong; `errors` names it")
    if not route.public:
        operation["security"] = [{"bearer": []}]
        responses["401"] = {"description": "No token, or a token we cannot verify"}
        responses["403"] = _problem("Signed in, but not allowed")
        if "{" in route.path:
            responses["404"] = _problem("No such record in your firm")
        if route.method in {"PATCH", "PUT", "POST", "DELETE"}:
            responses["409"] = _problem("The record changed since you read it, or the value is taken")
    operation["responses"] = responses
    return operation
