"""On-premises Exchange through EWS (exchangelib): the ``MailboxSource`` for firms not on Graph.

    EwsMailboxSource.mail_changes(mailbox, folder, state)
        SyncFolderItems(IdOnly, MaxChangesReturned=page_size, SyncState)   one page per response
        GetItem(created, updated and read-flag-changed ids)                 the fields capture needs
        --> SyncPage(MailItem | RemovedItem, state, more = not IncludesLastItemInRange)

    EwsMailboxSource.calendar_changes(mailbox, start, end, state)
        FindItem(CalendarView start..end, IdOnly + Start/End)    the server expands every series
        GetItem(new or changed occurrences)                       what FindItem cannot return
        GetItem(RecurringMasterItemId, once per series)           the series master's id
        --> pages of MeetingItem; RemovedItem for what left the view inside the window

Why the calendar is not read with ``SyncFolderItems``: a calendar folder syncs series masters, not
occurrences, and a capture needs the occurrences that happened. The calendar state is therefore ours:
the window and a fingerprint (change key, start) of every occurrence seen in it, compressed. A change
key changes whenever the item (or its series) does, so only new or changed occurrences are fetched.

Authentication: an OAuth2 access token we obtain ourselves (``token_provider``, msal underneath), so the
token endpoint and its cache stay ours and configurable. exchangelib only carries the token; when it
expires (``expires_at`` from the JWT) exchangelib asks ``refresh()``, which asks the provider again.
App-only tokens act on a mailbox through ``ExchangeImpersonation`` (exchangelib adds the header and
``X-AnchorMailbox``); a delegated token reads its own user's mailbox (``access_type="delegate"``).

TLS: exchangelib builds its own ``requests`` sessions; the supported hook is the class attribute
``BaseProtocol.HTTP_ADAPTER_CLS``. We install, once per process, an adapter that verifies each EWS
origin that has a CA bundle registered against that bundle (and everything else as before), so one
process can talk to several servers with different CAs.

Throttling: the retry policy is exchangelib's ``FailFast``, so an ``ErrorServerBusy`` reaches us with
its ``BackOffMilliseconds``; we wait that long (``sleep`` is injectable) and retry, up to a limit.

exchangelib is imported lazily, inside the methods: the API's cold start must not pay for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.m365 import MailServerError
from chalicelib.domain.mailbox import (
    Folder,
    MailboxChange,
    MailItem,
    MeetingItem,
    RemovedItem,
    SyncPage,
    SyncStateExpired,
)
from chalicelib.domain.timeutil import utc_ms, zone

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import BaseFolder

logger = logging.getLogger(__name__)

T = TypeVar("T")

TokenProvider = Callable[[], str]

MAX_PAGE_SIZE = 512  # SyncFolderItems' MaxChangesReturned cannot exceed it
PREVIEW_CHARS = 255  # what Graph calls bodyPreview, so both adapters give the same preview
# A token this close to expiry is renewed before it is sent rather than refused by the server.
TOKEN_EXPIRY_MARGIN_SECONDS = 120
MAIL_STATE_PREFIX = "ews-mail.1"
CALENDAR_STATE_PREFIX = "ews-cal.1"

# The RequestServerVersion names we accept for ``version``, to exchangelib builds (major, minor).
_VERSIONS: dict[str, tuple[int, int, int]] = {
    "Exchange2010": (14, 0, 0),
    "Exchange2010_SP1": (14, 1, 0),
    "Exchange2010_SP2": (14, 2, 0),
    "Exchange2013": (15, 0, 0),
    "Exchange2013_SP1": (15, 0, 847),
    "Exchange2016": (15, 1, 0),
    "Exchange2019": (15, 2, 0),
}

MESSAGE_FIELDS = (
    "subject",
    "sender",
    "author",
    "to_recipients",
    "cc_recipients",
    "datetime_sent",
    "datetime_received",
    "is_read",
    "is_draft",
    "conversation_id",
    "message_id",
    "headers",
    "categories",
    "text_body",
)
MEETING_FIELDS = (
    "subject",
    "start",
    "end",
    "is_all_day",
    "is_cancelled",
    "legacy_free_busy_status",
    "my_response_type",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "uid",
    "type",
    "recurrence_id",
    "text_body",
    "_start_timezone",
)

# EWS names to the domain's (Graph's) names.
_KINDS = {"Single": "singleInstance", "Occurrence": "occurrence", "Exception": "exception"}
_RESPONSES = {
    "Unknown": "none",
    "Organizer": "organizer",
    "Tentative": "tentativelyAccepted",
    "Accept": "accepted",
    "Decline": "declined",
    "NoResponseReceived": "notResponded",
}
_SHOW_AS = {
    "Free": "free",
    "Tentative": "tentative",
    "Busy": "busy",
    "OOF": "oof",
    "WorkingElsewhere": "workingElsewhere",
    "NoData": "unknown",
}


class EwsMailboxSource:
    """``MailboxSource`` over EWS, for one Exchange server and one set of credentials.

    ``service_endpoint`` is the full EWS URL (``https://mail.firm.example/EWS/Exchange.asmx``);
    ``token_provider`` returns a current access token for Exchange (audience
    ``https://outlook.office365.com`` or the on-premises equivalent); ``ca_bundle`` is the CA file to
    verify the server with (None: the system's CAs); ``version`` is the server's RequestServerVersion
    name (None: let exchangelib ask the server). ``access_type`` is ``impersonation`` for an app-only
    token (``full_access_as_app``) or ``delegate`` for a user's token (``EWS.AccessAsUser.All``).
    ``forget_token`` is called when the server refuses a token, before one more is asked for (msal's
    cache would otherwise return the same one: pass ``AppTokens.forget_access_tokens``). ``sleep``
    waits out ``ErrorServerBusy`` back-offs, at most ``max_busy_retries`` times in a row and never
    longer than ``max_back_off_seconds`` at once. Thread-safe; accounts are kept per mailbox.
    """

    def __init__(
        self,
        service_endpoint: str,
        token_provider: TokenProvider,
        *,
        ca_bundle: str | None,
        version: str | None = "Exchange2016",
        page_size: int = 100,
        access_type: str = "impersonation",
        forget_token: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_busy_retries: int = 5,
        max_back_off_seconds: float = 300.0,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if version is not None and version not in _VERSIONS:
            raise ValueError(f"unknown Exchange version {version!r}; one of {', '.join(_VERSIONS)}")
        if access_type not in ("impersonation", "delegate"):
            raise ValueError("access_type is 'impersonation' (app-only token) or 'delegate' (user token)")
        scheme = urlsplit(service_endpoint).scheme
        if scheme != "https":
            raise ValueError(
                "the EWS endpoint must be an https:// URL (the bearer token must not travel in clear)"
            )
        self.service_endpoint = service_endpoint
        self.page_size = page_size
        self._token_provider = token_provider
        self._ca_bundle = ca_bundle
        self._version = version
        self._access_type = access_type
        self._forget_token = forget_token
        self._sleep = sleep
        self._max_busy_retries = max_busy_retries
        self._max_back_off = max_back_off_seconds
        self._lock = threading.Lock()
        self._config: Any = None
        self._accounts: dict[str, Account] = {}

    # -- MailboxSource --------------------------------------------------------------------------------

    def mail_changes(self, mailbox: str, folder: Folder, state: str | None) -> Iterator[SyncPage]:
        """Pages of Inbox or Sent Items changes, from ``state`` (None: the whole folder)."""
        if folder is Folder.CALENDAR:
            raise ValueError("the calendar has its own sync: calendar_changes")
        sync_state = _decode_mail_state(state, folder) if state else None
        account = self._account(mailbox)
        ews_folder = self._call(mailbox, lambda: self._mail_folder(account, folder))
        while True:

            def one_page(resume_from: str | None = sync_state) -> tuple[SyncPage, str, bool]:
                return self._mail_page(account, ews_folder, folder, resume_from)

            page, sync_state, last = self._call(mailbox, one_page)
            yield page
            if last:
                return

    def calendar_changes(
        self, mailbox: str, start: datetime, end: datetime, state: str | None
    ) -> Iterator[SyncPage]:
        """Meetings (occurrences expanded) in ``[start, end)`` that are new or changed since ``state``,
        and removals of ones seen before. The last page's state remembers what was seen."""
        start, end = utc_ms(start), utc_ms(end)
        if end <= start:
            raise ValueError("the calendar window must end after it starts")
        previous = _CalendarState.decode(state) if state else _CalendarState.empty()
        account = self._account(mailbox)
        calendar = self._call(mailbox, lambda: account.calendar)
        view = self._call(mailbox, lambda: self._calendar_view(calendar, start, end))

        seen: dict[str, _Seen] = {}
        changed: list[Any] = []
        for item in view:
            change_key, started = _short_hash(item.changekey or ""), _epoch(item.start)
            before = previous.seen.get(item.id)
            if before is not None and (before.change_key, before.start) == (change_key, started):
                seen[item.id] = before
            else:
                # A series' occurrences share its change key: one changed occurrence makes them all
                # look changed. They are fetched, but only those whose content differs are reported.
                seen[item.id] = _Seen(change_key, started, "")
                changed.append(item)
        removed = [
            item_id
            for item_id, before in previous.seen.items()
            if item_id not in seen and _epoch(start) <= before.start < _epoch(end)
        ]
        masters = dict(previous.masters)
        # A page's state is the previous picture updated with what this round has reported so far: a
        # caller that resumes from it re-fetches only the rest, and still hears of the removals, which
        # come on the last page. The last page's state is the complete new picture.
        progress = dict(previous.seen)
        chunks = [changed[i : i + self.page_size] for i in range(0, len(changed), self.page_size)] or [[]]
        for index, chunk in enumerate(chunks):

            def fetch_chunk(items: list[Any] = chunk) -> dict[str, MeetingItem | None]:
                return self._meetings(account, calendar, items, masters)

            fetched = self._call(mailbox, fetch_chunk)
            changes: list[MailboxChange] = []
            for item in chunk:
                before = previous.seen.get(item.id)
                if item.id not in fetched:
                    # Gone between FindItem and GetItem.
                    seen.pop(item.id, None)
                    progress.pop(item.id, None)
                    if before is not None:
                        changes.append(RemovedItem(item_id=item.id, folder=Folder.CALENDAR))
                    continue
                meeting = fetched[item.id]
                entry = seen[item.id]._replace(content=_content_hash(meeting))
                seen[item.id] = progress[item.id] = entry
                if meeting is not None and (before is None or before.content != entry.content):
                    changes.append(meeting)
            last = index == len(chunks) - 1
            if last:
                changes.extend(RemovedItem(item_id=item_id, folder=Folder.CALENDAR) for item_id in removed)
                new_state = _CalendarState(seen, _bounded(masters)).encode()
            else:
                new_state = _CalendarState(progress, masters).encode()
            yield SyncPage(changes=changes, state=new_state, more=not last)

    # -- mail ---------------------------------------------------------------------------------------

    @staticmethod
    def _mail_folder(account: Account, folder: Folder) -> BaseFolder:
        return account.sent if folder is Folder.SENT else account.inbox

    def _mail_page(
        self, account: Account, ews_folder: BaseFolder, folder: Folder, sync_state: str | None
    ) -> tuple[SyncPage, str, bool]:
        from exchangelib.items import ID_ONLY
        from exchangelib.services import SyncFolderItems

        service = SyncFolderItems(account=account)
        raw = list(
            service.call(
                folder=ews_folder,
                shape=ID_ONLY,
                additional_fields=set(),
                sync_state=sync_state,
                ignore=None,
                max_changes_returned=self.page_size,
                sync_scope="NormalItems",
            )
        )
        # (item id, True to fetch / False for a removal), in the server's order, each id once.
        order: dict[str, bool] = {}
        for change in raw:
            if isinstance(change, Exception):
                raise change
            kind, payload = change
            if kind == SyncFolderItems.DELETE:
                order[payload.id] = False
            elif kind == SyncFolderItems.READ_FLAG_CHANGE:
                order[payload[0].id] = True
            else:
                order[payload.id] = True
        fetched = self._fetch(account, ews_folder, [i for i, fetch in order.items() if fetch], MESSAGE_FIELDS)
        changes: list[MailboxChange] = []
        for item_id, fetch in order.items():
            if not fetch:
                changes.append(RemovedItem(item_id=item_id, folder=folder))
            elif (item := fetched.get(item_id)) is not None:
                changes.append(_mail_item(item, folder))
        new_state = service.sync_state or sync_state or ""
        # exchangelib's own loop stops when the server hands back the state it was given; so do we.
        last = bool(service.includes_last_item_in_range) or new_state == sync_state
        return (
            SyncPage(changes=changes, state=_encode_mail_state(new_state, folder), more=not last),
            new_state,
            last,
        )

    def _fetch(
        self, account: Account, folder: BaseFolder, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, Any]:
        """GetItem for ``ids``; an item deleted in between is simply absent from the result."""
        from exchangelib.errors import ErrorItemNotFound

        if not ids:
            return {}
        found: dict[str, Any] = {}
        results = account.fetch(
            ids=[(item_id, None) for item_id in ids],
            folder=folder,
            only_fields=list(fields),
            chunk_size=self.page_size,
        )
        for item_id, result in zip(ids, results, strict=True):
            if isinstance(result, ErrorItemNotFound):
                continue
            if isinstance(result, Exception):
                raise result
            found[item_id] = result
        return found

    # -- calendar -------------------------------------------------------------------------------------

    @staticmethod
    def _calendar_view(calendar: BaseFolder, start: datetime, end: datetime) -> list[Any]:
        from exchangelib import EWSDateTime

        view = calendar.view(start=EWSDateTime.from_datetime(start), end=EWSDateTime.from_datetime(end)).only(
            "start", "end"
        )
        return [item for item in view if not isinstance(item, Exception)]

    def _meetings(
        self, account: Account, calendar: BaseFolder, chunk: Sequence[Any], masters: dict[str, str]
    ) -> dict[str, MeetingItem | None]:
        """The chunk's items by id: a meeting, or None for what is not one. Items that vanished before
        GetItem reached them are absent."""
        fetched = self._fetch(account, calendar, [item.id for item in chunk], MEETING_FIELDS)
        views = {item.id: item for item in chunk}
        missing = sorted(
            {
                item.uid
                for item in fetched.values()
                if item.type in ("Occurrence", "Exception") and item.uid and item.uid not in masters
            }
        )
        if missing:
            masters.update(self._series_masters(account, calendar, fetched, missing))
        return {item_id: _meeting(item, views[item_id], masters) for item_id, item in fetched.items()}

    @staticmethod
    def _series_masters(
        account: Account, calendar: BaseFolder, fetched: dict[str, Any], uids: Sequence[str]
    ) -> dict[str, str]:
        """Series master ids by UID: one GetItem with a ``RecurringMasterItemId`` per series."""
        from exchangelib.properties import RecurringMasterItemId

        by_uid = {}
        for item_id, item in fetched.items():
            if item.uid in uids and item.uid not in by_uid:
                by_uid[item.uid] = item_id
        wanted = list(by_uid.items())
        results = account.fetch(
            ids=[RecurringMasterItemId(id=occurrence_id) for _, occurrence_id in wanted],
            folder=calendar,
            only_fields=["type"],
        )
        found: dict[str, str] = {}
        for (uid, _), result in zip(wanted, results, strict=True):
            if not isinstance(result, Exception) and result.id:
                found[uid] = result.id
        return found

    # -- plumbing -------------------------------------------------------------------------------------

    def _account(self, mailbox: str) -> Account:
        if "@" not in mailbox:
            raise MailServerError(f"EWS needs a mailbox's SMTP address, not {mailbox!r}", retryable=False)
        key = mailbox.strip().lower()
        with self._lock:
            account = self._accounts.get(key)
            if account is None:
                from exchangelib import DELEGATE, IMPERSONATION, Account
                from exchangelib import UTC as EWS_UTC

                account = Account(
                    primary_smtp_address=mailbox.strip(),
                    config=self._configuration(),
                    autodiscover=False,
                    access_type=IMPERSONATION if self._access_type == "impersonation" else DELEGATE,
                    # Ask for (and read) every time in UTC; zones only matter for all-day dates.
                    default_timezone=EWS_UTC,
                )
                self._accounts[key] = account
            return account

    def _configuration(self) -> Any:
        """exchangelib's Configuration, built once (the caller holds the lock)."""
        if self._config is None:
            from exchangelib import Build, Configuration, FailFast, Version

            if self._ca_bundle:
                _trust_ca_for(self.service_endpoint, self._ca_bundle)
            version = Version(build=Build(*_VERSIONS[self._version])) if self._version else None
            self._config = Configuration(
                service_endpoint=self.service_endpoint,
                credentials=_provided_token_credentials(self._token_provider),
                version=version,
                # We handle ErrorServerBusy ourselves, so the wait is injectable and bounded.
                retry_policy=FailFast(),
            )
        return self._config

    def _call(self, mailbox: str, operation: Callable[[], T]) -> T:
        """Run one EWS exchange, waiting out ``ErrorServerBusy`` and mapping errors to ours."""
        from exchangelib.errors import (
            ErrorAccessDenied,
            ErrorImpersonateUserDenied,
            ErrorInvalidExchangeImpersonationHeaderData,
            ErrorInvalidSyncStateData,
            ErrorNonExistentMailbox,
            ErrorServerBusy,
            TransportError,
            UnauthorizedError,
        )

        busy_attempts = 0
        renewed_token = False
        while True:
            try:
                return operation()
            except ErrorInvalidSyncStateData as error:
                raise SyncStateExpired(
                    f"Exchange no longer knows the sync state of {mailbox}: {error}"
                ) from error
            except ErrorServerBusy as error:
                busy_attempts += 1
                wait = error.back_off if error.back_off is not None else min(60.0, 2.0**busy_attempts)
                if busy_attempts > self._max_busy_retries or wait > self._max_back_off:
                    raise MailServerError(
                        f"Exchange kept refusing {mailbox} as busy (asked to wait {wait:.1f} s)",
                        retryable=True,
                    ) from error
                logger.info(
                    "ews: server busy for %s; waiting %.3f s (attempt %d)", mailbox, wait, busy_attempts
                )
                self._sleep(wait)
            except UnauthorizedError as error:
                if renewed_token:
                    raise MailServerError(
                        f"Exchange refused the token for {mailbox}: the app needs full_access_as_app (or the "
                        "user EWS.AccessAsUser.All)",
                        retryable=False,
                        status=401,
                    ) from error
                # A token refused before its expiry (clock skew, revoked): try once with a fresh one.
                renewed_token = True
                self._renew_token()
            except (
                ErrorNonExistentMailbox,
                ErrorImpersonateUserDenied,
                ErrorAccessDenied,
                ErrorInvalidExchangeImpersonationHeaderData,
            ) as error:
                raise MailServerError(
                    f"Exchange refused access to {mailbox}: {type(error).__name__}: {error}", retryable=False
                ) from error
            except TransportError as error:
                raise MailServerError(
                    f"EWS failed for {mailbox}: {type(error).__name__}: {error}", retryable=True
                ) from error

    def _renew_token(self) -> None:
        if self._forget_token is not None:
            self._forget_token()  # else a token cache would hand back the token just refused
        with self._lock:
            config = self._config
        if config is not None:
            config.credentials.refresh(session=None)
            for account in list(self._accounts.values()):
                account.protocol.close()  # sessions carry the old token


# --- exchangelib glue (built lazily) ------------------------------------------------------------------


_CREDENTIALS_CLASS: Any = None
_CA_LOCK = threading.Lock()
_CA_BUNDLES: dict[str, str] = {}


def _provided_token_credentials(token_provider: TokenProvider) -> Any:
    """exchangelib OAuth2 credentials around a token we obtain ourselves.

    ``OAuth2AuthorizationCodeCredentials`` without a client id or secret means "use this access token,
    and ask ``refresh()`` for another when it expires": exchangelib then never calls a token endpoint.
    The token is asked for lazily, when exchangelib opens its first session, not at construction.
    """
    global _CREDENTIALS_CLASS
    if _CREDENTIALS_CLASS is None:
        from exchangelib import OAuth2AuthorizationCodeCredentials

        class ProvidedTokenCredentials(OAuth2AuthorizationCodeCredentials):
            _access_token: dict[str, Any] | None

            def __init__(self, provider: TokenProvider) -> None:
                self._token_provider = provider
                super().__init__()

            @property
            def access_token(self) -> dict[str, Any] | None:
                token = self._access_token
                if token is None:
                    token = self._access_token = _token_dict(self._token_provider())
                return token

            @access_token.setter
            def access_token(self, value: dict[str, Any] | None) -> None:
                self._access_token = value

            def refresh(self, session: Any) -> None:
                with self.lock:
                    self._access_token = _token_dict(self._token_provider())

            def __repr__(self) -> str:
                return f"{type(self).__name__}([access token from the provider])"

        _CREDENTIALS_CLASS = ProvidedTokenCredentials
    return _CREDENTIALS_CLASS(token_provider)


def _token_dict(token: str, now: float | None = None) -> dict[str, Any]:
    """The token as requests-oauthlib wants it. When it is a JWT, ``expires_at`` (its ``exp`` less a
    margin) makes exchangelib ask for a fresh one before sending a stale one. A token that is already
    past its ``exp`` gets no ``expires_at``: the server refuses it and ``_call`` renews it once, where
    a past ``expires_at`` would make exchangelib ask for tokens forever."""
    value: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
    try:
        import jwt

        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (ImportError, KeyError, TypeError, ValueError, jwt.PyJWTError):
        return value  # an opaque token: the server's 401 tells us when it is no longer good
    current = time.time() if now is None else now
    if expires > current:
        value["expires_at"] = min(expires, max(expires - TOKEN_EXPIRY_MARGIN_SECONDS, current + 1.0))
    return value


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _trust_ca_for(service_endpoint: str, ca_bundle: str) -> None:
    """Verify ``service_endpoint``'s origin against ``ca_bundle`` in every exchangelib session."""
    from exchangelib.protocol import BaseProtocol

    with _CA_LOCK:
        _CA_BUNDLES[_origin(service_endpoint)] = ca_bundle
        current: Any = BaseProtocol.HTTP_ADAPTER_CLS
        if getattr(current, "_matterline_pinned_ca", False):
            return

        class PinnedCaAdapter(current):
            """Uses the CA registered for the request's origin (requests >= 2.32.3 asks
            ``get_connection_with_tls_context``; older versions only ``cert_verify``)."""

            _matterline_pinned_ca = True

            def get_connection_with_tls_context(
                self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
            ) -> Any:
                return super().get_connection_with_tls_context(
                    request, _CA_BUNDLES.get(_origin(request.url), verify), proxies=proxies, cert=cert
                )

            def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
                super().cert_verify(conn, url, _CA_BUNDLES.get(_origin(url), verify), cert)

        BaseProtocol.HTTP_ADAPTER_CLS = PinnedCaAdapter


# --- Mapping EWS items to the domain ------------------------------------------------------------------


def _address(mailbox: Any) -> str | None:
    address = getattr(mailbox, "email_address", None)
    return str(address).strip().lower() if address else None


def _addresses(mailboxes: Any) -> tuple[str, ...]:
    return tuple(address for mailbox in mailboxes or () if (address := _address(mailbox)))


def _attendee_addresses(attendees: Any) -> tuple[str, ...]:
    return tuple(
        address for attendee in attendees or () if (address := _address(getattr(attendee, "mailbox", None)))
    )


def _preview(text: str | None) -> str:
    return " ".join((text or "").split())[:PREVIEW_CHARS]


def _instant(value: Any, zone_name: str | None = None) -> datetime | None:
    """An EWS date-time as UTC (milliseconds). A date (all-day items) or a naive time is read in the
    item's own zone; Windows zone names are mapped with CLDR's table (``timeutil``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return utc_ms(value.replace(tzinfo=_zone(zone_name)))
        return utc_ms(datetime.fromtimestamp(value.timestamp(), tz=UTC))
    if isinstance(value, date):
        return utc_ms(datetime(value.year, value.month, value.day, tzinfo=_zone(zone_name)))
    return None


def _zone(name: str | None) -> Any:
    try:
        return zone(name or "UTC")
    except InvalidInput:
        logger.warning("ews: unknown time zone %r, read as UTC", name)
        return UTC


def _mail_item(item: Any, folder: Folder) -> MailItem:
    headers: dict[str, str] = {}
    for header in item.headers or ():
        if header.name:
            headers.setdefault(str(header.name).strip().lower(), str(header.value or ""))
    conversation = getattr(item, "conversation_id", None)
    text = getattr(item, "text_body", None) or ""
    return MailItem(
        item_id=item.id,
        folder=folder,
        internet_message_id=getattr(item, "message_id", None) or None,
        conversation_id=getattr(conversation, "id", None) or None,
        subject=item.subject or "",
        preview=_preview(text),
        sender=_address(getattr(item, "author", None)) or _address(getattr(item, "sender", None)),
        to=_addresses(getattr(item, "to_recipients", None)),
        cc=_addresses(getattr(item, "cc_recipients", None)),
        sent_at=_instant(item.datetime_sent),
        received_at=_instant(item.datetime_received),
        is_read=bool(getattr(item, "is_read", False)),
        is_draft=bool(item.is_draft),
        categories=tuple(str(c) for c in item.categories or ()),
        headers=headers,
        body_chars=len(text),
    )


def _meeting(item: Any, view_item: Any, masters: dict[str, str]) -> MeetingItem | None:
    kind = _KINDS.get(item.type or "Single")
    if kind is None:
        return None  # a series master: its occurrences are the meetings
    zone_name = getattr(getattr(item, "_start_timezone", None), "ms_id", None)
    # The view's times are exact instants; GetItem turns an all-day item's into dates.
    start = _instant(view_item.start, zone_name) or _instant(item.start, zone_name)
    end = _instant(view_item.end, zone_name) or _instant(item.end, zone_name)
    if start is None or end is None:
        logger.warning("ews: calendar item %s has no start or end; skipped", item.id)
        return None
    attendees = _attendee_addresses(item.required_attendees) + _attendee_addresses(item.optional_attendees)
    return MeetingItem(
        item_id=item.id,
        ical_uid=str(item.uid or ""),
        start=start,
        end=end,
        subject=item.subject or "",
        series_master_id=masters.get(item.uid or "") if kind != "singleInstance" else None,
        kind=kind,
        is_all_day=bool(item.is_all_day),
        is_cancelled=bool(item.is_cancelled),
        show_as=_SHOW_AS.get(item.legacy_free_busy_status or "Busy", "busy"),
        response=_RESPONSES.get(item.my_response_type or "Unknown", "none"),
        organizer=_address(item.organizer),
        attendees=tuple(dict.fromkeys(attendees)),
        body_preview=_preview(getattr(item, "text_body", None)),
    )


# --- States ---------------------------------------------------------------------------------------------


def _encode_mail_state(sync_state: str, folder: Folder) -> str:
    return f"{MAIL_STATE_PREFIX}:{folder.value}:{sync_state}"


def _decode_mail_state(state: str, folder: Folder) -> str:
    prefix, _, rest = state.partition(":")
    state_folder, _, sync_state = rest.partition(":")
    if prefix != MAIL_STATE_PREFIX or state_folder != folder.value or not sync_state:
        # A Graph link, another folder's state, or garbage: the only safe answer is a full sync.
        raise SyncStateExpired(f"not an EWS sync state of {folder.value}")
    return sync_state


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _content_hash(meeting: MeetingItem | None) -> str:
    return _short_hash(repr(meeting)) if meeting is not None else "-"


def _epoch(moment: Any) -> int:
    instant = _instant(moment)
    return int(instant.timestamp()) if instant else 0


def _bounded(masters: dict[str, str], limit: int = 1000) -> dict[str, str]:
    """Series master ids to remember: the most recently learned ``limit`` (the view's items carry no
    UID, so which series are still in the window is not known without fetching them)."""
    return masters if len(masters) <= limit else dict(list(masters.items())[-limit:])


class _Seen(NamedTuple):
    """What the calendar sync remembers of one occurrence it saw."""

    change_key: str  # hash of the ChangeKey: unchanged means nothing to fetch
    start: int  # epoch seconds: whether a vanished occurrence was inside the window
    content: str  # hash of the meeting as reported: unchanged means nothing to report


class _CalendarState:
    """The calendar sync's memory: every occurrence seen in the window, and series master ids by UID.
    Serialized as compressed JSON, so a month of meetings stays a few kilobytes."""

    def __init__(self, seen: dict[str, _Seen], masters: dict[str, str]) -> None:
        self.seen = seen
        self.masters = masters

    @classmethod
    def empty(cls) -> _CalendarState:
        return cls({}, {})

    def encode(self) -> str:
        payload = {"s": {k: list(v) for k, v in self.seen.items()}, "m": self.masters}
        raw = zlib.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), 9)
        return f"{CALENDAR_STATE_PREFIX}:{base64.urlsafe_b64encode(raw).decode('ascii')}"

    @classmethod
    def decode(cls, state: str) -> _CalendarState:
        prefix, _, body = state.partition(":")
        if prefix != CALENDAR_STATE_PREFIX:
            raise SyncStateExpired("not an EWS calendar state")
        try:
            payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(body.encode("ascii"))))
            seen = {str(k): _Seen(str(v[0]), int(v[1]), str(v[2])) for k, v in payload["s"].items()}
            masters = {str(k): str(v) for k, v in payload.get("m", {}).items()}
        except (
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,
            zlib.error,
            binascii.Error,
        ) as error:
            raise SyncStateExpired("the EWS calendar state is damaged") from error
        return cls(seen, masters)
