"""Graph change notifications for the simulated mailboxes: subscriptions, the validation handshake,
notification and lifecycle delivery.

Behaviour follows Microsoft Graph's webhook documentation, so that a receiver which works here works
against the real service:

* ``POST /subscriptions`` first proves the endpoint: it POSTs ``{notificationUrl}?validationToken=...``
  (a phrase with spaces, URL-encoded) and needs ``200``, ``text/plain`` and exactly the decoded token
  back within 10 seconds; the same for ``lifecycleNotificationUrl``. Otherwise the subscription is
  refused with ``400``.
* ``expirationDateTime`` may lie at most ``max_lifetime`` ahead (4,230 minutes for Outlook resources by
  default; configurable), ``clientState`` at most 128 characters.
* On every change to a subscribed resource a background thread POSTs
  ``{"value": [{subscriptionId, subscriptionExpirationDateTime, changeType, resource, resourceData,
  clientState, tenantId}]}``. The receiver must answer 2xx (Graph expects ``202 Accepted``) within 3
  seconds; failures are retried with exponential back-off and then dropped. Notifications due for the
  same URL at the same time travel in one POST, as Graph batches them.
* Lifecycle events (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``) go to
  ``lifecycleNotificationUrl`` with ``lifecycleEvent`` in place of ``changeType``.
* Expired subscriptions stop notifying and disappear.

Plain ``http`` notification URLs are accepted on loopback hosts only (the devstack's API runs on
``http://127.0.0.1``); Graph itself requires ``https``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from devstack.m365.mailbox import (
    MAIL_FOLDERS,
    Change,
    ChangeKind,
    MailboxStore,
    WellKnownFolder,
    parse_folder,
)

logger = logging.getLogger(__name__)

CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})
MAX_CLIENT_STATE = 128
DEFAULT_MAX_LIFETIME = timedelta(minutes=4230)


@dataclass(frozen=True)
class NotificationSettings:
    """Limits and timings; tests shorten the waits."""

    max_lifetime: timedelta = DEFAULT_MAX_LIFETIME
    validation_timeout: float = 10.0
    delivery_timeout: float = 3.0
    delivery_attempts: int = 4
    retry_backoff: float = 1.0  # seconds before the first retry; doubles each time
    verify: bool | str = True  # TLS verification for https endpoints (a CA bundle path is allowed)
    delivery_threads: int = 4


class SubscriptionError(Exception):
    """A subscription request Graph would refuse: HTTP status, Graph error code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ResourceRef:
    """What a subscription's ``resource`` names: whose mailbox (``me``, an id or a UPN) and which part."""

    mailbox: str
    scope: str  # messages (every mail folder) | folder (one mail folder) | events
    folder: WellKnownFolder | None = None

    @property
    def is_me(self) -> bool:
        """Whether the resource says ``me`` (the signed-in user; delegated tokens only)."""
        return self.mailbox.lower() == "me"


_OWNER = r"(?:(?P<me>me)|users/(?P<user>[^/]+))"
_RESOURCE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^{_OWNER}/messages$", re.IGNORECASE), "messages"),
    (
        re.compile(
            rf"^{_OWNER}/mailfolders(?:\('(?P<qfolder>[^']+)'\)|/(?P<folder>[^/]+))/messages$", re.IGNORECASE
        ),
        "folder",
    ),
    (re.compile(rf"^{_OWNER}/(?:calendar/)?events$", re.IGNORECASE), "events"),
)


def parse_resource(resource: str) -> ResourceRef:
    """Parse a subscription ``resource`` (``users/{id}/mailFolders('inbox')/messages``, ``me/events``...).

    Raises ``SubscriptionError`` (400) for resources the simulator does not support.
    """
    path = resource.strip().split("?", 1)[0].strip("/")
    for pattern, scope in _RESOURCE_PATTERNS:
        match = pattern.match(path)
        if match is None:
            continue
        owner = "me" if match.group("me") else match.group("user")
        folder = None
        if scope == "folder":
            name = match.group("qfolder") or match.group("folder") or ""
            folder = parse_folder(name)
            if folder is None or folder not in MAIL_FOLDERS:
                raise SubscriptionError(
                    400, "InvalidRequest", f"The mail folder '{name}' is not supported by this simulator."
                )
        return ResourceRef(mailbox=owner, scope=scope, folder=folder)
    raise SubscriptionError(400, "InvalidRequest", f"Resource '{resource}' is not supported.")


@dataclass(frozen=True)
class Subscription:
    """A Graph subscription to one mailbox's messages or events."""

    subscription_id: str
    tenant_id: str
    application_id: str
    creator_id: str
    resource: str
    mailbox_id: str  # the owner's user id
    scope: str
    folder: WellKnownFolder | None
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires_at: datetime
    immutable_ids: bool
    created_at: datetime
    reauthorization_required: bool = False

    def covers(self, change: Change) -> bool:
        """Whether ``change`` is one this subscription reports."""
        if change.mailbox != self.mailbox_id or str(change.kind) not in self.change_types:
            return False
        if self.scope == "events":
            return change.folder == WellKnownFolder.CALENDAR
        if self.scope == "folder":
            return change.folder == self.folder
        return change.folder in MAIL_FOLDERS

    def to_graph(self, base_url: str) -> dict[str, Any]:
        """The subscription resource as Graph returns it."""
        return {
            "@odata.context": f"{base_url}/v1.0/$metadata#subscriptions/$entity",
            "id": self.subscription_id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": graph_timestamp(self.expires_at),
            "creatorId": self.creator_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return {
            "subscription_id": self.subscription_id,
            "tenant_id": self.tenant_id,
            "application_id": self.application_id,
            "creator_id": self.creator_id,
            "resource": self.resource,
            "mailbox_id": self.mailbox_id,
            "scope": self.scope,
            "folder": str(self.folder) if self.folder else None,
            "change_types": list(self.change_types),
            "notification_url": self.notification_url,
            "lifecycle_url": self.lifecycle_url,
            "client_state": self.client_state,
            "expires_at": self.expires_at.isoformat(),
            "immutable_ids": self.immutable_ids,
            "created_at": self.created_at.isoformat(),
            "reauthorization_required": self.reauthorization_required,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subscription:
        """Rebuild from ``to_dict`` output."""
        return cls(
            subscription_id=str(data["subscription_id"]),
            tenant_id=str(data["tenant_id"]),
            application_id=str(data["application_id"]),
            creator_id=str(data["creator_id"]),
            resource=str(data["resource"]),
            mailbox_id=str(data["mailbox_id"]),
            scope=str(data["scope"]),
            folder=WellKnownFolder(data["folder"]) if data.get("folder") else None,
            change_types=tuple(data["change_types"]),
            notification_url=str(data["notification_url"]),
            lifecycle_url=data.get("lifecycle_url"),
            client_state=data.get("client_state"),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            immutable_ids=bool(data.get("immutable_ids")),
            created_at=datetime.fromisoformat(data["created_at"]),
            reauthorization_required=bool(data.get("reauthorization_required")),
        )


def graph_timestamp(moment: datetime) -> str:
    """Graph's timestamp with seven fractional digits: ``2026-11-20T18:23:45.9356913Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def parse_graph_timestamp(text: Any, what: str) -> datetime:
    """An ISO 8601 timestamp from a request body (``Z`` or an offset; naive means UTC)."""
    if not isinstance(text, str) or not text.strip():
        raise SubscriptionError(400, "InvalidRequest", f"'{what}' is required.")
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Graph sends and accepts up to seven fractional digits; Python takes six.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise SubscriptionError(400, "InvalidRequest", f"'{what}' is not a valid date and time.") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- Delivery ----------------------------------------------------------------------------------------


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    url: str = field(compare=False)
    values: list[dict[str, Any]] = field(compare=False)
    kind: str = field(compare=False)  # notification | lifecycle
    attempt: int = field(default=0, compare=False)


@dataclass
class DeliveryStats:
    """What the notification service has done so far (for tests, benchmarks and the devstack page)."""

    delivered: int = 0  # notifications (values) acknowledged with 2xx
    posts: int = 0  # HTTP POSTs attempted
    retried: int = 0
    dropped: int = 0  # notifications given up on


class NotificationService:
    """Subscriptions and their delivery, for one ``MailboxStore``.

    ``start()`` attaches to the store and starts the delivery thread; ``stop()`` detaches and stops it.
    """

    def __init__(
        self,
        store: MailboxStore,
        clock: Callable[[], datetime],
        settings: NotificationSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or NotificationSettings()
        self._clock = clock
        self._lock = threading.RLock()
        self._subscriptions: dict[str, Subscription] = {}
        self._session = requests.Session()
        # Never route loopback webhooks through a proxy from the environment, and let ``verify`` win
        # over REQUESTS_CA_BUNDLE (requests lets the environment override a session's verify).
        self._session.trust_env = False
        self._queue: list[_Delivery] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._pending = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._detach: Callable[[], None] | None = None
        self.stats = DeliveryStats()

    # -- lifecycle of the service ------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the store and deliver on background threads."""
        if self._running:
            return
        self._running = True
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.delivery_threads, thread_name_prefix="graph-notifications"
        )
        self._thread = threading.Thread(target=self._run, name="graph-notification-scheduler", daemon=True)
        self._thread.start()
        self._detach = self.store.add_listener(self._on_change)

    def stop(self) -> None:
        """Stop listening and delivering (pending deliveries are dropped)."""
        if self._detach is not None:
            self._detach()
            self._detach = None
        with self._wakeup:
            self._running = False
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._session.close()

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being delivered (True), or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._wakeup:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wakeup.wait(remaining)
        return True

    # -- subscriptions -----------------------------------------------------------------------------

    def create(
        self,
        *,
        tenant_id: str,
        application_id: str,
        creator_id: str,
        mailbox_id: str,
        resource: ResourceRef,
        body: Mapping[str, Any],
        immutable_ids: bool = False,
    ) -> Subscription:
        """Validate a ``POST /subscriptions`` body, run the handshake(s) and store the subscription.

        ``mailbox_id`` is the resolved owner of ``resource``; the caller has checked permissions.
        Raises ``SubscriptionError`` with Graph's status and code when Graph would refuse.
        """
        change_types = _change_types(body.get("changeType"))
        notification_url = _url(body.get("notificationUrl"), "notificationUrl")
        lifecycle_raw = body.get("lifecycleNotificationUrl")
        lifecycle_url = _url(lifecycle_raw, "lifecycleNotificationUrl") if lifecycle_raw else None
        client_state = body.get("clientState")
        if client_state is not None:
            if not isinstance(client_state, str):
                raise SubscriptionError(400, "InvalidRequest", "'clientState' must be a string.")
            if len(client_state) > MAX_CLIENT_STATE:
                raise SubscriptionError(
                    400,
                    "InvalidRequest",
                    f"'clientState' can be at most {MAX_CLIENT_STATE} characters long.",
                )
        expires_at = self._checked_expiry(body.get("expirationDateTime"))
        self._validate_endpoint(notification_url)
        if lifecycle_url:
            self._validate_endpoint(lifecycle_url)
        subscription = Subscription(
            subscription_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            application_id=application_id,
            creator_id=creator_id,
            resource=str(body.get("resource")),
            mailbox_id=mailbox_id,
            scope=resource.scope,
            folder=resource.folder,
            change_types=change_types,
            notification_url=notification_url,
            lifecycle_url=lifecycle_url,
            client_state=client_state,
            expires_at=expires_at,
            immutable_ids=immutable_ids,
            created_at=self._clock(),
        )
        with self._lock:
            self._subscriptions[subscription.subscription_id] = subscription
        return subscription

    def get(self, subscription_id: str, *, application_id: str | None = None) -> Subscription:
        """A live subscription (of ``application_id`` when given). Raises ``SubscriptionError`` 404."""
        with self._lock:
            self._purge_expired()
            found = self._subscriptions.get(subscription_id)
        if found is None or (application_id is not None and found.application_id != application_id):
            raise SubscriptionError(
                404, "ResourceNotFound", f"The object was not found. Subscription Id: {subscription_id}"
            )
        return found

    def subscriptions_of(self, *, tenant_id: str, application_id: str) -> list[Subscription]:
        """The live subscriptions an application created in a tenant."""
        with self._lock:
            self._purge_expired()
            return [
                s
                for s in self._subscriptions.values()
                if s.tenant_id == tenant_id and s.application_id == application_id
            ]

    def all(self) -> list[Subscription]:
        """Every live subscription (for the devstack page and scripts)."""
        with self._lock:
            self._purge_expired()
            return list(self._subscriptions.values())

    def renew(
        self, subscription_id: str, expiration: Any, *, application_id: str | None = None
    ) -> Subscription:
        """``PATCH /subscriptions/{id}`` with a new ``expirationDateTime``."""
        current = self.get(subscription_id, application_id=application_id)
        renewed = replace(current, expires_at=self._checked_expiry(expiration))
        with self._lock:
            self._subscriptions[subscription_id] = renewed
        return renewed

    def reauthorize(self, subscription_id: str, *, application_id: str | None = None) -> None:
        """``POST /subscriptions/{id}/reauthorize``: answers a ``reauthorizationRequired`` event."""
        current = self.get(subscription_id, application_id=application_id)
        with self._lock:
            self._subscriptions[subscription_id] = replace(current, reauthorization_required=False)

    def delete(self, subscription_id: str, *, application_id: str | None = None) -> None:
        """``DELETE /subscriptions/{id}``."""
        self.get(subscription_id, application_id=application_id)
        with self._lock:
            self._subscriptions.pop(subscription_id, None)

    def expire(self, subscription_id: str) -> Subscription:
        """Scripting: let a subscription expire now; it stops notifying and is gone afterwards."""
        current = self.get(subscription_id)
        expired = replace(current, expires_at=self._clock())
        with self._lock:
            self._subscriptions.pop(subscription_id, None)
        return expired

    def fire_lifecycle(self, subscription_id: str, event: str) -> Subscription:
        """Scripting: send a lifecycle event to the subscription's ``lifecycleNotificationUrl``.

        ``subscriptionRemoved`` also removes the subscription; ``reauthorizationRequired`` flags it
        until the app reauthorizes (notifications keep flowing until it expires, as in Graph).
        """
        if event not in LIFECYCLE_EVENTS:
            raise SubscriptionError(400, "InvalidRequest", f"Unknown lifecycle event '{event}'.")
        current = self.get(subscription_id)
        if not current.lifecycle_url:
            raise SubscriptionError(
                400, "InvalidRequest", "The subscription has no lifecycleNotificationUrl to notify."
            )
        with self._lock:
            if event == "subscriptionRemoved":
                self._subscriptions.pop(subscription_id, None)
            elif event == "reauthorizationRequired":
                self._subscriptions[subscription_id] = replace(current, reauthorization_required=True)
        value = {
            "subscriptionId": current.subscription_id,
            "subscriptionExpirationDateTime": graph_timestamp(current.expires_at),
            "tenantId": current.tenant_id,
            "clientState": current.client_state,
            "lifecycleEvent": event,
        }
        self._enqueue(current.lifecycle_url, [value], "lifecycle")
        return current

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The live subscriptions as JSON-ready data."""
        return {"version": 1, "subscriptions": [s.to_dict() for s in self.all()]}

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Restore subscriptions saved with ``to_dict`` (expired ones are skipped)."""
        now = self._clock()
        with self._lock:
            for item in data.get("subscriptions") or ():
                subscription = Subscription.from_dict(item)
                if subscription.expires_at > now:
                    self._subscriptions[subscription.subscription_id] = subscription

    # -- internals ---------------------------------------------------------------------------------

    def _checked_expiry(self, raw: Any) -> datetime:
        expires_at = parse_graph_timestamp(raw, "expirationDateTime")
        now = self._clock()
        if expires_at <= now:
            raise SubscriptionError(
                400, "InvalidRequest", "Subscription expiration must be in the future. 'expirationDateTime'."
            )
        limit = self.settings.max_lifetime
        if expires_at > now + limit:
            minutes = int(limit.total_seconds() // 60)
            raise SubscriptionError(
                400, "InvalidRequest", f"Subscription expiration can only be {minutes} minutes in the future."
            )
        return expires_at

    def _validate_endpoint(self, url: str) -> None:
        """Graph's validation handshake: the endpoint must echo the decoded token as text/plain."""
        token = (
            f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        )
        separator = "&" if urlsplit(url).query else "?"
        target = f"{url}{separator}validationToken={quote(token, safe='')}"
        try:
            response = self._session.post(
                target,
                data=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=self.settings.validation_timeout,
                verify=self.settings.verify,
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise SubscriptionError(
                400, "InvalidRequest", "Subscription validation request timed out."
            ) from error
        except requests.RequestException as error:
            raise SubscriptionError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                "validation request.",
            ) from error
        if response.status_code != 200:
            reason = response.reason or str(response.status_code)
            raise SubscriptionError(
                400,
                "ValidationError",
                f"Subscription validation request failed. HTTP status code is '{reason}'. Notification "
                "endpoint must respond with 200 OK to validation request.",
            )
        content_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "text/plain":
            raise SubscriptionError(
                400,
                "ValidationError",
                "Subscription validation request failed. Must respond with 200 OK to this request with a "
                "'text/plain' Content-Type.",
            )
        if response.text != token:
            raise SubscriptionError(
                400,
                "ValidationError",
                "Subscription validation request failed. Response must exactly match validationToken query "
                "parameter.",
            )

    def _purge_expired(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._subscriptions.items() if s.expires_at <= now]:
            del self._subscriptions[key]

    def _on_change(self, change: Change) -> None:
        """Store listener: queue a notification for every live subscription that covers the change."""
        with self._lock:
            self._purge_expired()
            matching = [s for s in self._subscriptions.values() if s.covers(change)]
        for subscription in matching:
            self._enqueue(
                subscription.notification_url, [self._notification(subscription, change)], "notification"
            )

    def _notification(self, subscription: Subscription, change: Change) -> dict[str, Any]:
        item_id = change.item_key if subscription.immutable_ids else change.item_id
        is_event = change.folder == WellKnownFolder.CALENDAR
        collection = "Events" if is_event else "Messages"
        odata_id = f"Users/{subscription.mailbox_id}/{collection}/{item_id}"
        resource_data: dict[str, Any] = {
            "@odata.type": "#Microsoft.Graph.Event" if is_event else "#Microsoft.Graph.Message",
            "@odata.id": odata_id,
            "id": item_id,
        }
        if change.kind != ChangeKind.DELETED:
            current = (
                self.store.event(change.mailbox, change.item_key)
                if is_event
                else self.store.message(change.mailbox, change.item_key)
            )
            if current is not None:
                resource_data["@odata.etag"] = f'W/"{current.change_key}"'
        return {
            "subscriptionId": subscription.subscription_id,
            "subscriptionExpirationDateTime": graph_timestamp(subscription.expires_at),
            "changeType": str(change.kind),
            "resource": odata_id,
            "resourceData": resource_data,
            "clientState": subscription.client_state,
            "tenantId": subscription.tenant_id,
        }

    def _enqueue(self, url: str, values: list[dict[str, Any]], kind: str) -> None:
        delivery = _Delivery(time.monotonic(), next(self._order), url, values, kind)
        with self._wakeup:
            self._pending += 1
            heapq.heappush(self._queue, delivery)
            self._wakeup.notify_all()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while self._running and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = (self._queue[0].due - time.monotonic()) if self._queue else None
                    self._wakeup.wait(wait)
                if not self._running:
                    return
                due: list[_Delivery] = []
                now = time.monotonic()
                while self._queue and self._queue[0].due <= now:
                    due.append(heapq.heappop(self._queue))
                batches = self._merge(due)
            for batch in batches:
                executor = self._executor
                if executor is None:
                    return
                executor.submit(self._attempt, batch)

    def _merge(self, due: Sequence[_Delivery]) -> list[_Delivery]:
        """Join first attempts for the same URL into one POST, as Graph batches notifications."""
        merged: dict[tuple[str, str], _Delivery] = {}
        batches: list[_Delivery] = []
        for delivery in due:
            key = (delivery.url, delivery.kind)
            if delivery.attempt == 0 and key in merged:
                merged[key].values.extend(delivery.values)
                self._pending -= 1  # two queued deliveries became one
                continue
            if delivery.attempt == 0:
                merged[key] = delivery
            batches.append(delivery)
        return batches

    def _attempt(self, delivery: _Delivery) -> None:
        ok = False
        with self._wakeup:
            self.stats.posts += 1
        try:
            response = self._session.post(
                delivery.url,
                json={"value": delivery.values},
                timeout=self.settings.delivery_timeout,
                verify=self.settings.verify,
                allow_redirects=False,
            )
            ok = 200 <= response.status_code < 300
            if not ok:
                logger.info("notification endpoint %s answered %s", _safe(delivery.url), response.status_code)
        except requests.RequestException as error:
            logger.info("notification to %s failed: %s", _safe(delivery.url), type(error).__name__)
        with self._wakeup:
            if ok:
                self.stats.delivered += len(delivery.values)
            elif delivery.attempt + 1 < self.settings.delivery_attempts:
                self.stats.retried += 1
                delay = self.settings.retry_backoff * (2**delivery.attempt)
                retry = replace(delivery, due=time.monotonic() + delay, attempt=delivery.attempt + 1)
                heapq.heappush(self._queue, retry)
                self._wakeup.notify_all()
                return  # still pending
            else:
                self.stats.dropped += len(delivery.values)
                logger.warning(
                    "dropped %d notification(s) for %s after %d attempts",
                    len(delivery.values),
                    _safe(delivery.url),
                    self.settings.delivery_attempts,
                )
            self._pending -= 1
            self._wakeup.notify_all()


def _change_types(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.strip():
        raise SubscriptionError(400, "InvalidRequest", "'changeType' is required.")
    values = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [v for v in values if v not in CHANGE_TYPES]
    if unknown or not values:
        raise SubscriptionError(
            400,
            "InvalidRequest",
            f"'{raw}' is not a valid changeType: use created, updated and/or deleted, comma-separated.",
        )
    return values


def _url(raw: Any, what: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SubscriptionError(400, "InvalidRequest", f"'{what}' is required.")
    url = raw.strip()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host in ("localhost", "127.0.0.1", "::1"):
        return url
    raise SubscriptionError(
        400, "InvalidRequest", f"'{what}' must be an https URL (plain http is accepted on localhost only)."
    )


def _safe(url: str) -> str:
    """A URL without its query string, for logs (tokens travel in queries)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
