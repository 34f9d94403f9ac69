"""Microsoft 365: the firm's connection (admins) and Graph's change-notification webhooks (public).

Webhooks answer within Graph's limits by doing almost nothing: the validation handshake echoes the
token (200, text/plain, within 10 s); a notification batch has each item's clientState checked and one
sync job per (user, folder) queued, then 202 (within 3 s). Items that fail the check are dropped and
counted, never answered with an error: Graph would only retry them. The sync itself runs in the worker.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice import Blueprint, Response
from pydantic import ValidationError

from chalicelib.api import errors
from chalicelib.api.microsoft_schemas import (
    GraphNotificationBatch,
    MicrosoftCaptureSwitch,
    MicrosoftConnectIn,
    MicrosoftConnectionOut,
    MicrosoftSubscriptionOut,
    MicrosoftSyncQuery,
    MicrosoftSyncQueuedOut,
    MicrosoftUserOut,
)
from chalicelib.api.routing import ROUTES, Api, Call, RouteSpec, services
from chalicelib.domain.errors import DomainError

logger = logging.getLogger("matterline.webhooks")

microsoft = Blueprint(__name__)
api = Api(microsoft, "microsoft365")

# Graph's tokens are a sentence of a few dozen characters; anything far longer is not Graph.
MAX_VALIDATION_TOKEN_CHARS = 1024


@api.route(
    "/connections/microsoft",
    "PUT",
    summary="Connect the firm's Microsoft 365 tenant (or change which users are captured and how)",
    body=MicrosoftConnectIn,
    response=MicrosoftConnectionOut,
)
def connect(call: Call) -> MicrosoftConnectionOut:
    from chalicelib.domain.m365 import MailProtocol
    from chalicelib.services.mailbox_sync import ConnectRequest

    body: MicrosoftConnectIn = call.body
    service = services().mailbox_sync
    service.connect(
        call.principal,
        ConnectRequest(
            tenant_id=body.tenant_id,
            client_id=body.client_id,
            client_secret=body.client_secret,
            protocol=MailProtocol(body.protocol),
            ews_endpoint=body.ews_endpoint,
            users=[(u.user_id, u.enabled, u.mailbox) for u in body.users] if body.users is not None else None,
            capture_free_meetings=body.capture_free_meetings,
            capture_all_day_meetings=body.capture_all_day_meetings,
            capture_unanswered_meetings=body.capture_unanswered_meetings,
        ),
    )
    return MicrosoftConnectionOut.of(service.status(call.principal))


@api.route(
    "/connections/microsoft",
    "GET",
    summary="The Microsoft 365 connection: captured users, last syncs, subscriptions, errors",
    response=MicrosoftConnectionOut,
)
def connection_status(call: Call) -> MicrosoftConnectionOut:
    return MicrosoftConnectionOut.of(services().mailbox_sync.status(call.principal))


@api.route(
    "/connections/microsoft/users/{user_id}",
    "PUT",
    summary="Turn Microsoft 365 capture on or off for one person",
    body=MicrosoftCaptureSwitch,
    response=MicrosoftUserOut,
)
def switch_user(call: Call, user_id: str) -> MicrosoftUserOut:
    body: MicrosoftCaptureSwitch = call.body
    captured = services().mailbox_sync.set_user(
        call.principal, user_id, enabled=body.enabled, mailbox=body.mailbox
    )
    return MicrosoftUserOut.of(captured)


@api.route(
    "/connections/microsoft/sync",
    "POST",
    summary="Sync now: every captured mailbox, or one person's (?user_id=)",
    query=MicrosoftSyncQuery,
    response=MicrosoftSyncQueuedOut,
    status=202,
)
def sync_now(call: Call) -> MicrosoftSyncQueuedOut:
    query: MicrosoftSyncQuery = call.query
    return MicrosoftSyncQueuedOut.of(services().mailbox_sync.sync_now(call.principal, query.user_id))


@api.route(
    "/connections/microsoft/subscriptions",
    "GET",
    summary="The firm's Graph change-notification subscriptions",
    response=MicrosoftSubscriptionOut,
    response_is_list=True,
)
def subscriptions(call: Call) -> list[MicrosoftSubscriptionOut]:
    return [MicrosoftSubscriptionOut.of(s) for s in services().mailbox_sync.subscriptions_of(call.principal)]


# ---------------------------------------------------------------- Graph's webhooks (public)


def _webhook(path: str, summary: str, lifecycle: bool) -> None:
    # Registered by hand rather than through ``Api.route``: Graph's validation request is a POST with
    # ``Content-Type: text/plain`` and an empty body, which a JSON-only route would refuse with 415.
    # The handshake's query parameter is left out of the description on purpose: the operation's
    # documented contract is the notification batch and its 202.
    ROUTES.append(
        RouteSpec(path, "POST", summary, api.tag, GraphNotificationBatch, None, None, False, 202, True)
    )

    def view() -> Response:
        return _receive(microsoft.current_request, lifecycle)

    view.__name__ = f"graph_webhook{'_lifecycle' if lifecycle else ''}"
    microsoft.route(
        path,
        methods=["POST"],
        authorizer=None,
        content_types=["application/json", "text/plain"],
    )(view)


def _receive(request: Any, lifecycle: bool) -> Response:
    token = (request.query_params or {}).get("validationToken")
    if token is not None:
        # Graph proves the endpoint: answer with the decoded token, exactly, as plain text.
        if not token or len(token) > MAX_VALIDATION_TOKEN_CHARS:
            return errors.problem(
                400, "bad_validation_token", "Bad request", "the validationToken is not valid"
            )
        return Response(
            body=token,
            status_code=200,
            headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
        )
    raw = request.raw_body
    if not raw:
        return errors.problem(400, "missing_body", "Bad request", "send Graph's notification batch as JSON")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        return errors.problem(400, "malformed_json", "Bad request", f"the body is not valid JSON: {error}")
    try:
        batch = GraphNotificationBatch.model_validate(data)
    except ValidationError as invalid:
        return errors.from_validation_error(invalid, "body")
    from chalicelib.services.mailbox_sync import notifications_from

    try:
        service = services().mailbox_sync
        items = notifications_from(item.model_dump() for item in batch.value)
        outcome = service.handle_lifecycle(items) if lifecycle else service.handle_notifications(items)
    except DomainError as error:
        return errors.from_domain_error(error)
    except Exception as error:
        return errors.unexpected(error)
    if outcome.rejected:
        # Someone posts notifications that match no subscription of ours: worth a look, never an answer.
        logger.warning("graph webhook: %d of %d items rejected", outcome.rejected, len(items))
    return Response(body="", status_code=202, headers={"Content-Type": "text/plain; charset=utf-8"})


_webhook("/webhooks/graph", "Graph change notifications (and Graph's validation handshake)", lifecycle=False)
_webhook(
    "/webhooks/graph/lifecycle",
    "Graph lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed",
    lifecycle=True,
)
