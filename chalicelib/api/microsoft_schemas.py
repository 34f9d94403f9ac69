"""Request and response models of the Microsoft 365 connection and Graph's webhooks.

Model names are unique across the API (they name OpenAPI components), hence the Microsoft/Graph prefix.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.api.schemas import ApiModel, Input

if TYPE_CHECKING:  # the domain and services are imported on first use, not at a cold start
    from chalicelib.domain.m365 import CapturedUser, Subscription, SyncTarget
    from chalicelib.services.mailbox_sync import ConnectionStatus, UserStatusView

UserId = Field(min_length=1, max_length=100)


class MicrosoftUserIn(Input):
    """A person to capture: their roster id, on or off, and the mailbox if it is not their email."""

    user_id: str = UserId
    enabled: bool = True
    mailbox: str | None = Field(default=None, min_length=3, max_length=320)


class MicrosoftConnectIn(Input):
    """Connect the firm's Microsoft 365 tenant (or reconfigure it).

    ``tenant_id`` defaults to the firm's sign-in tenant; ``client_id`` to Matterline's app registration.
    A firm that registered its own app gives its ``client_id`` and ``client_secret`` (sealed, never
    shown again). ``users`` omitted keeps the current list (first time: every active attorney).
    """

    tenant_id: str | None = Field(default=None, min_length=3, max_length=256)
    client_id: str | None = Field(default=None, min_length=36, max_length=36)
    client_secret: str | None = Field(default=None, min_length=1, max_length=1024)
    protocol: Literal["graph", "ews"] = "graph"
    ews_endpoint: str | None = Field(default=None, max_length=2048)
    users: list[MicrosoftUserIn] | None = Field(default=None, max_length=5000)
    capture_free_meetings: bool = False
    capture_all_day_meetings: bool = False
    capture_unanswered_meetings: bool = False


class MicrosoftCaptureSwitch(Input):
    """Turn capture on or off for one person; ``mailbox`` only when it differs from their email."""

    enabled: bool
    mailbox: str | None = Field(default=None, min_length=3, max_length=320)


class MicrosoftSyncQuery(Input):
    """Sync one person's folders, or everyone's."""

    user_id: str | None = Field(default=None, min_length=1, max_length=100)


class MicrosoftFolderOut(ApiModel):
    folder: str
    last_synced_at: datetime | None
    round_complete: bool
    full_syncs: int
    captures: int
    last_error: str | None
    last_error_at: datetime | None
    subscription_id: str | None
    subscription_expires_at: datetime | None


class MicrosoftUserOut(ApiModel):
    user_id: str
    mailbox: str
    enabled: bool
    folders: list[MicrosoftFolderOut] = Field(default_factory=list)

    @classmethod
    def of(cls, user: CapturedUser, view: UserStatusView | None = None) -> MicrosoftUserOut:
        from chalicelib.domain.m365 import CAPTURED_FOLDERS

        folders = []
        for folder in CAPTURED_FOLDERS if view else ():
            assert view is not None
            state = view.states.get(folder)
            subscription = view.subscriptions.get(folder)
            folders.append(
                MicrosoftFolderOut(
                    folder=folder.value,
                    last_synced_at=state.last_synced_at if state else None,
                    round_complete=state.round_complete if state else False,
                    full_syncs=state.full_syncs if state else 0,
                    captures=state.captures if state else 0,
                    last_error=state.last_error if state else None,
                    last_error_at=state.last_error_at if state else None,
                    subscription_id=subscription.subscription_id if subscription else None,
                    subscription_expires_at=subscription.expires_at if subscription else None,
                )
            )
        return cls(user_id=user.user_id, mailbox=user.mailbox, enabled=user.enabled, folders=folders)


class MicrosoftErrorOut(ApiModel):
    user_id: str
    folder: str
    error: str


class MicrosoftConnectionOut(ApiModel):
    tenant_id: str
    client_id: str
    protocol: str
    ews_endpoint: str | None
    own_app_secret: bool
    capture_free_meetings: bool
    capture_all_day_meetings: bool
    capture_unanswered_meetings: bool
    connected_at: datetime | None
    version: int
    users: list[MicrosoftUserOut]
    errors: list[MicrosoftErrorOut]

    @classmethod
    def of(cls, status: ConnectionStatus) -> MicrosoftConnectionOut:
        connection = status.connection
        views = {view.user.user_id: view for view in status.users}
        return cls(
            tenant_id=connection.tenant_id,
            client_id=connection.client_id,
            protocol=connection.protocol.value,
            ews_endpoint=connection.ews_endpoint,
            own_app_secret=connection.client_secret_sealed is not None,
            capture_free_meetings=connection.capture_free_meetings,
            capture_all_day_meetings=connection.capture_all_day_meetings,
            capture_unanswered_meetings=connection.capture_unanswered_meetings,
            connected_at=connection.connected_at,
            version=connection.version,
            users=[MicrosoftUserOut.of(user, views.get(user.user_id)) for user in connection.users],
            errors=[
                MicrosoftErrorOut(user_id=user_id, folder=folder.value, error=error)
                for user_id, folder, error in status.errors
            ],
        )


class MicrosoftSubscriptionOut(ApiModel):
    subscription_id: str
    user_id: str
    folder: str
    resource: str
    expires_at: datetime
    renewed_at: datetime
    renewals: int
    renewal_due_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> MicrosoftSubscriptionOut:
        return cls(
            subscription_id=subscription.subscription_id,
            user_id=subscription.user_id,
            folder=subscription.folder.value,
            resource=subscription.resource,
            expires_at=subscription.expires_at,
            renewed_at=subscription.renewed_at,
            renewals=subscription.renewals,
            renewal_due_at=subscription.renewed_at + (subscription.expires_at - subscription.renewed_at) / 2,
        )


class MicrosoftSyncTargetOut(ApiModel):
    user_id: str
    folder: str


class MicrosoftSyncQueuedOut(ApiModel):
    queued: int
    targets: list[MicrosoftSyncTargetOut]

    @classmethod
    def of(cls, targets: list[SyncTarget]) -> MicrosoftSyncQueuedOut:
        return cls(
            queued=len(targets),
            targets=[MicrosoftSyncTargetOut(user_id=t.user_id, folder=t.folder.value) for t in targets],
        )


# ---------------------------------------------------------------- Graph's webhooks


class GraphNotificationItem(ApiModel):
    """One notification. Graph sends more fields than these (and adds new ones): they are allowed."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    # Graph's own field names, so the model reads like Graph's documentation.
    subscriptionId: str = Field(min_length=1, max_length=200)
    clientState: str | None = Field(default=None, max_length=1024)
    changeType: str | None = Field(default=None, max_length=100)
    lifecycleEvent: str | None = Field(default=None, max_length=100)
    resource: str | None = Field(default=None, max_length=4096)
    resourceData: dict[str, Any] | None = None
    subscriptionExpirationDateTime: str | None = Field(default=None, max_length=64)
    tenantId: str | None = Field(default=None, max_length=100)


class GraphNotificationBatch(ApiModel):
    """``{"value": [...]}`` as Graph posts it to the notification (or lifecycle) URL."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    value: list[GraphNotificationItem] = Field(min_length=1, max_length=1000)
