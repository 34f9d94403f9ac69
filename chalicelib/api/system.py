"""Health and the OpenAPI description: the routes that need no token."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Api, Call
from chalicelib.api.schemas import Health

system = Blueprint(__name__)
api = Api(system, "system")


@api.route("/health", "GET", summary="Liveness: the API answers", response=Health, public=True)
def health(call: Call) -> Health:
    return Health()


@api.route("/openapi.json", "GET", summary="This API's OpenAPI 3.1 description", public=True)
def openapi(call: Call) -> dict[str, Any]:
    from chalicelib.api.openapi import build_openapi

    return build_openapi()
