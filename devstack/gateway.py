"""Makes Chalice's local API Gateway answer a failed authorizer the way API Gateway does.

In AWS, a TOKEN authorizer that raises ``Exception("Unauthorized")`` makes API Gateway answer 401. Chalice's
local gateway lets that exception escape instead. The devstack and the tests run the same app through the
local gateway, so this one translation lives here, outside ``chalicelib``.
"""

from __future__ import annotations

from typing import Any

from chalice import local

_original_authorize = local.LocalGatewayAuthorizer.authorize


def _authorize(self: local.LocalGatewayAuthorizer, raw_path: str, event: Any, context: Any) -> Any:
    try:
        return _original_authorize(self, raw_path, event, context)
    except local.LocalGatewayException:
        raise
    except Exception as error:
        if str(error) != "Unauthorized":
            raise
        raise local.NotAuthorizedError(
            {"x-amzn-RequestId": context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException"},
            b'{"message":"Unauthorized"}',
        ) from error


def install_unauthorized_translation() -> None:
    """Idempotent: patch the local authorizer once per process."""
    local.LocalGatewayAuthorizer.authorize = _authorize  # type: ignore[method-assign,assignment]


class NoDelayRequestHandler(local.ChaliceRequestHandler):
    """Chalice's local handler, writing each reply at once.

    http.server sends the headers and the body in two writes; with Nagle's algorithm on, the body waits
    for the client's delayed ACK of the headers, about 40 ms per request on a kept-alive connection.
    """

    disable_nagle_algorithm = True

    def _parse_payload(self) -> tuple[dict[str, str], bytes | None]:
        """The headers and the body; a Content-Length that is not a byte count means no body.

        Chalice's own parser raises on it and drops the connection, so the client sees a network error
        instead of an answer; with no body, the route answers as it does to any request without one
        (a 400 where a body is required)."""
        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else None
        return dict(self.headers), body
