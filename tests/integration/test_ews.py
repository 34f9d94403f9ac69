"""EWS: exchangelib (through ``EwsMailboxSource``) against the simulated Exchange endpoint, over HTTPS.

The simulator runs on a real TLS server with a CA made for this module; tokens come from the simulated
Entra ID through msal, as in production. Mailboxes are filled through the mailbox store's Python API.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import msal
import pytest
import requests

from chalicelib.adapters.microsoft.ews import EwsMailboxSource, _token_dict
from chalicelib.adapters.microsoft.tokens import http_session
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
from devstack.m365 import (
    EXCHANGE_RESOURCE,
    GRAPH_RESOURCE,
    AppRegistration,
    Directory,
    IdentityProvider,
    M365Server,
    Tenant,
    TlsMaterial,
    User,
    ensure_ca_and_server_cert,
)
from devstack.m365.ews import EwsEndpoint, register_ews_routes
from devstack.m365.mailbox import Attendee, Mailbox, MailboxStore, Recipient, Recurrence

TENANT_ID = "5b2a3c4d-1e2f-4a5b-8c6d-7e8f9a0b1c2d"
OTHER_TENANT_ID = "6c3b4d5e-2f3a-4b6c-9d7e-8f9a0b1c2d3e"
CAPTURE_CLIENT_ID = "3f6e1d2c-0000-4000-8000-0000000e0001"
CAPTURE_SECRET = "capture-secret"
GRAPH_ONLY_CLIENT_ID = "3f6e1d2c-0000-4000-8000-0000000e0002"
GRAPH_ONLY_SECRET = "graph-only-secret"
ALEX = User(
    oid="7a1e0c3b-1111-4c1e-9a6e-00000000e001", email="alex@fabrikam.example", display_name="Alex Wilber"
)
EWS_SCOPE = f"{EXCHANGE_RESOURCE}/.default"
TIMEOUT = 10


def fabrikam() -> Tenant:
    """A firm on on-premises Exchange: Matterline's capture app has full_access_as_app."""
    return Tenant(
        tenant_id=TENANT_ID,
        display_name="Fabrikam Law",
        domain="fabrikam.example",
        users=(ALEX,),
        apps=(
            AppRegistration(
                client_id=CAPTURE_CLIENT_ID,
                display_name="Matterline capture",
                client_secret=CAPTURE_SECRET,
                api_permissions={EXCHANGE_RESOURCE: ("full_access_as_app",)},
            ),
            AppRegistration(
                client_id=GRAPH_ONLY_CLIENT_ID,
                display_name="Graph-only app",
                client_secret=GRAPH_ONLY_SECRET,
                api_permissions={GRAPH_RESOURCE: ("Mail.Read",)},
            ),
        ),
    )


@dataclass
class Simulator:
    server: M365Server
    identity: IdentityProvider
    tls: TlsMaterial
    store: MailboxStore
    ews: EwsEndpoint
    tokens: msal.ConfidentialClientApplication

    @property
    def endpoint(self) -> str:
        return f"{self.server.base_url}/EWS/Exchange.asmx"

    def token(self) -> str:
        result = self.tokens.acquire_token_for_client(scopes=[EWS_SCOPE])
        assert "access_token" in result, result
        return str(result["access_token"])


@pytest.fixture(autouse=True)
def _honour_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's ``verify`` (psf/requests#3829).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    state_dir: Path = tmp_path_factory.mktemp("m365-ews")
    tls = ensure_ca_and_server_cert(state_dir / "tls")
    other = Tenant(tenant_id=OTHER_TENANT_ID, display_name="Other firm", domain="other.example")
    identity = IdentityProvider(Directory([fabrikam(), other]), state_dir / "identity")
    server = M365Server(identity, port=0, tls=tls)
    store = MailboxStore()
    ews = register_ews_routes(server, store)
    server.start()
    tokens = msal.ConfidentialClientApplication(
        CAPTURE_CLIENT_ID,
        client_credential=CAPTURE_SECRET,
        authority=f"{server.base_url}/{TENANT_ID}",
        # The session production uses: its CA wins over REQUESTS_CA_BUNDLE in the environment.
        http_client=http_session(tls.ca_bundle),
        instance_discovery=False,
    )
    try:
        yield Simulator(server, identity, tls, store, ews, tokens)
    finally:
        ews.read_flags.close()
        server.stop()


_numbers = itertools.count(1)


def new_mailbox(sim: Simulator, *, tenant_id: str = TENANT_ID, time_zone: str = "America/New_York") -> str:
    """A fresh mailbox for one test, so tests do not see each other's mail."""
    number = next(_numbers)
    address = f"lawyer{number}@fabrikam.example"
    sim.store.add_mailbox(
        Mailbox(
            user_id=f"00000000-0000-4000-8000-{number:012d}",
            address=address,
            display_name=f"Lawyer {number}",
            tenant_id=tenant_id,
            time_zone=time_zone,
        )
    )
    return address


class Sleeps:
    """Records the back-offs the adapter asked for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def source(
    sim: Simulator, *, page_size: int = 100, sleeps: Sleeps | None = None, **kwargs: Any
) -> EwsMailboxSource:
    return EwsMailboxSource(
        sim.endpoint,
        sim.token,
        ca_bundle=sim.tls.ca_bundle,
        page_size=page_size,
        sleep=sleeps or Sleeps(),
        **kwargs,
    )


def sync_all(pages: Iterator[SyncPage]) -> tuple[list[MailboxChange], str, int]:
    """Every change of a round, its final state, and how many pages it took."""
    changes: list[MailboxChange] = []
    state = ""
    count = 0
    for page in pages:
        changes.extend(page.changes)
        state = page.state
        count += 1
        if not page.more:
            break
    return changes, state, count


def send(sim: Simulator, mailbox: str, subject: str, **kwargs: Any) -> Any:
    return sim.store.add_message(
        mailbox,
        "sentitems",
        subject=subject,
        sender=Recipient(mailbox, "Lawyer"),
        to=kwargs.pop("to", [Recipient("client@contoso.example", "Client Person")]),
        **kwargs,
    )


def soap(
    sim: Simulator, body: str, *, token: str | None = None, impersonate: str | None = None
) -> requests.Response:
    """A raw EWS request, for what exchangelib hides."""
    header = '<t:RequestServerVersion Version="Exchange2016"/>'
    if impersonate:
        header += (
            "<t:ExchangeImpersonation><t:ConnectingSID>"
            f"<t:PrimarySmtpAddress>{impersonate}</t:PrimarySmtpAddress>"
            "</t:ConnectingSID></t:ExchangeImpersonation>"
        )
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(
        sim.endpoint, data=envelope.encode(), headers=headers, verify=sim.tls.ca_bundle, timeout=TIMEOUT
    )


# --- Mail -------------------------------------------------------------------------------------------------


def test_a_first_sync_of_sent_items_returns_every_message_with_the_fields_capture_needs(
    sim: Simulator,
) -> None:
    mailbox = new_mailbox(sim)
    sent_at = datetime(2026, 11, 20, 15, 4, 5, tzinfo=UTC)
    message = send(
        sim,
        mailbox,
        "Re: Smith v. Jones - draft settlement",
        to=[Recipient("Pat.Client@Contoso.example", "Pat Client")],
        cc=[Recipient("associate@fabrikam.example", "Associate")],
        body="Dear Pat,\n\nPlease find the draft attached.   Regards",
        sent_at=sent_at,
        received_at=sent_at,
        categories=["Matter 2026-0042"],
        headers=[("X-Matterline-Correlation", "corr-123"), ("List-Unsubscribe", "<mailto:x@y>")],
    )
    send(sim, mailbox, "Second")

    changes, state, _ = sync_all(source(sim).mail_changes(mailbox, Folder.SENT, None))

    assert [type(c) for c in changes] == [MailItem, MailItem]
    first = changes[0]
    assert isinstance(first, MailItem)
    assert first.item_id == message.item_id
    assert first.folder is Folder.SENT
    assert first.subject == "Re: Smith v. Jones - draft settlement"
    assert first.sender == mailbox
    assert first.to == ("pat.client@contoso.example",)
    assert first.cc == ("associate@fabrikam.example",)
    assert first.sent_at == sent_at
    assert first.received_at == sent_at
    assert first.internet_message_id == message.internet_message_id
    assert first.conversation_id == message.conversation_id
    assert first.categories == ("Matter 2026-0042",)
    assert first.headers == {"x-matterline-correlation": "corr-123", "list-unsubscribe": "<mailto:x@y>"}
    assert first.preview == "Dear Pat, Please find the draft attached. Regards"
    assert first.body_chars == len("Dear Pat,\n\nPlease find the draft attached.   Regards")
    assert first.is_read is False and first.is_draft is False
    assert state


def test_a_message_sent_after_a_sync_is_the_only_change_in_the_next_sync(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    send(sim, mailbox, "Before")
    reader = source(sim)
    _, state, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))

    later = send(sim, mailbox, "After")
    changes, next_state, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, state))
    nothing, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, next_state))

    assert [(c.item_id, c.subject) for c in changes if isinstance(c, MailItem)] == [(later.item_id, "After")]
    assert len(changes) == 1
    assert nothing == []


def test_marking_a_message_read_comes_back_as_a_change_that_is_read(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    message = sim.store.add_message(
        mailbox, "inbox", subject="Board minutes", sender=Recipient("chair@contoso.example", "Chair")
    )
    reader = source(sim)
    first, state, _ = sync_all(reader.mail_changes(mailbox, Folder.INBOX, None))

    sim.store.mark_read(mailbox, message.item_id)
    changes, _, _ = sync_all(reader.mail_changes(mailbox, Folder.INBOX, state))

    assert isinstance(first[0], MailItem) and first[0].is_read is False
    assert len(changes) == 1
    change = changes[0]
    assert isinstance(change, MailItem)
    assert (change.item_id, change.is_read, change.subject) == (message.item_id, True, "Board minutes")


def test_exchange_reports_a_read_flag_change_alone_as_a_read_flag_change(sim: Simulator) -> None:
    """The simulator's fidelity, seen through exchangelib's own sync: IsRead alone is a ReadFlagChange,
    any other change an Update."""
    mailbox = new_mailbox(sim)
    message = sim.store.add_message(mailbox, "inbox", subject="Memo", sender=Recipient("a@contoso.example"))
    reader = source(sim)
    account = reader._account(mailbox)
    inbox = account.inbox
    list(inbox.sync_items(only_fields=["subject"]))
    after_create = inbox.item_sync_state

    sim.store.mark_read(mailbox, message.item_id)
    read_changes = list(inbox.sync_items(sync_state=after_create, only_fields=["subject"]))
    sim.store.update_message(mailbox, message.item_id, categories=["Billing"])
    other_changes = list(inbox.sync_items(sync_state=inbox.item_sync_state, only_fields=["subject"]))

    assert [(kind, payload[0].id, payload[1]) for kind, payload in read_changes] == [
        ("read_flag_change", message.item_id, True)
    ]
    assert [(kind, item.subject) for kind, item in other_changes] == [("update", "Memo")]


def test_deleting_or_moving_a_message_away_comes_back_as_removed(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    gone = send(sim, mailbox, "Purged")
    binned = send(sim, mailbox, "Binned")
    kept = send(sim, mailbox, "Kept")
    reader = source(sim)
    _, state, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))

    sim.store.delete_message(mailbox, gone.item_id, permanent=True)
    sim.store.delete_message(mailbox, binned.item_id)  # to Deleted Items, as Outlook does
    changes, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, state))

    assert changes == [
        RemovedItem(item_id=gone.item_id, folder=Folder.SENT),
        RemovedItem(item_id=binned.item_id, folder=Folder.SENT),
    ]
    assert kept.item_id not in {c.item_id for c in changes}


def test_a_message_created_and_deleted_between_two_syncs_is_never_mentioned(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    reader = source(sim)
    _, state, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))

    fleeting = send(sim, mailbox, "Oops")
    sim.store.delete_message(mailbox, fleeting.item_id, permanent=True)
    changes, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, state))

    assert changes == []


def test_a_large_folder_comes_in_pages_that_resume_where_they_stopped(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    messages = [send(sim, mailbox, f"Letter {n}") for n in range(5)]
    reader = source(sim, page_size=2)

    pages = list(reader.mail_changes(mailbox, Folder.SENT, None))
    # A caller that stopped after the first page resumes from its state and gets the rest.
    resumed = list(reader.mail_changes(mailbox, Folder.SENT, pages[0].state))

    assert [len(p.changes) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert [c.item_id for p in pages for c in p.changes] == [m.item_id for m in messages]
    assert [c.item_id for p in resumed for c in p.changes] == [m.item_id for m in messages[2:]]


def test_a_sync_state_exchange_does_not_know_raises_sync_state_expired(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    send(sim, mailbox, "Anything")
    reader = source(sim)
    _, state, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))
    forged = state.rsplit(":", 1)[0] + ":H4sIAAAAAAAEAO29B2AcSZYlJi9tynt"

    with pytest.raises(SyncStateExpired):
        list(reader.mail_changes(mailbox, Folder.SENT, forged))
    with pytest.raises(SyncStateExpired):
        list(reader.mail_changes(mailbox, Folder.INBOX, state))  # another folder's state
    sim.store.expire_sync_states(mailbox)  # the server forgot every state of the mailbox
    with pytest.raises(SyncStateExpired):
        list(reader.mail_changes(mailbox, Folder.SENT, state))
    again, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))
    assert [c.subject for c in again if isinstance(c, MailItem)] == ["Anything"]


def test_a_throttled_request_is_retried_after_the_back_off_the_server_asked_for(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    message = send(sim, mailbox, "Patience")
    sleeps = Sleeps()
    reader = source(sim, sleeps=sleeps)
    sim.ews.throttle.busy_next(2, back_off_ms=1500)

    changes, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))

    assert sleeps.waits == [1.5, 1.5]
    assert [c.item_id for c in changes] == [message.item_id]


def test_throttling_beyond_patience_is_a_retryable_mail_server_error(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    sleeps = Sleeps()
    reader = source(sim, sleeps=sleeps, max_busy_retries=2)
    sim.ews.throttle.busy_next(3, back_off_ms=100)

    with pytest.raises(MailServerError) as raised:
        list(reader.mail_changes(mailbox, Folder.SENT, None))

    assert raised.value.retryable is True
    assert sleeps.waits == [0.1, 0.1]
    sim.ews.throttle.reset()


def test_a_mailbox_of_another_firm_cannot_be_impersonated(sim: Simulator) -> None:
    foreign = new_mailbox(sim, tenant_id=OTHER_TENANT_ID)

    with pytest.raises(MailServerError) as raised:
        list(source(sim).mail_changes(foreign, Folder.SENT, None))

    assert raised.value.retryable is False
    assert "ErrorNonExistentMailbox" in raised.value.message


def test_a_delegated_token_reads_its_own_mailbox(sim: Simulator) -> None:
    sim.store.add_mailbox(
        Mailbox(user_id=ALEX.oid, address=ALEX.email, display_name=ALEX.display_name, tenant_id=TENANT_ID)
    )
    message = send(sim, ALEX.email, "Own mail")

    def user_token() -> str:
        return sim.identity.issue_access_token(
            TENANT_ID,
            ALEX.oid,
            EXCHANGE_RESOURCE,
            client_id=CAPTURE_CLIENT_ID,
            scopes=["EWS.AccessAsUser.All"],
        )

    reader = EwsMailboxSource(sim.endpoint, user_token, ca_bundle=sim.tls.ca_bundle, access_type="delegate")
    changes, _, _ = sync_all(reader.mail_changes(ALEX.email, Folder.SENT, None))

    assert [c.item_id for c in changes] == [message.item_id]


# --- Calendar ---------------------------------------------------------------------------------------------

WINDOW_START = datetime(2026, 10, 25, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 15, tzinfo=UTC)


def weekly_series(sim: Simulator, mailbox: str, **kwargs: Any) -> Any:
    """Mondays 10:00 New York time from 26 October 2026, five times: DST ends on 1 November."""
    return sim.store.add_event(
        mailbox,
        subject=kwargs.pop("subject", "Weekly case review"),
        start=datetime(2026, 10, 26, 14, 0, tzinfo=UTC),  # 10:00 EDT
        end=datetime(2026, 10, 26, 15, 0, tzinfo=UTC),
        time_zone="America/New_York",
        organizer=Recipient("partner@fabrikam.example", "Partner"),
        attendees=[
            Attendee(mailbox, "Lawyer"),
            Attendee("client@contoso.example", "Client", type="optional"),
        ],
        body="Agenda: open matters.",
        recurrence=Recurrence(
            pattern="weekly", start_date=date(2026, 10, 26), days_of_week=("monday",), occurrences=5
        ),
        **kwargs,
    )


def meetings_of(changes: list[MailboxChange]) -> list[MeetingItem]:
    return sorted((c for c in changes if isinstance(c, MeetingItem)), key=lambda m: m.start)


def test_a_recurring_series_comes_back_as_its_occurrences_in_utc(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    series = weekly_series(sim, mailbox)

    changes, _, _ = sync_all(source(sim).calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    meetings = meetings_of(changes)

    # Same 10:00 local time every week: 14:00 UTC before the DST change, 15:00 UTC after it.
    assert [m.start for m in meetings] == [
        datetime(2026, 10, 26, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 9, 15, 0, tzinfo=UTC),
    ]
    assert all(m.end - m.start == timedelta(hours=1) for m in meetings)
    assert {m.kind for m in meetings} == {"occurrence"}
    assert {m.series_master_id for m in meetings} == {series.item_id}
    assert {m.ical_uid for m in meetings} == {series.ical_uid}
    assert len({m.item_id for m in meetings}) == 3
    first = meetings[0]
    assert first.subject == "Weekly case review"
    assert first.organizer == "partner@fabrikam.example"
    assert first.attendees == (mailbox, "client@contoso.example")
    assert first.response == "notResponded"
    assert first.body_preview == "Agenda: open matters."


def test_declined_and_cancelled_meetings_are_reported_with_their_flags(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    organizer = Recipient("opposing@counsel.example", "Opposing Counsel")
    declined = sim.store.add_event(
        mailbox,
        subject="Deposition prep",
        start=datetime(2026, 11, 3, 16, 0, tzinfo=UTC),
        end=datetime(2026, 11, 3, 17, 0, tzinfo=UTC),
        organizer=organizer,
    )
    cancelled = sim.store.add_event(
        mailbox,
        subject="Mediation",
        start=datetime(2026, 11, 4, 16, 0, tzinfo=UTC),
        end=datetime(2026, 11, 4, 18, 0, tzinfo=UTC),
        organizer=organizer,
        response="accepted",
    )
    sim.store.update_event(mailbox, declined.item_id, response="declined")
    sim.store.update_event(mailbox, cancelled.item_id, is_cancelled=True)

    changes, _, _ = sync_all(source(sim).calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    by_subject = {m.subject: m for m in meetings_of(changes)}

    assert by_subject["Deposition prep"].response == "declined"
    assert by_subject["Deposition prep"].show_as == "free"
    assert by_subject["Deposition prep"].is_cancelled is False
    assert by_subject["Deposition prep"].kind == "singleInstance"
    assert by_subject["Deposition prep"].series_master_id is None
    assert by_subject["Mediation"].is_cancelled is True
    assert by_subject["Mediation"].response == "accepted"


def test_only_new_or_changed_meetings_come_back_and_removed_ones_are_reported(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    series = weekly_series(sim, mailbox)
    lunch = sim.store.add_event(
        mailbox,
        subject="Client lunch",
        start=datetime(2026, 11, 5, 17, 0, tzinfo=UTC),
        end=datetime(2026, 11, 5, 18, 0, tzinfo=UTC),
        organizer=Recipient(mailbox, "Lawyer"),
    )
    reader = source(sim)
    first, state, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    unchanged, state, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, state))

    sim.store.update_event(
        mailbox,
        lunch.item_id,
        subject="Client lunch (moved)",
        start=lunch.start + timedelta(hours=1),
        end=lunch.end + timedelta(hours=1),
    )
    sim.store.override_occurrence(
        mailbox, series.item_id, datetime(2026, 11, 2, 15, 0, tzinfo=UTC), cancelled=True
    )
    changes, state, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, state))

    cancelled_id = next(
        m.item_id for m in meetings_of(first) if m.start == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    )
    assert len(meetings_of(first)) == 4
    assert unchanged == []
    assert [(m.subject, m.start) for m in meetings_of(changes)] == [
        ("Client lunch (moved)", datetime(2026, 11, 5, 18, 0, tzinfo=UTC))
    ]
    assert [c for c in changes if isinstance(c, RemovedItem)] == [
        RemovedItem(item_id=cancelled_id, folder=Folder.CALENDAR)
    ]

    sim.store.delete_event(mailbox, series.item_id)
    gone, _, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, state))
    assert {c.item_id for c in gone} == {m.item_id for m in meetings_of(first) if m.series_master_id} - {
        cancelled_id
    }
    assert all(isinstance(c, RemovedItem) for c in gone)


def test_an_exception_of_a_series_keeps_its_series_and_shows_its_own_time(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    series = weekly_series(sim, mailbox)
    original = datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    sim.store.override_occurrence(
        mailbox, series.item_id, original, start=original + timedelta(days=1), subject="Case review (Tuesday)"
    )

    changes, _, _ = sync_all(source(sim).calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    moved = [m for m in meetings_of(changes) if m.kind == "exception"]

    assert [(m.start, m.subject, m.series_master_id, m.ical_uid) for m in moved] == [
        (original + timedelta(days=1), "Case review (Tuesday)", series.item_id, series.ical_uid)
    ]


def test_a_calendar_round_comes_in_pages_when_many_meetings_changed(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    for day in range(5):
        sim.store.add_event(
            mailbox,
            subject=f"Hearing {day}",
            start=datetime(2026, 11, 2 + day, 14, 0, tzinfo=UTC),
            end=datetime(2026, 11, 2 + day, 15, 0, tzinfo=UTC),
            organizer=Recipient("court@courts.example", "Court"),
        )
    reader = source(sim, page_size=2)

    pages = list(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    resumed = list(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, pages[0].state))

    assert [len(p.changes) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert sorted(c.subject for p in resumed for c in p.changes if isinstance(c, MeetingItem)) == [
        "Hearing 2",
        "Hearing 3",
        "Hearing 4",
    ]


def test_a_damaged_calendar_state_raises_sync_state_expired(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)

    with pytest.raises(SyncStateExpired):
        list(source(sim).calendar_changes(mailbox, WINDOW_START, WINDOW_END, "ews-cal.1:not-base64!"))
    with pytest.raises(SyncStateExpired):
        list(source(sim).calendar_changes(mailbox, WINDOW_START, WINDOW_END, "https://graph/delta?token=1"))


# --- The endpoint itself ------------------------------------------------------------------------------------


def test_a_request_without_a_token_gets_a_bearer_challenge(sim: Simulator) -> None:
    response = soap(
        sim, "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape></m:GetFolder>"
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "x-ms-diagnostics" in response.headers


def test_a_token_for_graph_or_without_exchange_permissions_is_refused(sim: Simulator) -> None:
    graph_token = sim.identity.issue_access_token(
        TENANT_ID, None, GRAPH_RESOURCE, client_id=CAPTURE_CLIENT_ID, roles=["Mail.Read"]
    )
    no_role = sim.identity.issue_access_token(
        TENANT_ID, None, EXCHANGE_RESOURCE, client_id=GRAPH_ONLY_CLIENT_ID
    )
    body = "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape></m:GetFolder>"

    wrong_audience = soap(sim, body, token=graph_token, impersonate="lawyer1@fabrikam.example")
    no_permission = soap(sim, body, token=no_role, impersonate="lawyer1@fabrikam.example")

    assert wrong_audience.status_code == 401
    assert "audience" in wrong_audience.headers["x-ms-diagnostics"]
    assert no_permission.status_code == 401
    assert "no permissions" in no_permission.headers["x-ms-diagnostics"]


def test_an_app_token_must_name_the_mailbox_it_impersonates(sim: Simulator) -> None:
    body = (
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>'
    )

    response = soap(sim, body, token=sim.token())

    assert response.status_code == 500
    assert "ErrorInvalidExchangeImpersonationHeaderData" in response.text
    assert "<s:Fault>" in response.text


def test_find_item_refuses_bodies_and_returns_only_names_of_mailboxes(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    send(sim, mailbox, "Listed", body="secret body")
    listing = (
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
        '<t:AdditionalProperties><t:FieldURI FieldURI="message:From"/>{extra}</t:AdditionalProperties>'
        "</m:ItemShape>"
        '<m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="sentitems"/></m:ParentFolderIds></m:FindItem>'
    )

    with_body = soap(
        sim,
        listing.format(extra='<t:FieldURI FieldURI="item:Body"/>'),
        token=sim.token(),
        impersonate=mailbox,
    )
    plain = soap(sim, listing.format(extra=""), token=sim.token(), impersonate=mailbox)

    assert with_body.status_code == 200
    assert "ErrorInvalidPropertyRequest" in with_body.text
    assert 'FieldURI="item:Body"' in with_body.text
    assert plain.status_code == 200
    assert "<t:Name>Lawyer</t:Name>" in plain.text
    assert "EmailAddress" not in plain.text
    assert 'TotalItemsInView="1"' in plain.text


def test_syncing_the_calendar_folder_itself_reports_series_masters_not_occurrences(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    series = weekly_series(sim, mailbox)
    account = source(sim)._account(mailbox)

    changes = list(account.calendar.sync_items(only_fields=["subject", "type", "recurrence"]))

    assert [(kind, item.id, item.type) for kind, item in changes] == [
        ("create", series.item_id, "RecurringMaster")
    ]
    assert changes[0][1].recurrence.boundary.number == 5


def test_get_item_answers_each_id_on_its_own(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    message = send(sim, mailbox, "Known")
    body = (
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        '<t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ItemIds>'
        f'<t:ItemId Id="{message.item_id}"/><t:ItemId Id="AAMkAGI2bm90LWhlcmU="/><t:ItemId Id="not an id"/>'
        "</m:ItemIds></m:GetItem>"
    )

    response = soap(sim, body, token=sim.token(), impersonate=mailbox)

    assert response.status_code == 200
    codes = [part.split("</m:ResponseCode>")[0] for part in response.text.split("<m:ResponseCode>")[1:]]
    assert codes == ["NoError", "ErrorItemNotFound", "ErrorInvalidIdMalformed"]
    assert "<t:Subject>Known</t:Subject>" in response.text
    assert "<h:ServerVersionInfo" in response.text or "ServerVersionInfo" in response.text


def test_max_changes_returned_beyond_the_schema_limit_is_a_schema_fault(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    body = (
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        '<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>'
        "<m:MaxChangesReturned>513</m:MaxChangesReturned></m:SyncFolderItems>"
    )

    response = soap(sim, body, token=sim.token(), impersonate=mailbox)

    assert response.status_code == 500
    assert "ErrorSchemaValidation" in response.text


# --- Tokens -------------------------------------------------------------------------------------------------


def test_a_token_the_server_refuses_is_replaced_once_by_a_fresh_one(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    message = send(sim, mailbox, "Fresh token")
    refused = sim.identity.issue_access_token(
        TENANT_ID, None, GRAPH_RESOURCE, client_id=CAPTURE_CLIENT_ID, roles=["Mail.Read"]
    )
    handed_out: list[str] = []

    def provider() -> str:
        token = refused if not handed_out else sim.token()
        handed_out.append(token)
        return token

    forgotten: list[bool] = []
    reader = EwsMailboxSource(
        sim.endpoint,
        provider,
        ca_bundle=sim.tls.ca_bundle,
        forget_token=lambda: forgotten.append(True),
        sleep=Sleeps(),
    )
    changes, _, _ = sync_all(reader.mail_changes(mailbox, Folder.SENT, None))

    assert len(handed_out) == 2
    assert forgotten == [True]
    assert [c.item_id for c in changes] == [message.item_id]


def test_a_token_that_stays_refused_is_an_error_an_admin_must_fix(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)

    def graph_token() -> str:
        return sim.identity.issue_access_token(
            TENANT_ID, None, GRAPH_RESOURCE, client_id=CAPTURE_CLIENT_ID, roles=["Mail.Read"]
        )

    reader = EwsMailboxSource(sim.endpoint, graph_token, ca_bundle=sim.tls.ca_bundle, sleep=Sleeps())

    with pytest.raises(MailServerError) as raised:
        list(reader.mail_changes(mailbox, Folder.SENT, None))

    assert raised.value.retryable is False
    assert raised.value.status == 401


def test_a_token_is_renewed_a_little_before_it_expires_and_never_asked_for_in_a_loop() -> None:
    now = 1_800_000_000.0

    def jwt_expiring_at(exp: float) -> str:
        return pyjwt.encode({"exp": int(exp)}, "k" * 32, algorithm="HS256")

    fresh = _token_dict(jwt_expiring_at(now + 3600), now=now)
    nearly = _token_dict(jwt_expiring_at(now + 30), now=now)
    expired = _token_dict(jwt_expiring_at(now - 5), now=now)
    opaque = _token_dict("not-a-jwt", now=now)

    assert fresh["expires_at"] == now + 3600 - 120
    assert now < nearly["expires_at"] <= now + 30  # still sent once rather than refreshed forever
    assert "expires_at" not in expired and "expires_at" not in opaque
    assert opaque == {"access_token": "not-a-jwt", "token_type": "Bearer"}


def test_a_calendar_round_resumed_from_a_middle_page_still_reports_removals(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    court = Recipient("court@courts.example", "Court")
    doomed = sim.store.add_event(
        mailbox,
        subject="Vacated hearing",
        start=datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
        organizer=court,
    )
    reader = source(sim, page_size=2)
    _, state, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, None))
    sim.store.delete_event(mailbox, doomed.item_id)
    for day in range(3):
        sim.store.add_event(
            mailbox,
            subject=f"New hearing {day}",
            start=datetime(2026, 11, 3 + day, 14, 0, tzinfo=UTC),
            end=datetime(2026, 11, 3 + day, 15, 0, tzinfo=UTC),
            organizer=court,
        )

    first_page = next(iter(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, state)))
    rest, _, _ = sync_all(reader.calendar_changes(mailbox, WINDOW_START, WINDOW_END, first_page.state))

    assert first_page.more is True
    assert [c.subject for c in rest if isinstance(c, MeetingItem)] == ["New hearing 2"]
    assert [c for c in rest if isinstance(c, RemovedItem)] == [
        RemovedItem(item_id=doomed.item_id, folder=Folder.CALENDAR)
    ]


def test_scripts_can_make_the_server_busy_over_http(sim: Simulator) -> None:
    mailbox = new_mailbox(sim)
    body = (
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>'
    )

    scripted = requests.post(
        f"{sim.server.base_url}/_sim/ews/throttle",
        json={"requests": 1, "back_off_ms": 30000},
        verify=sim.tls.ca_bundle,
        timeout=TIMEOUT,
    )
    refused = soap(sim, body, token=sim.token(), impersonate=mailbox)
    served = soap(sim, body, token=sim.token(), impersonate=mailbox)

    assert scripted.status_code == 202
    assert refused.status_code == 500
    assert "<e:ResponseCode" in refused.text and ">ErrorServerBusy<" in refused.text
    assert '<t:Value Name="BackOffMilliseconds">30000</t:Value>' in refused.text
    assert served.status_code == 200
    assert "<t:DisplayName>Inbox</t:DisplayName>" in served.text
