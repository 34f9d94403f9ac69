"""The OpenAPI 3.1 description, generated from the routes' declared pydantic models.

What each operation documents, and why it can happen:

    2xx  the route's declared status and model (204: no body; 302: a Location header)
    400  problem: the route takes a body and none was sent, or it is not JSON
    401  {"message": "Unauthorized"}: API Gateway's own answer when the authorizer refuses the token
    403  problem: the caller may not do this (or, on the OAuth callback, the state does not match)
    404  problem: a record named in the path or body is not in the caller's firm, or the firm has not
         set up what the route reads (its Microsoft 365 connection, say)
    409  problem: a stale ``version``, a taken value, or a record in the wrong state
    415  {"Code", "Message"}: Chalice's own answer to a body sent as anything but JSON
    422  problem naming each wrong field; imports that refuse a commit send their row report instead

Request bodies are documented as pydantic validates them, replies as pydantic serializes them (a
``Decimal`` is a string on the way out, for instance), so the spec matches what crosses the wire.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.routing import ROUTES, RouteSpec

_PROBLEM_MEDIA_TYPE = "application/problem+json"

_PROBLEM = {
    "type": "object",
    "description": "An error, in the shape of RFC 9457 problem details.",
    "required": ["status", "code", "title", "detail"],
    "properties": {
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "description": "Stable, for programs: invalid_input, stale_version, ..."},
        "title": {"type": "string"},
        "detail": {"type": "string", "description": "For people: what is wrong and what to do"},
        "errors": {
            "type": "array",
            "description": "Each wrong field, e.g. body.email",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

# API Gateway answers a refused token itself, before any of our code runs.
_GATEWAY_MESSAGE = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}

# Chalice answers a body sent as anything but JSON itself, in its own shape.
_FRAMEWORK_ERROR = {
    "type": "object",
    "required": ["Code", "Message"],
    "properties": {"Code": {"type": "string"}, "Message": {"type": "string"}},
}

# Routes whose commit, refused for bad rows, answers 422 with the whole row report (their reply model)
# so a script can show every bad line at once; their other 422s are problems like everywhere else.
_ROW_REPORT_ON_REFUSAL = {("POST", "/imports/{kind}"), ("POST", "/calls/import")}

# Replies that are not a pydantic model: what they are, by media type.
_UNMODELLED_REPLIES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/openapi.json"): {"application/json": {"schema": {"type": "object"}}},
    ("GET", "/exports/{export_id}/file"): {
        "text/csv": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string", "description": "LEDES 1998B"}},
    },
}

_MUTATING = {"PATCH", "PUT", "POST", "DELETE"}


@lru_cache(maxsize=1)
def build_openapi() -> dict[str, Any]:
    """The whole spec; every documented route appears with its models and error responses."""
    refs, schemas = _component_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Matterline API",
            "version": "1",
            "description": "Time capture and billing for law firms. Errors are JSON problem documents.",
        },
        "tags": [{"name": tag} for tag in sorted({route.tag for route in ROUTES})],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT or mlt_...",
                    "description": "An Entra ID access token for this API, or an API token (mlt_...).",
                }
            },
        },
    }


# Keyed by (model, mode): the same model may be documented both as a body and as a reply.
_Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]


def _component_schemas() -> tuple[_Refs, dict[str, Any]]:
    """Every body model as validated, every reply model as serialized, plus the error shapes."""
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for route in ROUTES:
        if route.body is not None:
            wanted.add((route.body, "validation"))
        if route.response is not None:
            wanted.add((route.response, "serialization"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, components = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
    schemas = dict(components.get("$defs", {}))
    schemas["Problem"] = _PROBLEM
    schemas["GatewayMessage"] = _GATEWAY_MESSAGE
    schemas["FrameworkError"] = _FRAMEWORK_ERROR
    return dict(refs), schemas


def _component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {_PROBLEM_MEDIA_TYPE: {"schema": _component("Problem")}, **(extra or {})},
    }


def _operation(route: RouteSpec, refs: _Refs) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{route.method} {route.path}").strip("_").lower(),
    }
    path_names = re.findall(r"{(\w+)}", route.path)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in path_names
    ] + _query_parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    if not route.public:
        operation["security"] = [{"bearer": []}]
    operation["responses"] = _responses(route, refs, has_input=bool(parameters) or route.body is not None)
    return operation


def _query_parameters(route: RouteSpec) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    query_schema = route.query.model_json_schema()
    required = set(query_schema.get("required", []))
    definitions = query_schema.get("$defs", {})
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _as_query_value(_inlined(field_schema, definitions)),
        }
        for name, field_schema in query_schema.get("properties", {}).items()
    ]


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """A parameter's schema stands alone: references to the query model's own definitions (an enum,
    say) are copied in, since those definitions are not components of the spec."""
    if isinstance(schema, dict):
        reference = schema.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return _inlined(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inlined(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


def _as_query_value(field_schema: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot carry null: an optional parameter is one that is left out."""
    schema = {key: value for key, value in field_schema.items() if key != "title"}
    branches = schema.get("anyOf")
    if branches is not None:
        values = [branch for branch in branches if branch.get("type") != "null"]
        schema.pop("anyOf")
        schema.update(values[0] if len(values) == 1 else {"anyOf": values})
    if schema.get("default", 0) is None:
        schema.pop("default")
    return schema


def _success(route: RouteSpec, refs: _Refs) -> dict[str, Any]:
    if route.status == 204:
        return {"description": "Done; nothing to return"}
    if route.status == 302:
        return {
            "description": "Redirect the browser",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        }
    success: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        body: dict[str, Any] = refs[(route.response, "serialization")]
        if route.response_is_list:
            body = {"type": "array", "items": body}
        success["content"] = {"application/json": {"schema": body}}
    elif (route.method, route.path) in _UNMODELLED_REPLIES:
        success["content"] = _UNMODELLED_REPLIES[(route.method, route.path)]
    return success


def _responses(route: RouteSpec, refs: _Refs, *, has_input: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {str(route.status): _success(route, refs)}
    if route.body is not None:
        responses["400"] = _problem("No body, or a body that is not JSON")
    if not route.public:
        responses["401"] = {
            "description": "No token, or a token we cannot verify (answered by the gateway)",
            "content": {"application/json": {"schema": _component("GatewayMessage")}},
        }
    if not route.public:
        responses["403"] = _problem("Signed in, but not allowed")
    elif has_input:
        responses["403"] = _problem(
            "Not a request this public route accepts (a callback without our state, say)"
        )
    if not route.public or "{" in route.path:
        responses["404"] = _problem(
            "Not there: a record named in the path or body is not in your firm, or the firm has not set "
            "up what this route reads (a connection, say)"
        )
    if not route.public and route.method in _MUTATING:
        responses["409"] = _problem(
            "The record changed since you read it, the value is taken, or its state forbids this"
        )
    if route.body is not None:
        responses["415"] = {
            "description": "The body is not sent as application/json (answered by the framework)",
            "content": {"application/json": {"schema": _component("FrameworkError")}},
        }
    if has_input:
        row_report: dict[str, Any] = {}
        if (route.method, route.path) in _ROW_REPORT_ON_REFUSAL and route.response is not None:
            row_report = {"application/json": {"schema": refs[(route.response, "serialization")]}}
        responses["422"] = _problem(
            "A value is missing or wrong; `errors` names each field"
            + ("; a refused commit sends the row report instead" if row_report else ""),
            row_report,
        )
    return responses
