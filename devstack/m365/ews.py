"""The simulated Exchange Web Services endpoint: SOAP 1.1 at ``/EWS/Exchange.asmx`` on the M365 server.

EWS is how Matterline reads on-premises Exchange (DESIGN.md, "The simulators speak the real protocols").
This endpoint serves the operations a capture client needs, over the same ``MailboxStore`` the Graph
routes read, so one scripted mailbox looks the same through either protocol:

* ``GetFolder`` for distinguished folders (``root``, ``msgfolderroot``, ``inbox``, ``sentitems``,
  ``drafts``, ``deleteditems``, ``calendar``) and for the folder ids it hands out;
* ``SyncFolderItems`` on any of those folders: ``Create``/``Update``/``Delete``/``ReadFlagChange``,
  ``SyncState``, ``MaxChangesReturned`` (1-512), ``IncludesLastItemInRange``, ``Ignore``;
* ``GetItem`` for messages, calendar items, occurrences (``ItemId`` of an occurrence,
  ``OccurrenceItemId``) and series masters (``RecurringMasterItemId``);
* ``FindItem`` with a ``CalendarView`` (series expanded into occurrences and exceptions) or an
  ``IndexedPageItemView``;
* ``ConvertId`` (what exchangelib sends to guess the server version) and ``ResolveNames``.

Protocol facts honoured, so that a client that works here works against Exchange:

* Requests are SOAP 1.1 (``text/xml``) with a bearer token from Entra ID. The token's ``aud`` is
  ``https://outlook.office365.com`` (or Exchange's app id); an app-only token needs the
  ``full_access_as_app`` role and an ``ExchangeImpersonation`` header naming the mailbox, a delegated
  token needs ``EWS.AccessAsUser.All`` and reaches its own mailbox. A missing or bad token is a 401 with
  ``WWW-Authenticate: Bearer ...`` and ``x-ms-diagnostics``, as Exchange Online answers.
* Every response carries ``ServerVersionInfo`` (Exchange 2016, build 15.1.2507). Date-times are UTC.
* Item properties honour the ``ItemShape``: ``IdOnly``/``Default``/``AllProperties`` plus
  ``AdditionalProperties``, written in schema order. ``FindItem`` refuses streamed and multi-valued
  properties (bodies, recipients, attendees, headers) with ``ErrorInvalidPropertyRequest``, returns
  only the display name of a mailbox property and cuts strings at 255 characters: clients fetch the
  rest with ``GetItem``, as they must against Exchange. ``SyncFolderItems`` leaves bodies out.
* Failures are ``ResponseClass="Error"`` messages (``ErrorItemNotFound``, ``ErrorInvalidSyncStateData``,
  ``ErrorInvalidPropertyRequest``...) or SOAP faults for whole-request failures (``ErrorServerBusy``
  with ``BackOffMilliseconds``, ``ErrorSchemaValidation``, ``ErrorInvalidServerVersion``,
  ``ErrorNonExistentMailbox``, ``ErrorInvalidExchangeImpersonationHeaderData``...).
* A ``SyncState`` is opaque base64 (compressed, checksummed). One that is garbage, belongs to another
  folder or mailbox, predates the store's log (``oldest_sequence``) or its ``sync_epoch`` is refused
  with ``ErrorInvalidSyncStateData``: the client starts over.

Throttling is scripted (``EwsEndpoint.throttle.busy_next``, or ``POST /_sim/ews/throttle``) and can be a
sustained budget per caller and mailbox (``EwsThrottle(max_requests=..., per_seconds=...)``).

What is not simulated: autodiscover, writes (``CreateItem``, ``UpdateItem``...), restrictions, sort orders
and query strings in ``FindItem``, extended properties (requested ones are left out), notifications,
``GetServerTimeZones``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from devstack.m365.identity import (
    EXCHANGE_APP_ID,
    EXCHANGE_RESOURCE,
    IdentityProvider,
    TokenExpiredError,
    TokenValidationError,
)
from devstack.m365.mailbox import (
    MAIL_FOLDERS,
    CalendarEvent,
    Change,
    ChangeKind,
    EventInstance,
    Mailbox,
    MailboxStore,
    Message,
    Recipient,
    SyncStateTooOldError,
    WellKnownFolder,
    expand_event,
    folder_display_name,
    parse_occurrence_id,
    series_starts,
    windows_zone_name,
)
from devstack.m365.server import M365Server, Request, Response

logger = logging.getLogger(__name__)

EWS_PATH = "/EWS/Exchange.asmx"

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TYPES_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"

for _prefix, _uri in (("s", SOAP_NS), ("m", MESSAGES_NS), ("t", TYPES_NS)):
    ET.register_namespace(_prefix, _uri)

# Exchange Server 2016 CU23, as its ServerVersionInfo header reports itself.
SERVER_BUILD = (15, 1, 2507, 6)
SERVER_VERSION_NAME = "V2017_07_11"
# RequestServerVersion values Exchange 2016 accepts.
SUPPORTED_REQUEST_VERSIONS = frozenset(
    {
        "Exchange2007",
        "Exchange2007_SP1",
        "Exchange2010",
        "Exchange2010_SP1",
        "Exchange2010_SP2",
        "Exchange2013",
        "Exchange2013_SP1",
        "Exchange2015",
        "Exchange2015_SP1",
        "Exchange2016",
        "V2015_10_05",
        "V2016_01_06",
        "V2016_04_13",
        "V2016_07_13",
        "V2016_10_10",
        "V2017_01_07",
        "V2017_04_14",
        "V2017_07_11",
    }
)

APP_ROLE = "full_access_as_app"
DELEGATED_SCOPE = "EWS.AccessAsUser.All"
EWS_AUDIENCES = (EXCHANGE_RESOURCE, EXCHANGE_RESOURCE + "/", EXCHANGE_APP_ID)

MAX_CHANGES_RETURNED = 512  # the schema's limit for SyncFolderItems
FIND_ITEM_LIMIT = 1000  # Exchange's EWSFindCountLimit: at most this many items per FindItem
FIND_STRING_LIMIT = 255  # FindItem cuts string properties to this many characters
DEFAULT_BACK_OFF_MS = 5000

_STATE_TAG = b"matterline-ews-sim-syncstate-v1"


def _m(local: str) -> str:
    return f"{{{MESSAGES_NS}}}{local}"


def _t(local: str) -> str:
    return f"{{{TYPES_NS}}}{local}"


def _s(local: str) -> str:
    return f"{{{SOAP_NS}}}{local}"


# --- Errors --------------------------------------------------------------------------------------------


class EwsFault(Exception):
    """A failure of the whole request: a SOAP fault (HTTP 500), as Exchange sends for these codes."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        back_off_ms: int | None = None,
        with_version_header: bool = True,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.back_off_ms = back_off_ms
        self.with_version_header = with_version_header


class EwsError(Exception):
    """A failure of one response message (``ResponseClass="Error"``); the rest of the request goes on."""

    def __init__(self, code: str, message: str, *, field_uri: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field_uri = field_uri


def _schema_error(violation: str) -> EwsFault:
    return EwsFault("ErrorSchemaValidation", f"The request failed schema validation: {violation}")


_ITEM_NOT_FOUND = (
    "The specified object was not found in the store., The process failed to get the correct properties."
)
_SYNC_STATE_INVALID = "Synchronization state data is corrupt or otherwise invalid."


# --- Callers, throttling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EwsCaller:
    """Who called, from the bearer token: an application (app-only token) or a signed-in user."""

    tenant_id: str
    client_id: str
    is_app: bool
    user_oid: str | None = None
    user_name: str | None = None


class EwsThrottle:
    """When the simulated server answers ``ErrorServerBusy``.

    ``busy_next(requests, back_off_ms)`` scripts the next requests to be refused; a sustained budget
    (``max_requests`` per ``per_seconds`` for each caller and mailbox, like an EWS throttling policy's
    budget) refuses requests over it, with the time left until a slot frees up as the back-off.
    """

    def __init__(
        self,
        *,
        max_requests: int | None = None,
        per_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_requests is not None and max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._scripted: list[int] = []
        self._recent: dict[tuple[str, str], list[float]] = {}

    def busy_next(self, requests: int = 1, back_off_ms: int = DEFAULT_BACK_OFF_MS) -> None:
        """Refuse the next ``requests`` requests (of any caller) with ``ErrorServerBusy``."""
        if requests < 1 or back_off_ms < 0:
            raise ValueError("requests must be positive and back_off_ms not negative")
        with self._lock:
            self._scripted.extend([back_off_ms] * requests)

    def reset(self) -> None:
        """Forget scripted refusals and the budget's history."""
        with self._lock:
            self._scripted.clear()
            self._recent.clear()

    def check(self, caller: EwsCaller, mailbox: Mailbox) -> int | None:
        """The back-off (milliseconds) to refuse this request with, or None to serve it."""
        with self._lock:
            if self._scripted:
                return self._scripted.pop(0)
            if self.max_requests is None:
                return None
            now = self._clock()
            key = (caller.client_id, mailbox.user_id)
            recent = [t for t in self._recent.get(key, ()) if now - t < self.per_seconds]
            if len(recent) >= self.max_requests:
                self._recent[key] = recent
                return max(1, int((self.per_seconds - (now - recent[0])) * 1000))
            recent.append(now)
            self._recent[key] = recent
            return None


# --- Read-flag tracking ----------------------------------------------------------------------------------


class ReadFlagTracker:
    """Remembers which logged message updates changed nothing but the read flag.

    The store logs every change as ``updated``; EWS reports a change of ``IsRead`` alone as a
    ``ReadFlagChange``. This listener compares each updated message with the version it saw before.
    When it cannot be sure (the message changed again before the listener ran, or it never saw the
    earlier version), the change stays a full ``Update``, which is always correct.
    """

    def __init__(self, store: MailboxStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], Message] = {}
        self._read_only: dict[tuple[str, str], set[int]] = {}
        for mailbox in store.mailboxes():
            for message in store.messages(mailbox.user_id):
                self._latest[(mailbox.user_id, message.item_key)] = message
        self._remove_listener = store.add_listener(self._on_change)

    def close(self) -> None:
        """Stop listening to the store."""
        self._remove_listener()

    def is_read_flag_only(self, mailbox_user_id: str, folder: WellKnownFolder, sequence: int) -> bool:
        """Whether the logged change ``sequence`` of the folder changed only the read flag."""
        with self._lock:
            return sequence in self._read_only.get((mailbox_user_id, str(folder)), ())

    def _on_change(self, change: Change) -> None:
        if change.folder not in MAIL_FOLDERS:
            return
        key = (change.mailbox, change.item_key)
        current = self._store.message(change.mailbox, change.item_key)
        with self._lock:
            if change.kind == ChangeKind.DELETED:
                if change.reason == "deleted":
                    self._latest.pop(key, None)
                return
            if current is None or current.sequence != change.sequence or current.folder != change.folder:
                # Changed again (or gone) before we got here: we cannot tell what this change was.
                self._latest.pop(key, None)
                return
            previous = self._latest.get(key)
            self._latest[key] = current
            if (
                change.kind == ChangeKind.UPDATED
                and previous is not None
                and _only_read_flag_differs(previous, current)
            ):
                flags = self._read_only.setdefault((change.mailbox, str(change.folder)), set())
                flags.add(change.sequence)
                self._prune(change, flags)

    def _prune(self, change: Change, flags: set[int]) -> None:
        if len(flags) > 4096:
            oldest = self._store.oldest_sequence(change.mailbox, change.folder)
            for sequence in [s for s in flags if s <= oldest]:
                flags.discard(sequence)


def _only_read_flag_differs(before: Message, after: Message) -> bool:
    if before.is_read == after.is_read:
        return False
    ignored = {"is_read", "change_key", "modified_at", "sequence"}
    return all(
        getattr(before, name) == getattr(after, name)
        for name in before.__dataclass_fields__
        if name not in ignored
    )


# --- The endpoint ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What one request acts on."""

    caller: EwsCaller
    mailbox: Mailbox


Operation = Callable[[ET.Element, _Context], ET.Element]


class EwsEndpoint:
    """The EWS endpoint over a ``MailboxStore``, authenticating with an ``IdentityProvider``."""

    def __init__(
        self,
        identity: IdentityProvider,
        store: MailboxStore,
        *,
        throttle: EwsThrottle | None = None,
    ) -> None:
        self.identity = identity
        self.store = store
        self.throttle = throttle or EwsThrottle()
        self.read_flags = ReadFlagTracker(store)
        self._operations: dict[str, Operation] = {
            "GetFolder": self._get_folder,
            "SyncFolderItems": self._sync_folder_items,
            "GetItem": self._get_item,
            "FindItem": self._find_item,
            "ConvertId": self._convert_id,
            "ResolveNames": self._resolve_names,
        }

    # -- HTTP ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve one ``POST /EWS/Exchange.asmx``."""
        caller_or_response = self._authenticate(request)
        if isinstance(caller_or_response, Response):
            return caller_or_response
        caller = caller_or_response
        content_type = (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "text/xml":
            return Response.text(
                f"Cannot process the message because the content type '{content_type}' was not the expected "
                "type 'text/xml; charset=utf-8'.",
                status=415,
            )
        try:
            header, operation = _parse_envelope(request.body)
            _check_requested_version(header)
            mailbox = self._target_mailbox(caller, header, request)
            back_off = self.throttle.check(caller, mailbox)
            if back_off is not None:
                raise EwsFault(
                    "ErrorServerBusy",
                    "The server cannot service this request right now. Try again later.",
                    back_off_ms=back_off,
                )
            name = operation.tag.rsplit("}", 1)[-1]
            handler = self._operations.get(name) if operation.tag.startswith(f"{{{MESSAGES_NS}}}") else None
            if handler is None:
                raise _schema_error(
                    f"The element 'Body' in namespace '{SOAP_NS}' has invalid child element '{name}'."
                )
            body = handler(operation, _Context(caller, mailbox))
        except EwsFault as fault:
            return _fault_response(fault)
        return _soap_response(body)

    def handle_throttle(self, request: Request) -> Response:
        """``POST /_sim/ews/throttle`` ``{"requests": n, "back_off_ms": ms}``: refuse the next requests."""
        try:
            data = request.json()
            requests = int(data.get("requests", 1))
            back_off_ms = int(data.get("back_off_ms", DEFAULT_BACK_OFF_MS))
            self.throttle.busy_next(requests, back_off_ms)
        except (ValueError, TypeError, AttributeError) as error:
            return Response.json({"error": {"code": "BadRequest", "message": str(error)}}, status=400)
        return Response.json({"requests": requests, "back_off_ms": back_off_ms}, status=202)

    def _authenticate(self, request: Request) -> EwsCaller | Response:
        authorization = request.header("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthorized(
                "2000000", "The request does not carry a bearer token.", "invalid_token"
            )
        try:
            claims = self.identity.validate_token(token.strip(), audience=list(EWS_AUDIENCES))
        except TokenExpiredError:
            return self._unauthorized("2000001", "The token has expired.", "invalid_token")
        except TokenValidationError as error:
            return self._unauthorized("2000003", f"The token is not valid: {error}.", "invalid_resource")
        roles = claims.get("roles") or []
        scopes = str(claims.get("scp") or "").split()
        tenant_id = str(claims["tid"])
        client_id = str(claims.get("azp") or claims.get("appid") or "")
        if claims.get("idtyp") == "app" or "scp" not in claims:
            if APP_ROLE not in roles:
                return self._no_permissions()
            return EwsCaller(tenant_id=tenant_id, client_id=client_id, is_app=True)
        if DELEGATED_SCOPE not in scopes:
            return self._no_permissions()
        return EwsCaller(
            tenant_id=tenant_id,
            client_id=client_id,
            is_app=False,
            user_oid=str(claims.get("oid") or ""),
            user_name=str(claims.get("preferred_username") or ""),
        )

    def _no_permissions(self) -> Response:
        return self._unauthorized(
            "2000008",
            "The token contains no permissions, or permissions can not be understood.",
            "invalid_grant",
        )

    def _unauthorized(self, code: str, reason: str, category: str) -> Response:
        challenge = (
            f'Bearer client_id="{EXCHANGE_APP_ID}", '
            'token_types="app_asserted_user_v1 service_asserted_app_v1", '
            f'authorization_uri="{self.identity.base_url}/common/oauth2/authorize", error="invalid_token"'
        )
        reason_text = reason.replace('"', "'")
        return Response(
            401,
            b"",
            [
                ("WWW-Authenticate", challenge),
                ("x-ms-diagnostics", f'{code};reason="{reason_text}";error_category="{category}"'),
            ],
        )

    def _target_mailbox(self, caller: EwsCaller, header: ET.Element | None, request: Request) -> Mailbox:
        impersonated = _impersonated_address(header)
        if caller.is_app:
            if impersonated is None:
                raise EwsFault(
                    "ErrorInvalidExchangeImpersonationHeaderData",
                    "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
                )
            mailbox = self.store.mailbox(impersonated)
            if mailbox is None or mailbox.tenant_id != caller.tenant_id:
                raise EwsFault(
                    "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
                )
        else:
            mailbox = self.store.mailbox(caller.user_oid or "") or self.store.mailbox(caller.user_name or "")
            if mailbox is None or mailbox.tenant_id != caller.tenant_id:
                raise EwsFault(
                    "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
                )
            if impersonated is not None and self.store.mailbox(impersonated) != mailbox:
                raise EwsFault(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
        anchor = request.header("X-AnchorMailbox")
        if anchor and self.store.mailbox(anchor.strip()) is None:
            # X-AnchorMailbox only routes the request, but it must name a mailbox that exists.
            raise EwsFault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        return mailbox

    # -- GetFolder -----------------------------------------------------------------------------------

    def _get_folder(self, operation: ET.Element, context: _Context) -> ET.Element:
        shape = _parse_shape(operation.find(_m("FolderShape")))
        ids = operation.find(_m("FolderIds"))
        if ids is None or len(ids) == 0:
            raise _schema_error("The element 'GetFolder' has incomplete content: 'FolderIds' expected.")
        response, messages = _response("GetFolder")
        for folder_id in ids:
            message = _response_message(messages, "GetFolder")
            try:
                name = self._resolve_folder(folder_id, context)
            except EwsError as error:
                _fail(message, error, container="Folders")
                continue
            _succeed(message)
            self._write_folder(ET.SubElement(message, _m("Folders")), name, context, shape)
        return response

    def _resolve_folder(self, element: ET.Element, context: _Context) -> str:
        """The well-known name of the folder a ``FolderId``/``DistinguishedFolderId`` names."""
        if element.tag == _t("DistinguishedFolderId"):
            name = (element.get("Id") or "").lower()
            address = element.findtext(f"{_t('Mailbox')}/{_t('EmailAddress')}")
            if address and self.store.mailbox(address.strip()) != context.mailbox:
                if self.store.mailbox(address.strip()) is None:
                    raise EwsError(
                        "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
                    )
                raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            if name not in _FOLDER_NAMES:
                raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
            return name
        if element.tag == _t("FolderId"):
            decoded = _decode_folder_id(element.get("Id") or "")
            if decoded is None:
                raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
            owner, name = decoded
            if owner != context.mailbox.user_id:
                raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return name
        raise _schema_error(f"Unexpected folder id element '{element.tag}'.")

    def _write_folder(self, parent: ET.Element, name: str, context: _Context, shape: _Shape) -> None:
        is_calendar = name == WellKnownFolder.CALENDAR
        element = ET.SubElement(parent, _t("CalendarFolder" if is_calendar else "Folder"))
        mailbox = context.mailbox
        ET.SubElement(element, _t("FolderId"), Id=_folder_id(mailbox, name), ChangeKey=_FOLDER_CHANGE_KEY)
        wants = shape.folder_wants
        if wants("folder:ParentFolderId") and name != "root":
            parent_name = "root" if name == "msgfolderroot" else "msgfolderroot"
            ET.SubElement(
                element,
                _t("ParentFolderId"),
                Id=_folder_id(mailbox, parent_name),
                ChangeKey=_FOLDER_CHANGE_KEY,
            )
        if wants("folder:FolderClass") and name != "root":
            _text(element, "FolderClass", "IPF.Appointment" if is_calendar else "IPF.Note")
        if wants("folder:DisplayName"):
            _text(element, "DisplayName", _folder_display(name))
        total, unread = self._counts(mailbox, name)
        if wants("folder:TotalCount"):
            _text(element, "TotalCount", str(total))
        if wants("folder:ChildFolderCount"):
            children = {"root": 1, "msgfolderroot": len(_ITEM_FOLDERS)}.get(name, 0)
            _text(element, "ChildFolderCount", str(children))
        if wants("folder:EffectiveRights"):
            rights = ET.SubElement(element, _t("EffectiveRights"))
            for right in (
                "CreateAssociated",
                "CreateContents",
                "CreateHierarchy",
                "Delete",
                "Modify",
                "Read",
            ):
                _text(rights, right, "true")
            _text(rights, "ViewPrivateItems", "true")
        if wants("folder:DistinguishedFolderId"):
            _text(element, "DistinguishedFolderId", name)
        if wants("folder:UnreadCount") and not is_calendar:
            _text(element, "UnreadCount", str(unread))

    def _counts(self, mailbox: Mailbox, name: str) -> tuple[int, int]:
        if name == WellKnownFolder.CALENDAR:
            return len(self.store.events(mailbox.user_id)), 0
        if name in _MAIL_FOLDER_NAMES:
            messages = self.store.messages(mailbox.user_id, name)
            return len(messages), sum(1 for m in messages if not m.is_read)
        return 0, 0

    # -- SyncFolderItems -----------------------------------------------------------------------------

    def _sync_folder_items(self, operation: ET.Element, context: _Context) -> ET.Element:
        shape = _parse_shape(operation.find(_m("ItemShape")))
        folder_holder = operation.find(_m("SyncFolderId"))
        if folder_holder is None or len(folder_holder) != 1:
            raise _schema_error(
                "The element 'SyncFolderItems' has incomplete content: 'SyncFolderId' expected."
            )
        max_text = operation.findtext(_m("MaxChangesReturned"))
        try:
            max_changes = int(max_text or "")
        except ValueError as error:
            raise _schema_error("The 'MaxChangesReturned' element is invalid or missing.") from error
        if not 1 <= max_changes <= MAX_CHANGES_RETURNED:
            raise _schema_error(
                f"The 'MaxChangesReturned' element has an invalid value '{max_changes}'; "
                f"it must be between 1 and {MAX_CHANGES_RETURNED}."
            )
        scope = operation.findtext(_m("SyncScope")) or "NormalItems"
        if scope not in ("NormalItems", "NormalAndAssociatedItems"):
            raise _schema_error(f"The 'SyncScope' element has an invalid value '{scope}'.")
        ignored = {element.get("Id") or "" for element in operation.findall(f"{_m('Ignore')}/{_t('ItemId')}")}
        response, messages = _response("SyncFolderItems")
        message = _response_message(messages, "SyncFolderItems")
        try:
            name = self._resolve_folder(folder_holder[0], context)
            state_text = (operation.findtext(_m("SyncState")) or "").strip()
            result = self._sync(context.mailbox, name, state_text or None, max_changes, ignored)
        except EwsError as error:
            _fail(message, error)
            # Exchange sends these two even on failure (clients read them unconditionally).
            ET.SubElement(message, _m("SyncState"))
            _mtext(message, "IncludesLastItemInRange", "true")
            return response
        _succeed(message)
        _mtext(message, "SyncState", result.state)
        _mtext(message, "IncludesLastItemInRange", _bool(result.includes_last))
        changes = ET.SubElement(message, _m("Changes"))
        render = _Render(context.mailbox, shape, streamed=False)
        for change in result.changes:
            if change.kind in ("Create", "Update"):
                wrapper = ET.SubElement(changes, _t(change.kind))
                if isinstance(change.item, Message):
                    _write_message(wrapper, change.item, render)
                elif isinstance(change.item, CalendarEvent):
                    _write_calendar_item(wrapper, _entry_for_event(change.item), render)
            elif change.kind == "Delete":
                wrapper = ET.SubElement(changes, _t("Delete"))
                ET.SubElement(wrapper, _t("ItemId"), Id=change.item_id)
            else:
                assert isinstance(change.item, Message)
                wrapper = ET.SubElement(changes, _t("ReadFlagChange"))
                ET.SubElement(wrapper, _t("ItemId"), Id=change.item.item_id, ChangeKey=change.item.change_key)
                _text(wrapper, "IsRead", _bool(change.item.is_read))
        return response

    def _sync(
        self, mailbox: Mailbox, name: str, state_text: str | None, max_changes: int, ignored: set[str]
    ) -> _SyncResult:
        if name not in _ITEM_FOLDERS:
            # The root folders hold no items: nothing ever changes in them.
            state = _SyncState(mailbox.user_id, name, self.store.sync_epoch(mailbox.user_id), 0)
            return _SyncResult([], state.encode(), True)
        folder = WellKnownFolder(name)
        epoch = self.store.sync_epoch(mailbox.user_id)
        if state_text is None:
            state = _SyncState(
                mailbox.user_id, name, epoch, self.store.latest_sequence(mailbox.user_id, folder), (0, "")
            )
        else:
            decoded = _SyncState.decode(state_text)
            if (
                decoded is None
                or decoded.mailbox != mailbox.user_id
                or decoded.folder != name
                or decoded.epoch != epoch
            ):
                raise EwsError("ErrorInvalidSyncStateData", _SYNC_STATE_INVALID)
            state = decoded
        if state.position < self.store.oldest_sequence(mailbox.user_id, folder):
            raise EwsError("ErrorInvalidSyncStateData", _SYNC_STATE_INVALID)
        if state.cursor is not None:
            return self._enumerate(mailbox, folder, state, max_changes, ignored)
        return self._replay(mailbox, folder, state, max_changes, ignored)

    def _folder_items(self, mailbox: Mailbox, folder: WellKnownFolder) -> list[Message | CalendarEvent]:
        if folder == WellKnownFolder.CALENDAR:
            return list(self.store.events(mailbox.user_id))
        return list(self.store.messages(mailbox.user_id, folder))

    def _enumerate(
        self,
        mailbox: Mailbox,
        folder: WellKnownFolder,
        state: _SyncState,
        max_changes: int,
        ignored: set[str],
    ) -> _SyncResult:
        """The first round: every item in the folder as a ``Create``, oldest change first.

        The cursor is the (sequence, immutable id) of the last item sent. An item only ever gets a
        higher sequence, so nothing is skipped if the folder changes meanwhile; changes made after the
        round began are replayed from the log afterwards (so an item may come twice, which clients
        must tolerate anyway).
        """
        assert state.cursor is not None
        pending = [
            item
            for item in self._folder_items(mailbox, folder)
            if (item.sequence, item.item_key) > state.cursor
        ]
        page = pending[:max_changes]
        changes = [_ItemChange("Create", item.item_id, item) for item in page if item.item_id not in ignored]
        if len(pending) > max_changes:
            last = page[-1]
            next_state = _SyncState(
                state.mailbox, state.folder, state.epoch, state.position, (last.sequence, last.item_key)
            )
            return _SyncResult(changes, next_state.encode(), False)
        done = _SyncState(state.mailbox, state.folder, state.epoch, state.position)
        caught_up = self.store.latest_sequence(mailbox.user_id, folder) == state.position
        return _SyncResult(changes, done.encode(), caught_up)

    def _replay(
        self,
        mailbox: Mailbox,
        folder: WellKnownFolder,
        state: _SyncState,
        max_changes: int,
        ignored: set[str],
    ) -> _SyncResult:
        """Later rounds: the log after the state's position, one net change per item."""
        try:
            entries = self.store.changes(mailbox.user_id, folder, state.position)
        except SyncStateTooOldError as error:
            raise EwsError("ErrorInvalidSyncStateData", _SYNC_STATE_INVALID) from error
        groups: dict[str, list[Change]] = {}
        position = state.position
        consumed = 0
        for entry in entries:
            if entry.item_key not in groups and len(groups) >= max_changes:
                break
            groups.setdefault(entry.item_key, []).append(entry)
            position = entry.sequence
            consumed += 1
        changes: list[_ItemChange] = []
        for item_key, group in groups.items():
            for change in self._net_change(mailbox, folder, item_key, group):
                if change.item_id not in ignored:
                    changes.append(change)
        next_state = _SyncState(state.mailbox, state.folder, state.epoch, position)
        return _SyncResult(changes, next_state.encode(), consumed == len(entries))

    def _net_change(
        self, mailbox: Mailbox, folder: WellKnownFolder, item_key: str, group: list[Change]
    ) -> list[_ItemChange]:
        """What a client that saw the state before ``group`` must be told about one item."""
        current: Message | CalendarEvent | None
        if folder == WellKnownFolder.CALENDAR:
            current = self.store.event(mailbox.user_id, item_key)
        else:
            found = self.store.message(mailbox.user_id, item_key)
            current = found if found is not None and found.folder == folder else None
        known_before = group[0].kind != ChangeKind.CREATED or group[0].replayed
        removals = [entry for entry in group if entry.kind == ChangeKind.DELETED]
        created = any(entry.kind == ChangeKind.CREATED for entry in group)
        if current is None:
            if not removals:
                return []  # removed after the entries we consumed: the Delete comes next time
            if not known_before:
                return []  # created and removed in between: the client never needs to hear of it
            return [_ItemChange("Delete", removals[0].item_id)]
        result: list[_ItemChange] = []
        if known_before and removals and removals[0].item_id != current.item_id:
            # Left and came back (a move out and in): the id the client knows is gone.
            result.append(_ItemChange("Delete", removals[0].item_id))
            created = True
        if created:
            result.append(_ItemChange("Create", current.item_id, current))
        elif isinstance(current, Message) and all(
            self.read_flags.is_read_flag_only(mailbox.user_id, folder, entry.sequence) for entry in group
        ):
            result.append(_ItemChange("ReadFlagChange", current.item_id, current))
        else:
            result.append(_ItemChange("Update", current.item_id, current))
        return result

    # -- GetItem -------------------------------------------------------------------------------------

    def _get_item(self, operation: ET.Element, context: _Context) -> ET.Element:
        shape = _parse_shape(operation.find(_m("ItemShape")))
        ids = operation.find(_m("ItemIds"))
        if ids is None or len(ids) == 0:
            raise _schema_error("The element 'GetItem' has incomplete content: 'ItemIds' expected.")
        response, messages = _response("GetItem")
        render = _Render(context.mailbox, shape, streamed=True)
        for item_id in ids:
            message = _response_message(messages, "GetItem")
            try:
                found = self._lookup_item(item_id, context)
            except EwsError as error:
                _fail(message, error, container="Items")
                continue
            _succeed(message)
            items = ET.SubElement(message, _m("Items"))
            if isinstance(found, Message):
                _write_message(items, found, render)
            else:
                _write_calendar_item(items, found, render)
        return response

    def _lookup_item(self, element: ET.Element, context: _Context) -> Message | _CalendarEntry:
        user_id = context.mailbox.user_id
        if element.tag == _t("ItemId"):
            item_id = element.get("Id") or ""
            if not item_id:
                raise EwsError("ErrorInvalidIdEmpty", "Id is empty.")
            message = self.store.message(user_id, item_id)
            if message is not None:
                return message
            event = self.store.event(user_id, item_id)
            if event is not None:
                return _entry_for_event(event)
            occurrence = parse_occurrence_id(item_id)
            if occurrence is not None:
                master = self.store.event(user_id, occurrence[0])
                if master is not None:
                    return self._occurrence(master, occurrence[1])
            if _looks_malformed(item_id):
                raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
            raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
        if element.tag == _t("OccurrenceItemId"):
            master = self.store.event(user_id, element.get("RecurringMasterId") or "")
            if master is None or master.recurrence is None:
                raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
            try:
                index = int(element.get("InstanceIndex") or "")
            except ValueError as error:
                raise _schema_error("The 'InstanceIndex' attribute is invalid.") from error
            return self._occurrence(master, self._nth_start(master, index))
        if element.tag == _t("RecurringMasterItemId"):
            occurrence = parse_occurrence_id(element.get("OccurrenceId") or "")
            if occurrence is None:
                raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
            master = self.store.event(user_id, occurrence[0])
            if master is None:
                raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
            return _entry_for_event(master)
        raise _schema_error(f"Unexpected item id element '{element.tag}'.")

    @staticmethod
    def _nth_start(master: CalendarEvent, index: int) -> datetime:
        if index < 1:
            raise EwsError("ErrorInvalidOperation", "The instance index must be 1 or more.")
        assert master.recurrence is not None
        days_per_occurrence = master.recurrence.interval * (7 if master.recurrence.pattern == "weekly" else 1)
        horizon = master.start + timedelta(days=days_per_occurrence * index + 8)
        starts = series_starts(master, master.start - timedelta(seconds=1), horizon)
        if len(starts) < index:
            raise EwsError(
                "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "The occurrence index is out of range."
            )
        return starts[index - 1]

    @staticmethod
    def _occurrence(master: CalendarEvent, original_start: datetime) -> _CalendarEntry:
        if not series_starts(
            master, original_start - timedelta(seconds=1), original_start + timedelta(seconds=1)
        ):
            raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
        override = next(
            (o for key, o in master.exceptions.items() if _same_instant(key, original_start)),
            None,
        )
        if override is not None and override.cancelled:
            raise EwsError(
                "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                "Occurrence with this index was previously deleted.",
            )
        duration = master.end - master.start
        start = override.start if override is not None and override.start else original_start
        end = override.end if override is not None and override.end else start + duration
        # Expanding a window around the instance reuses the store's rules for exceptions.
        window_start = min(start, original_start) - timedelta(seconds=1)
        window_end = max(end, original_start + duration) + timedelta(seconds=1)
        instance = next(
            (i for i in expand_event(master, window_start, window_end) if i.original_start == original_start),
            None,
        )
        if instance is None:
            raise EwsError("ErrorItemNotFound", _ITEM_NOT_FOUND)
        return _entry_for_instance(instance)

    # -- FindItem ------------------------------------------------------------------------------------

    def _find_item(self, operation: ET.Element, context: _Context) -> ET.Element:
        shape = _parse_shape(operation.find(_m("ItemShape")))
        for unsupported in ("Restriction", "SortOrder", "QueryString", "GroupBy", "DistinguishedGroupBy"):
            if operation.find(_m(unsupported)) is not None:
                raise EwsFault(
                    "ErrorUnsupportedQueryFilter",
                    f"The simulated server does not support '{unsupported}' in FindItem.",
                )
        if (operation.get("Traversal") or "Shallow") != "Shallow":
            raise EwsFault("ErrorInvalidOperation", "Only a Shallow traversal is supported for FindItem.")
        folders = operation.find(_m("ParentFolderIds"))
        if folders is None or len(folders) == 0:
            raise _schema_error("The element 'FindItem' has incomplete content: 'ParentFolderIds' expected.")
        rejected = shape.streamed_properties()
        response, messages = _response("FindItem")
        render = _Render(context.mailbox, shape, streamed=False, truncate=True)
        for folder_id in folders:
            message = _response_message(messages, "FindItem")
            try:
                if rejected:
                    raise EwsError(
                        "ErrorInvalidPropertyRequest",
                        "The property can't be used in FindItem requests.",
                        field_uri=rejected[0],
                    )
                name = self._resolve_folder(folder_id, context)
                self._find_in_folder(message, operation, name, context, render)
            except EwsError as error:
                _fail(message, error)
        return response

    def _find_in_folder(
        self, message: ET.Element, operation: ET.Element, name: str, context: _Context, render: _Render
    ) -> None:
        calendar_view = operation.find(_m("CalendarView"))
        paged_view = operation.find(_m("IndexedPageItemView"))
        if calendar_view is not None:
            if name != WellKnownFolder.CALENDAR:
                raise EwsError(
                    "ErrorInvalidOperation", "A CalendarView can only be used on a calendar folder."
                )
            start = _parse_datetime(calendar_view.get("StartDate"), "StartDate")
            end = _parse_datetime(calendar_view.get("EndDate"), "EndDate")
            if end < start:
                raise EwsError("ErrorInvalidRequest", "EndDate must be greater than or equal to StartDate.")
            if end - start > timedelta(days=2 * 366):
                raise EwsError("ErrorCalendarViewRangeTooBig", "The CalendarView range is too big.")
            limit = min(
                _positive_int(calendar_view.get("MaxEntriesReturned"), FIND_ITEM_LIMIT), FIND_ITEM_LIMIT
            )
            instances = [
                instance
                for event in self.store.events(context.mailbox.user_id)
                for instance in expand_event(event, start, end)
            ]
            instances.sort(key=lambda i: (i.start, i.item_id))
            shown = instances[:limit]
            _succeed(message)
            root = ET.SubElement(
                message,
                _m("RootFolder"),
                TotalItemsInView=str(len(instances)),
                IncludesLastItemInRange=_bool(len(shown) == len(instances)),
            )
            items = ET.SubElement(root, _t("Items"))
            for instance in shown:
                _write_calendar_item(items, _entry_for_instance(instance), render)
            return
        if paged_view is None:
            raise EwsError(
                "ErrorInvalidRequest", "FindItem needs an IndexedPageItemView or a CalendarView here."
            )
        offset = _positive_int(paged_view.get("Offset"), 0, allow_zero=True)
        limit = min(_positive_int(paged_view.get("MaxEntriesReturned"), FIND_ITEM_LIMIT), FIND_ITEM_LIMIT)
        all_items: list[Message | CalendarEvent] = []
        if name == WellKnownFolder.CALENDAR:
            events = sorted(self.store.events(context.mailbox.user_id), key=_event_order)
            all_items.extend(events)
        elif name in _MAIL_FOLDER_NAMES:
            # Exchange's default order for a mail folder is newest received first.
            messages = sorted(self.store.messages(context.mailbox.user_id, name), key=_received_order)
            all_items.extend(reversed(messages))
        if (paged_view.get("BasePoint") or "Beginning") == "End":
            first = max(0, len(all_items) - offset - limit)
            page = all_items[first : len(all_items) - offset]
        else:
            page = all_items[offset : offset + limit]
        next_offset = offset + len(page)
        _succeed(message)
        root = ET.SubElement(
            message,
            _m("RootFolder"),
            IndexedPagingOffset=str(next_offset),
            TotalItemsInView=str(len(all_items)),
            IncludesLastItemInRange=_bool(next_offset >= len(all_items)),
        )
        items = ET.SubElement(root, _t("Items"))
        for item in page:
            if isinstance(item, Message):
                _write_message(items, item, render)
            else:
                _write_calendar_item(items, _entry_for_event(item), render)

    # -- ConvertId, ResolveNames ---------------------------------------------------------------------

    def _convert_id(self, operation: ET.Element, context: _Context) -> ET.Element:
        destination = operation.get("DestinationFormat") or ""
        sources = operation.find(_m("SourceIds"))
        if sources is None:
            raise _schema_error("The element 'ConvertId' has incomplete content: 'SourceIds' expected.")
        response, messages = _response("ConvertId")
        for source in sources:
            message = _response_message(messages, "ConvertId")
            item_id = source.get("Id") or ""
            mailbox = source.get("Mailbox") or context.mailbox.address
            known = self.store.mailbox(mailbox) == context.mailbox and (
                self.store.message(context.mailbox.user_id, item_id) is not None
                or self.store.event(context.mailbox.user_id, item_id) is not None
            )
            if source.get("Format") not in ("EwsId", "EwsLegacyId") or destination not in (
                "EwsId",
                "EwsLegacyId",
            ):
                _fail(message, EwsError("ErrorInvalidIdMalformed", "Only EWS ids can be converted here."))
            elif not known:
                _fail(message, EwsError("ErrorInvalidIdMalformed", "Id is malformed."))
            else:
                _succeed(message)
                ET.SubElement(
                    message,
                    _m("AlternateId"),
                    Format=destination,
                    Id=item_id,
                    Mailbox=context.mailbox.address,
                )
        return response

    def _resolve_names(self, operation: ET.Element, context: _Context) -> ET.Element:
        wanted = (operation.findtext(_m("UnresolvedEntry")) or "").strip()
        if wanted.lower().startswith("smtp:"):
            wanted = wanted[5:]
        response, messages = _response("ResolveNames")
        message = _response_message(messages, "ResolveNames")
        needle = wanted.lower()
        matches = [
            mailbox
            for mailbox in self.store.mailboxes()
            if mailbox.tenant_id == context.mailbox.tenant_id
            and needle
            and (
                mailbox.address.lower() == needle
                or mailbox.address.lower().startswith(needle)
                or needle in mailbox.display_name.lower()
            )
        ]
        exact = [m for m in matches if m.address.lower() == needle]
        matches = (exact or matches)[:100]
        if not matches:
            _fail(message, EwsError("ErrorNameResolutionNoResults", "No results were found."))
            return response
        if len(matches) > 1:
            message.set("ResponseClass", "Warning")
            _mtext(message, "MessageText", "Multiple results were found.")
            _mtext(message, "ResponseCode", "ErrorNameResolutionMultipleResults")
            _mtext(message, "DescriptiveLinkKey", "0")
        else:
            _succeed(message)
        resolutions = ET.SubElement(
            message, _m("ResolutionSet"), TotalItemsInView=str(len(matches)), IncludesLastItemInRange="true"
        )
        for mailbox in matches:
            resolution = ET.SubElement(resolutions, _t("Resolution"))
            _write_mailbox(resolution, "Mailbox", mailbox.owner(), bare=True)
        return response


def register_ews_routes(
    server: M365Server, store: MailboxStore, *, throttle: EwsThrottle | None = None
) -> EwsEndpoint:
    """Serve EWS at ``/EWS/Exchange.asmx`` (any case, as IIS does) on ``server``; returns the endpoint.

    Also adds ``POST /_sim/ews/throttle`` for scripts and tests that want the next requests refused
    with ``ErrorServerBusy``.
    """
    endpoint = EwsEndpoint(server.identity, store, throttle=throttle)
    server.add_route("POST", r"(?i)^/ews/exchange\.asmx$", endpoint.handle)
    server.add_route("POST", r"^/_sim/ews/throttle$", endpoint.handle_throttle)
    return endpoint


# --- Sync states -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SyncState:
    """What a SyncState means: where in a folder's log a client is (and, in its first round, which
    items it has been sent so far)."""

    mailbox: str
    folder: str
    epoch: int
    position: int
    cursor: tuple[int, str] | None = None

    def encode(self) -> str:
        payload = {"m": self.mailbox, "f": self.folder, "e": self.epoch, "p": self.position}
        if self.cursor is not None:
            payload["c"] = list(self.cursor)
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
        tag = hashlib.sha256(_STATE_TAG + raw).digest()[:8]
        return base64.b64encode(zlib.compress(tag + raw)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> _SyncState | None:
        try:
            data = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
            tag, raw = data[:8], data[8:]
            if hashlib.sha256(_STATE_TAG + raw).digest()[:8] != tag:
                return None
            payload = json.loads(raw)
            cursor = payload.get("c")
            return cls(
                mailbox=str(payload["m"]),
                folder=str(payload["f"]),
                epoch=int(payload["e"]),
                position=int(payload["p"]),
                cursor=(int(cursor[0]), str(cursor[1])) if cursor is not None else None,
            )
        except (ValueError, KeyError, TypeError, IndexError, zlib.error, binascii.Error, UnicodeError):
            return None


@dataclass(frozen=True)
class _ItemChange:
    kind: str  # Create | Update | Delete | ReadFlagChange
    item_id: str
    item: Message | CalendarEvent | None = None


@dataclass(frozen=True)
class _SyncResult:
    changes: list[_ItemChange]
    state: str
    includes_last: bool


# --- Folders -----------------------------------------------------------------------------------------------

_ITEM_FOLDERS = tuple(str(f) for f in WellKnownFolder)
_MAIL_FOLDER_NAMES = tuple(str(f) for f in MAIL_FOLDERS)
_FOLDER_NAMES = ("root", "msgfolderroot", *_ITEM_FOLDERS)
_FOLDER_CHANGE_KEY = "AQAAABYAAAAAAAAAAAAAAAAAAAAAAAAA"
_FOLDER_ID_PREFIX = "AAMkADsim"


def _folder_display(name: str) -> str:
    if name == "root":
        return ""
    if name == "msgfolderroot":
        return "Top of Information Store"
    return folder_display_name(name)


def _folder_id(mailbox: Mailbox, name: str) -> str:
    encoded = base64.urlsafe_b64encode(f"{mailbox.user_id}/{name}".encode()).decode("ascii")
    return _FOLDER_ID_PREFIX + encoded


def _decode_folder_id(folder_id: str) -> tuple[str, str] | None:
    if not folder_id.startswith(_FOLDER_ID_PREFIX):
        return None
    try:
        owner, name = (
            base64.urlsafe_b64decode(folder_id[len(_FOLDER_ID_PREFIX) :].encode("ascii"))
            .decode()
            .rsplit("/", 1)
        )
    except (ValueError, UnicodeError, binascii.Error):
        return None
    return (owner, name) if name in _FOLDER_NAMES else None


_ID_TEXT = re.compile(r"^AA[A-Za-z0-9+/_=-]+$")


def _looks_malformed(item_id: str) -> bool:
    """Exchange ids are base64 text starting ``AA``; anything else is malformed rather than unknown."""
    return _ID_TEXT.match(item_id) is None


# --- Shapes and rendering ----------------------------------------------------------------------------------

# Properties a FindItem cannot return (streamed or multi-valued): clients use GetItem for them.
_STREAMED = frozenset(
    {
        "item:Body",
        "item:TextBody",
        "item:UniqueBody",
        "item:NormalizedBody",
        "item:Attachments",
        "item:MimeContent",
        "item:InternetMessageHeaders",
        "message:ToRecipients",
        "message:CcRecipients",
        "message:BccRecipients",
        "message:ReplyTo",
        "calendar:RequiredAttendees",
        "calendar:OptionalAttendees",
        "calendar:Resources",
    }
)
# Bodies are never part of a SyncFolderItems response.
_BODIES = frozenset(
    {"item:Body", "item:TextBody", "item:UniqueBody", "item:NormalizedBody", "item:MimeContent"}
)

_DEFAULT_MESSAGE = frozenset(
    {
        "item:ParentFolderId",
        "item:ItemClass",
        "item:Subject",
        "item:Body",
        "item:DateTimeReceived",
        "item:Size",
        "item:Importance",
        "item:IsDraft",
        "item:DateTimeSent",
        "item:DateTimeCreated",
        "item:HasAttachments",
        "item:ConversationId",
        "message:Sender",
        "message:ToRecipients",
        "message:CcRecipients",
        "message:From",
        "message:IsRead",
    }
)
_DEFAULT_CALENDAR = frozenset(
    {
        "item:ParentFolderId",
        "item:ItemClass",
        "item:Subject",
        "item:Body",
        "item:DateTimeCreated",
        "item:HasAttachments",
        "calendar:Start",
        "calendar:End",
        "calendar:IsAllDayEvent",
        "calendar:LegacyFreeBusyStatus",
        "calendar:Location",
        "calendar:CalendarItemType",
        "calendar:Organizer",
        "calendar:RequiredAttendees",
        "calendar:OptionalAttendees",
    }
)
_DEFAULT_FOLDER = frozenset(
    {"folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount", "folder:UnreadCount"}
)


@dataclass(frozen=True)
class _Shape:
    """An ``ItemShape``/``FolderShape``: a base shape plus additional properties."""

    base: str = "IdOnly"
    extra: frozenset[str] = frozenset()
    body_type: str = "Best"

    def wants(self, uri: str, defaults: frozenset[str]) -> bool:
        if uri in self.extra or self.base == "AllProperties":
            return True
        return self.base == "Default" and uri in defaults

    def folder_wants(self, uri: str) -> bool:
        return self.wants(uri, _DEFAULT_FOLDER)

    def streamed_properties(self) -> list[str]:
        """The properties asked for explicitly that a FindItem cannot return."""
        return sorted(self.extra & _STREAMED)


def _parse_shape(element: ET.Element | None) -> _Shape:
    if element is None:
        raise _schema_error("The shape element ('ItemShape' or 'FolderShape') is missing.")
    base = element.findtext(_t("BaseShape")) or ""
    if base not in ("IdOnly", "Default", "AllProperties"):
        raise _schema_error(f"The 'BaseShape' element has an invalid value '{base}'.")
    extra = frozenset(
        uri
        for uri in (
            element.get("FieldURI")
            for element in element.iterfind(f"{_t('AdditionalProperties')}/{_t('FieldURI')}")
        )
        if uri
    )
    body_type = element.findtext(_t("BodyType")) or "Best"
    if body_type not in ("Best", "HTML", "Text"):
        raise _schema_error(f"The 'BodyType' element has an invalid value '{body_type}'.")
    return _Shape(base, extra, body_type)


@dataclass(frozen=True)
class _Render:
    """How items are written: for whom, which properties, and the FindItem/SyncFolderItems limits."""

    mailbox: Mailbox
    shape: _Shape
    streamed: bool  # bodies allowed (GetItem)
    truncate: bool = False  # FindItem: strings cut, mailboxes by name only

    def wants(self, uri: str, defaults: frozenset[str]) -> bool:
        if not self.streamed and uri in _BODIES:
            return False
        if self.truncate and uri in _STREAMED:
            return False
        return self.shape.wants(uri, defaults)

    def string(self, value: str) -> str:
        return value[:FIND_STRING_LIMIT] if self.truncate else value


@dataclass(frozen=True)
class _CalendarEntry:
    """A calendar item as EWS shows it: a single meeting, a series master, an occurrence or an exception."""

    event: CalendarEvent
    item_id: str
    item_type: str  # Single | RecurringMaster | Occurrence | Exception
    start: datetime
    end: datetime
    subject: str
    original_start: datetime | None


def _entry_for_event(event: CalendarEvent) -> _CalendarEntry:
    return _CalendarEntry(
        event,
        event.item_id,
        "RecurringMaster" if event.recurrence else "Single",
        event.start,
        event.end,
        event.subject,
        None,
    )


def _entry_for_instance(instance: EventInstance) -> _CalendarEntry:
    kinds = {"singleInstance": "Single", "occurrence": "Occurrence", "exception": "Exception"}
    return _CalendarEntry(
        instance.event,
        instance.item_id,
        kinds[instance.kind],
        instance.start,
        instance.end,
        instance.subject,
        instance.original_start,
    )


def _write_message(parent: ET.Element, message: Message, render: _Render) -> None:
    """A ``t:Message`` with the properties the shape asks for, in schema order."""
    element = ET.SubElement(parent, _t("Message"))
    mailbox = render.mailbox

    def wants(uri: str) -> bool:
        return render.wants(uri, _DEFAULT_MESSAGE)

    ET.SubElement(element, _t("ItemId"), Id=message.item_id, ChangeKey=message.change_key)
    if wants("item:ParentFolderId"):
        ET.SubElement(
            element,
            _t("ParentFolderId"),
            Id=_folder_id(mailbox, message.folder),
            ChangeKey=_FOLDER_CHANGE_KEY,
        )
    if wants("item:ItemClass"):
        _text(element, "ItemClass", "IPM.Note")
    if wants("item:Subject"):
        _text(element, "Subject", render.string(message.subject))
    if wants("item:Body"):
        _write_body(element, "Body", message.body, render.shape.body_type)
    if wants("item:DateTimeReceived"):
        _text(element, "DateTimeReceived", _ews_datetime(message.received_at))
    if wants("item:Size"):
        _text(element, "Size", str(_message_size(message)))
    if wants("item:Categories") and message.categories:
        categories = ET.SubElement(element, _t("Categories"))
        for category in message.categories:
            _text(categories, "String", category)
    if wants("item:Importance"):
        _text(element, "Importance", message.importance.capitalize())
    if wants("item:IsSubmitted"):
        _text(element, "IsSubmitted", "false")
    if wants("item:IsDraft"):
        _text(element, "IsDraft", _bool(message.is_draft))
    if wants("item:IsFromMe"):
        _text(element, "IsFromMe", _bool(_same(message.sender.address, mailbox.address)))
    if wants("item:InternetMessageHeaders") and message.headers:
        headers = ET.SubElement(element, _t("InternetMessageHeaders"))
        for name, value in message.headers:
            _text(headers, "InternetMessageHeader", value, HeaderName=name)
    if wants("item:DateTimeSent") and message.sent_at is not None:
        _text(element, "DateTimeSent", _ews_datetime(message.sent_at))
    if wants("item:DateTimeCreated"):
        _text(element, "DateTimeCreated", _ews_datetime(message.created_at))
    if wants("item:DisplayCc"):
        _text(element, "DisplayCc", render.string("; ".join(r.name or r.address for r in message.cc)))
    if wants("item:DisplayTo"):
        _text(element, "DisplayTo", render.string("; ".join(r.name or r.address for r in message.to)))
    if wants("item:HasAttachments"):
        _text(element, "HasAttachments", "false")
    if wants("item:LastModifiedTime"):
        _text(element, "LastModifiedTime", _ews_datetime(message.modified_at))
    if wants("item:IsAssociated"):
        _text(element, "IsAssociated", "false")
    if wants("item:ConversationId"):
        ET.SubElement(element, _t("ConversationId"), Id=message.conversation_id)
    if wants("item:Preview"):
        _text(element, "Preview", message.body_preview)
    if wants("item:TextBody"):
        _write_body(element, "TextBody", message.body, "Text")
    if wants("message:Sender"):
        _write_mailbox(element, "Sender", message.sender, name_only=render.truncate)
    own_copy = message.folder in (WellKnownFolder.SENT_ITEMS, WellKnownFolder.DRAFTS)
    for uri, tag, recipients in (
        ("message:ToRecipients", "ToRecipients", message.to),
        ("message:CcRecipients", "CcRecipients", message.cc),
        # Only the sender's own copy knows the Bcc recipients.
        ("message:BccRecipients", "BccRecipients", message.bcc if own_copy else ()),
    ):
        if wants(uri) and recipients:
            holder = ET.SubElement(element, _t(tag))
            for recipient in recipients:
                _write_mailbox(holder, "Mailbox", recipient, bare=True)
    if wants("message:ConversationTopic"):
        _text(element, "ConversationTopic", render.string(_conversation_topic(message.subject)))
    if wants("message:From"):
        _write_mailbox(element, "From", message.sender, name_only=render.truncate)
    if wants("message:InternetMessageId"):
        _text(element, "InternetMessageId", render.string(message.internet_message_id))
    if wants("message:IsRead"):
        _text(element, "IsRead", _bool(message.is_read))
    if wants("message:ReceivedBy") and message.folder == WellKnownFolder.INBOX:
        _write_mailbox(element, "ReceivedBy", mailbox.owner(), name_only=render.truncate)


_RESPONSE_TYPES = {
    "none": "Unknown",
    "organizer": "Organizer",
    "tentativelyAccepted": "Tentative",
    "accepted": "Accept",
    "declined": "Decline",
    "notResponded": "NoResponseReceived",
}
_FREE_BUSY = {
    "free": "Free",
    "tentative": "Tentative",
    "busy": "Busy",
    "oof": "OOF",
    "workingElsewhere": "WorkingElsewhere",
    "unknown": "NoData",
}


def _write_calendar_item(parent: ET.Element, entry: _CalendarEntry, render: _Render) -> None:
    """A ``t:CalendarItem`` with the properties the shape asks for, in schema order."""
    element = ET.SubElement(parent, _t("CalendarItem"))
    event = entry.event
    mailbox = render.mailbox

    def wants(uri: str) -> bool:
        return render.wants(uri, _DEFAULT_CALENDAR)

    ET.SubElement(element, _t("ItemId"), Id=entry.item_id, ChangeKey=event.change_key)
    if wants("item:ParentFolderId"):
        ET.SubElement(
            element,
            _t("ParentFolderId"),
            Id=_folder_id(mailbox, WellKnownFolder.CALENDAR),
            ChangeKey=_FOLDER_CHANGE_KEY,
        )
    if wants("item:ItemClass"):
        _text(element, "ItemClass", "IPM.Appointment")
    if wants("item:Subject"):
        _text(element, "Subject", render.string(entry.subject))
    if wants("item:Body"):
        _write_body(element, "Body", event.body, render.shape.body_type)
    if wants("item:DateTimeReceived"):
        _text(element, "DateTimeReceived", _ews_datetime(event.created_at))
    if wants("item:Size"):
        _text(element, "Size", str(len(event.body.encode("utf-8")) + 1024))
    if wants("item:Importance"):
        _text(element, "Importance", "Normal")
    if wants("item:IsDraft"):
        _text(element, "IsDraft", "false")
    if wants("item:IsFromMe"):
        _text(element, "IsFromMe", _bool(event.is_organizer))
    if wants("item:DateTimeCreated"):
        _text(element, "DateTimeCreated", _ews_datetime(event.created_at))
    attendees = {
        kind: [a for a in event.attendees if a.type == kind] for kind in ("required", "optional", "resource")
    }
    if wants("item:DisplayCc"):
        _text(
            element, "DisplayCc", render.string("; ".join(a.name or a.address for a in attendees["optional"]))
        )
    if wants("item:DisplayTo"):
        _text(
            element, "DisplayTo", render.string("; ".join(a.name or a.address for a in attendees["required"]))
        )
    if wants("item:HasAttachments"):
        _text(element, "HasAttachments", "false")
    if wants("item:LastModifiedTime"):
        _text(element, "LastModifiedTime", _ews_datetime(event.modified_at))
    if wants("item:IsAssociated"):
        _text(element, "IsAssociated", "false")
    if wants("item:Preview"):
        _text(element, "Preview", event.body_preview)
    if wants("item:TextBody"):
        _write_body(element, "TextBody", event.body, "Text")
    if wants("calendar:UID"):
        _text(element, "UID", render.string(event.ical_uid))
    if wants("calendar:RecurrenceId") and entry.original_start is not None:
        _text(element, "RecurrenceId", _ews_datetime(entry.original_start))
    if wants("calendar:DateTimeStamp"):
        _text(element, "DateTimeStamp", _ews_datetime(event.modified_at))
    if wants("calendar:Start"):
        _text(element, "Start", _ews_datetime(entry.start))
    if wants("calendar:End"):
        _text(element, "End", _ews_datetime(entry.end))
    if wants("calendar:OriginalStart") and entry.original_start is not None:
        _text(element, "OriginalStart", _ews_datetime(entry.original_start))
    if wants("calendar:IsAllDayEvent"):
        _text(element, "IsAllDayEvent", _bool(event.is_all_day))
    if wants("calendar:LegacyFreeBusyStatus"):
        _text(element, "LegacyFreeBusyStatus", _FREE_BUSY.get(event.show_as, "Busy"))
    if wants("calendar:Location"):
        _text(element, "Location", render.string(event.location))
    if wants("calendar:IsMeeting"):
        _text(element, "IsMeeting", _bool(bool(event.attendees) or not event.is_organizer))
    if wants("calendar:IsCancelled"):
        _text(element, "IsCancelled", _bool(event.is_cancelled))
    if wants("calendar:IsRecurring"):
        _text(element, "IsRecurring", _bool(entry.item_type in ("Occurrence", "Exception")))
    if wants("calendar:MeetingRequestWasSent"):
        _text(element, "MeetingRequestWasSent", _bool(event.is_organizer and bool(event.attendees)))
    if wants("calendar:IsResponseRequested"):
        _text(element, "IsResponseRequested", _bool(not event.is_organizer))
    if wants("calendar:CalendarItemType"):
        _text(element, "CalendarItemType", entry.item_type)
    if wants("calendar:MyResponseType"):
        _text(element, "MyResponseType", _RESPONSE_TYPES.get(event.response, "Unknown"))
    if wants("calendar:Organizer"):
        _write_mailbox(element, "Organizer", event.organizer, name_only=render.truncate)
    for uri, tag, kind in (
        ("calendar:RequiredAttendees", "RequiredAttendees", "required"),
        ("calendar:OptionalAttendees", "OptionalAttendees", "optional"),
        ("calendar:Resources", "Resources", "resource"),
    ):
        if wants(uri) and attendees[kind]:
            holder = ET.SubElement(element, _t(tag))
            for attendee in attendees[kind]:
                node = ET.SubElement(holder, _t("Attendee"))
                _write_mailbox(node, "Mailbox", Recipient(attendee.address, attendee.name), bare=True)
                _text(node, "ResponseType", _RESPONSE_TYPES.get(attendee.response, "Unknown"))
                if attendee.response_time is not None:
                    _text(node, "LastResponseTime", _ews_datetime(attendee.response_time))
    if wants("calendar:Duration"):
        _text(element, "Duration", _iso_duration(entry.end - entry.start))
    if wants("calendar:AppointmentReplyTime") and event.response_time is not None:
        _text(element, "AppointmentReplyTime", _ews_datetime(event.response_time))
    if wants("calendar:AppointmentSequenceNumber"):
        _text(element, "AppointmentSequenceNumber", "0")
    if wants("calendar:AppointmentState"):
        # Bit flags: 1 meeting, 2 received, 4 cancelled.
        state = (1 if event.attendees or not event.is_organizer else 0) | (0 if event.is_organizer else 2)
        _text(element, "AppointmentState", str(state | (4 if event.is_cancelled else 0)))
    if wants("calendar:Recurrence") and entry.item_type == "RecurringMaster":
        _write_recurrence(element, event)
    zone_id = windows_zone_name(event.time_zone) or "UTC"
    if wants("calendar:StartTimeZone"):
        ET.SubElement(element, _t("StartTimeZone"), Id=zone_id, Name=zone_id)
    if wants("calendar:EndTimeZone"):
        ET.SubElement(element, _t("EndTimeZone"), Id=zone_id, Name=zone_id)
    if wants("calendar:IsOnlineMeeting"):
        _text(element, "IsOnlineMeeting", "false")


def _write_recurrence(parent: ET.Element, event: CalendarEvent) -> None:
    recurrence = event.recurrence
    assert recurrence is not None
    holder = ET.SubElement(parent, _t("Recurrence"))
    if recurrence.pattern == "daily":
        pattern = ET.SubElement(holder, _t("DailyRecurrence"))
        _text(pattern, "Interval", str(recurrence.interval))
    else:
        pattern = ET.SubElement(holder, _t("WeeklyRecurrence"))
        _text(pattern, "Interval", str(recurrence.interval))
        _text(pattern, "DaysOfWeek", " ".join(day.capitalize() for day in recurrence.days_of_week))
        _text(pattern, "FirstDayOfWeek", recurrence.first_day_of_week.capitalize())
    if recurrence.end_date is not None:
        limit = ET.SubElement(holder, _t("EndDateRecurrence"))
        _text(limit, "StartDate", recurrence.start_date.isoformat())
        _text(limit, "EndDate", recurrence.end_date.isoformat())
    elif recurrence.occurrences is not None:
        limit = ET.SubElement(holder, _t("NumberedRecurrence"))
        _text(limit, "StartDate", recurrence.start_date.isoformat())
        _text(limit, "NumberOfOccurrences", str(recurrence.occurrences))
    else:
        limit = ET.SubElement(holder, _t("NoEndRecurrence"))
        _text(limit, "StartDate", recurrence.start_date.isoformat())


def _write_mailbox(
    parent: ET.Element, tag: str, recipient: Recipient, *, bare: bool = False, name_only: bool = False
) -> None:
    """A mailbox property (``<t:From><t:Mailbox>...</t:Mailbox></t:From>``), or a lone ``<t:Mailbox>``
    inside a list (recipients, attendees, resolutions) when ``bare``."""
    node = ET.SubElement(parent if bare else ET.SubElement(parent, _t(tag)), _t("Mailbox"))
    _text(node, "Name", recipient.name or recipient.address)
    if name_only:
        return  # FindItem returns the display name only
    _text(node, "EmailAddress", recipient.address)
    _text(node, "RoutingType", "SMTP")
    _text(node, "MailboxType", "Mailbox")


def _write_body(parent: ET.Element, tag: str, text: str, body_type: str) -> None:
    if body_type == "Text":
        _text(parent, tag, text, BodyType="Text")
        return
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.splitlines()) or "<p></p>"
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
        f"<body>{paragraphs}</body></html>"
    )
    _text(parent, tag, html, BodyType="HTML")


def _event_order(event: CalendarEvent) -> tuple[datetime, str]:
    return event.start, event.item_id


def _received_order(message: Message) -> tuple[datetime, str]:
    return message.received_at, message.item_id


def _message_size(message: Message) -> int:
    """An Exchange-like size: the body plus headers plus a fixed overhead for the envelope."""
    headers = sum(len(k) + len(v) + 4 for k, v in message.headers)
    return len(message.body.encode("utf-8")) + headers + 1024


def _conversation_topic(subject: str) -> str:
    topic = subject
    while topic[:3].lower() in ("re:", "fw:") or topic[:4].lower() == "fwd:":
        topic = topic.split(":", 1)[1].lstrip()
    return topic


# --- SOAP plumbing ----------------------------------------------------------------------------------------


def _parse_envelope(body: bytes) -> tuple[ET.Element | None, ET.Element]:
    """The SOAP header (if any) and the operation element, or a schema-validation fault."""
    if not body.strip():
        raise _schema_error("The request body is empty.")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise _schema_error(f"The request is not well-formed XML: {error}") from error
    if root.tag != _s("Envelope"):
        raise _schema_error("The root element must be a SOAP 1.1 'Envelope'.")
    soap_body = root.find(_s("Body"))
    if soap_body is None or len(soap_body) != 1:
        raise _schema_error("The SOAP 'Body' must hold exactly one operation.")
    return root.find(_s("Header")), soap_body[0]


def _check_requested_version(header: ET.Element | None) -> None:
    """Refuse a RequestServerVersion this server does not know (without one, Exchange assumes 2007 SP1,
    which it serves). exchangelib tries the next version when refused, which is how it guesses."""
    element = header.find(_t("RequestServerVersion")) if header is not None else None
    if element is None:
        return
    version = element.get("Version") or ""
    if version not in SUPPORTED_REQUEST_VERSIONS:
        raise EwsFault(
            "ErrorInvalidServerVersion", "The specified server version is invalid.", with_version_header=False
        )


def _impersonated_address(header: ET.Element | None) -> str | None:
    if header is None:
        return None
    sid = header.find(f"{_t('ExchangeImpersonation')}/{_t('ConnectingSID')}")
    if sid is None:
        return None
    for tag in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
        value = (sid.findtext(_t(tag)) or "").strip()
        if value:
            return value
    if sid.findtext(_t("SID")):
        raise EwsFault(
            "ErrorNonExistentMailbox", "The simulated server identifies mailboxes by SMTP address only."
        )
    raise EwsFault("ErrorInvalidExchangeImpersonationHeaderData", "The ConnectingSID element is empty.")


def _response(operation: str) -> tuple[ET.Element, ET.Element]:
    response = ET.Element(_m(f"{operation}Response"))
    return response, ET.SubElement(response, _m("ResponseMessages"))


def _response_message(messages: ET.Element, operation: str) -> ET.Element:
    return ET.SubElement(messages, _m(f"{operation}ResponseMessage"))


def _succeed(message: ET.Element) -> None:
    message.set("ResponseClass", "Success")
    _mtext(message, "ResponseCode", "NoError")


def _fail(message: ET.Element, error: EwsError, *, container: str | None = None) -> None:
    message.set("ResponseClass", "Error")
    _mtext(message, "MessageText", error.message)
    _mtext(message, "ResponseCode", error.code)
    _mtext(message, "DescriptiveLinkKey", "0")
    if error.field_uri:
        xml = ET.SubElement(message, _m("MessageXml"))
        ET.SubElement(xml, _t("FieldURI"), FieldURI=error.field_uri)
    if container:
        ET.SubElement(message, _m(container))


def _soap_response(body_content: ET.Element) -> Response:
    envelope = ET.Element(_s("Envelope"))
    header = ET.SubElement(envelope, _s("Header"))
    _server_version(header)
    ET.SubElement(envelope, _s("Body")).append(body_content)
    payload = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return Response(200, payload, [("Content-Type", "text/xml; charset=utf-8")])


def _server_version(header: ET.Element) -> None:
    major, minor, build, revision = SERVER_BUILD
    ET.SubElement(
        header,
        _t("ServerVersionInfo"),
        MajorVersion=str(major),
        MinorVersion=str(minor),
        MajorBuildNumber=str(build),
        MinorBuildNumber=str(revision),
        Version=SERVER_VERSION_NAME,
    )


def _fault_response(fault: EwsFault) -> Response:
    """A SOAP fault as Exchange writes it; ``BackOffMilliseconds`` rides in ``MessageXml``."""
    major, minor, build, revision = SERVER_BUILD
    header = (
        f'<s:Header><h:ServerVersionInfo xmlns:h="{TYPES_NS}" MajorVersion="{major}" '
        f'MinorVersion="{minor}" MajorBuildNumber="{build}" MinorBuildNumber="{revision}" '
        f'Version="{SERVER_VERSION_NAME}"/></s:Header>'
        if fault.with_version_header
        else ""
    )
    message_xml = (
        f'<t:MessageXml xmlns:t="{TYPES_NS}">'
        f'<t:Value Name="BackOffMilliseconds">{fault.back_off_ms}</t:Value></t:MessageXml>'
        if fault.back_off_ms is not None
        else ""
    )
    text = escape(fault.message)
    payload = (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}">{header}<s:Body><s:Fault>'
        f'<faultcode xmlns:a="{TYPES_NS}">a:{fault.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{text}</faultstring><detail>'
        f'<e:ResponseCode xmlns:e="{ERRORS_NS}">{fault.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{ERRORS_NS}">{text}</e:Message>{message_xml}'
        "</detail></s:Fault></s:Body></s:Envelope>"
    )
    return Response(500, payload.encode("utf-8"), [("Content-Type", "text/xml; charset=utf-8")])


def _text(parent: ET.Element, local: str, value: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, _t(local), attributes)
    element.text = value
    return element


def _mtext(parent: ET.Element, local: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, _m(local))
    element.text = value
    return element


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _same(left: str, right: str) -> bool:
    return left.strip().lower() == right.strip().lower()


def _same_instant(key: str, moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(key.replace("Z", "+00:00")) == moment
    except ValueError:
        return False


def _ews_datetime(moment: datetime) -> str:
    """EWS writes date-times in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_datetime(value: str | None, name: str) -> datetime:
    if not value:
        raise _schema_error(f"The required attribute '{name}' is missing.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise _schema_error(f"The '{name}' attribute is not a valid dateTime: '{value}'.") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _positive_int(value: str | None, default: int, *, allow_zero: bool = False) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as error:
        raise _schema_error(f"'{value}' is not a valid integer.") from error
    if number < (0 if allow_zero else 1):
        raise _schema_error(f"'{value}' is out of range.")
    return number


def _iso_duration(span: timedelta) -> str:
    """An xs:duration such as ``PT1H30M``."""
    days, rest = divmod(max(0, int(span.total_seconds())), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(
        f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value
    )
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


__all__ = [
    "EWS_PATH",
    "EwsCaller",
    "EwsEndpoint",
    "EwsError",
    "EwsFault",
    "EwsThrottle",
    "ReadFlagTracker",
    "register_ews_routes",
]
